//! The selected set measured whole against the migration's own, and put
//! right: both sets' write costs, then every read timed paired
//! ([`super::paired`]); when a read is slower than with the migration's set
//! past the noise threshold, the index responsible is swapped
//! ([`super::swap`]) and the swapped set measured whole again, at most
//! [`MAX_SWAPS`] times. The migration's side is timed again every time, so
//! each comparison is paired at its own moment.

use std::collections::BTreeSet;

use super::candidates::Candidate;
use super::paired::{self, Pair};
use super::sets::{self, Built, HotSamples, Updates};
use super::swap::{self, Check, Limits, Proposal};
use super::Lab;
use crate::error::Result;
use crate::format::bytes;
use crate::results::{ForeignKey, SetMeasure, Swap};
use crate::schema::IndexDef;
use crate::stats::Interval;

/// At most this many swaps, each followed by a whole-set measurement.
pub const MAX_SWAPS: usize = 3;

/// What the whole-set measurement ends with.
pub(crate) struct Whole {
    pub own: SetMeasure,
    pub sug: SetMeasure,
    /// Per read: `a` the suggested set, `b` the migration's (each set's
    /// `queries` hold its side's rows).
    pub pairs: Vec<Pair>,
    /// The suggested set after the swaps.
    pub set: Vec<IndexDef>,
    pub swaps: Vec<Swap>,
    pub unresolved: Vec<String>,
}

impl Whole {
    /// The geometric mean over reads of the paired speed-ups (the
    /// migration's set's median over the suggested set's), with its
    /// interval; `None` without reads.
    pub fn geomean(&self) -> Option<Interval> {
        let reads: Vec<(&[f64], &[f64], usize)> = self
            .pairs
            .iter()
            .map(|p| (p.b.samples.as_slice(), p.a.samples.as_slice(), p.per_round))
            .collect();
        (!reads.is_empty()).then(|| paired::paired_geomean(&reads))
    }
}

/// The sets to compare and what a swap may draw on.
pub(crate) struct Inputs<'a> {
    pub migration_name: &'a str,
    pub own: &'a [IndexDef],
    pub selected: Vec<IndexDef>,
    pub cands: &'a [Candidate],
    /// Each candidate's size as built alone, by name.
    pub size_of: &'a dyn Fn(&str) -> u64,
    /// The foreign keys no index of the base schema serves.
    pub reqs: &'a [&'a ForeignKey],
    pub budget: u64,
}

/// Measures the selected set whole against the migration's, swapping the
/// index responsible for a read slower past the threshold until none is.
/// Leaves the baseline (no index of either set built).
pub(crate) async fn measure(
    lab: &Lab<'_>,
    x: Inputs<'_>,
    upd: &mut Updates,
    none: &HotSamples,
    note: &dyn Fn(String),
) -> Result<Whole> {
    let own_label = format!("{}'s indexes", x.migration_name);
    let mut built = Built::default();
    let mut own = sets::costs(lab, &mut built, &own_label, x.own, upd, none).await?;
    let mut set = x.selected.clone();
    let mut sug = sets::costs(lab, &mut built, "suggested", &set, upd, none).await?;
    let mut pairs = sets::time_whole(
        lab,
        &mut built,
        ("the suggested set", &set),
        (&own_label, x.own),
    )
    .await?;
    let (mut added, mut removed) = (BTreeSet::new(), BTreeSet::new());
    let own_names = names(x.own);
    let mut swaps: Vec<Swap> = Vec::new();
    let mut unresolved;
    loop {
        let set_names = names(&set);
        let protected = protected(x.reqs, &set, x.cands);
        let checks = checks(&pairs);
        let limits = Limits {
            migration_name: x.migration_name,
            migration: &own_names,
            set: &set_names,
            protected: &protected,
            added: &added,
            removed: &removed,
        };
        let d = swap::decide(&checks, &limits);
        unresolved = d.unresolved;
        let Some(p) = d.swap else { break };
        if swaps.len() == MAX_SWAPS {
            unresolved.push(format!(
                "{} is still slower past the threshold after {MAX_SWAPS} swaps; no more were tried",
                p.query
            ));
            break;
        }
        let before = checks
            .iter()
            .find(|c| c.query == p.query)
            .expect("the swap's read is measured");
        let mut swap = record(before, &p);
        apply(&mut set, &p, x.own);
        swap.reason.push_str(&caveats(&set, &p.added, &x));
        note(format!("swap: {}", swap.reason));
        added.extend(p.added);
        removed.extend(p.removed);
        sug = sets::costs(lab, &mut built, "suggested", &set, upd, none).await?;
        pairs = sets::time_whole(
            lab,
            &mut built,
            ("the suggested set", &set),
            (&own_label, x.own),
        )
        .await?;
        swap.after = pairs
            .iter()
            .find(|q| q.a.row.query == swap.query)
            .map(|q| q.speedup);
        swaps.push(swap);
    }
    built.enter(&lab.client, &[]).await?;
    own.queries = pairs.iter().map(|p| p.b.row.clone()).collect();
    sug.queries = pairs.iter().map(|p| p.a.row.clone()).collect();
    Ok(Whole {
        own,
        sug,
        pairs,
        set,
        swaps,
        unresolved,
    })
}

/// The swap as the advice records it, before the set is measured again.
fn record(before: &Check<'_>, p: &Proposal) -> Swap {
    Swap {
        query: p.query.clone(),
        before: before.speedup,
        migration_used: before.migration_used.to_vec(),
        suggested_used: before.suggested_used.to_vec(),
        added: p.added.clone(),
        removed: p.removed.clone(),
        reason: p.reason.clone(),
        after: None,
    }
}

/// Takes the swap's removed indexes out of `set` and puts its added ones,
/// all the migration's own, in.
fn apply(set: &mut Vec<IndexDef>, p: &Proposal, own: &[IndexDef]) {
    set.retain(|d| !p.removed.contains(&d.name));
    set.extend(own.iter().filter(|d| p.added.contains(&d.name)).cloned());
}

fn names(defs: &[IndexDef]) -> Vec<String> {
    defs.iter().map(|d| d.name.clone()).collect()
}

/// Each read with both sets, as the swap logic reads it.
fn checks(pairs: &[Pair]) -> Vec<Check<'_>> {
    pairs
        .iter()
        .map(|p| Check {
            query: &p.a.row.query,
            weight: p.a.row.weight,
            migration_ms: p.b.row.median.point,
            suggested_ms: p.a.row.median.point,
            speedup: p.speedup,
            migration_used: &p.b.row.indexes_used,
            suggested_used: &p.a.row.indexes_used,
        })
        .collect()
}

/// The indexes of `set` that are the only one leading with some foreign
/// key's columns.
fn protected(reqs: &[&ForeignKey], set: &[IndexDef], cands: &[Candidate]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in reqs {
        let leading: Vec<&IndexDef> = set
            .iter()
            .filter(|d| {
                cands.iter().any(|c| {
                    c.def.name == d.name && c.def.table == f.table && c.leads_with(&f.columns)
                })
            })
            .collect();
        if let [only] = leading[..] {
            out.insert(only.name.clone());
        }
    }
    out
}

/// What a swap's reason adds: a put-back index beside one whose keys
/// start with its own (the selection's rule, overruled by a measurement),
/// and a set now past the size budget.
fn caveats(set: &[IndexDef], added: &[String], x: &Inputs<'_>) -> String {
    let cand = |name: &str| x.cands.iter().find(|c| c.def.name == name);
    let mut out = String::new();
    for a in added {
        let Some(ca) = cand(a) else { continue };
        let beside: Vec<&str> = set
            .iter()
            .filter(|d| &d.name != a)
            .filter_map(|d| cand(&d.name))
            .filter(|o| {
                o.def.table == ca.def.table
                    && o.def.predicate == ca.def.predicate
                    && (o.keys.starts_with(&ca.keys) || ca.keys.starts_with(&o.keys))
            })
            .map(|o| o.def.name.as_str())
            .collect();
        if !beside.is_empty() {
            out.push_str(&format!(
                " ({a} now sits beside {}, whose keys share its leading columns: the selection's rule against that gives way to the measurement)",
                beside.join(", ")
            ));
        }
    }
    let size: u64 = set.iter().map(|d| (x.size_of)(&d.name)).sum();
    if size > x.budget {
        out.push_str(&format!(
            "; the set is now {} against the {} budget",
            bytes(size as f64),
            bytes(x.budget as f64)
        ));
    }
    out
}
