//! The Advisor section (`helpdesk-bench advise`): the suggested index set
//! against the migration's own, side by side for every read query (median
//! with its interval, plan top line), each set's total size, insert cost
//! and HOT share, the targets, the SQL to apply, the sets the selection
//! could not tell from its choice, each swap the whole-set measurement
//! made, and every candidate with its costs in the index-costs table's own
//! format ([`super::costs`]).

use serde::Serialize;

use super::costs::{row as cost_row, CostRow};
use super::words::{verdict_class, verdict_word, Ratio};
use crate::format::{bytes, factor, factor_range, ms, pct, TimeUnit};
use crate::results::Results;
use crate::results::{Advice, AdviceCandidate, Alternative, CandidateKind, SetMeasure, Swap};
use crate::stats::{Interval, SIGNIFICANT};

#[derive(Debug, Serialize)]
pub struct AdvisorSection {
    pub migration: String,
    /// The noise threshold, "1.10×" ([`SIGNIFICANT`]), for the sentences
    /// that name it.
    pub threshold: String,
    pub method: String,
    pub budget: String,
    pub geomean: Option<String>,
    pub chosen: Vec<String>,
    /// What the selection chose, when swaps changed it afterwards.
    pub selected: Option<Vec<String>>,
    /// The modelled net saving of the selected set, per hour.
    pub modelled: Option<String>,
    /// Sets within noise of the selected one, each in a sentence.
    pub alternatives: Vec<String>,
    /// "3 sets": how many are within noise of the best, the selected one included.
    pub within_noise: String,
    pub swaps: Vec<SwapRow>,
    pub unresolved: Vec<String>,
    pub drop: Vec<String>,
    pub create: Vec<String>,
    pub rows: Vec<SideBySide>,
    pub sets: Vec<SetRow>,
    pub targets: Vec<(String, String, bool)>,
    pub warnings: Vec<String>,
    pub foreign_keys: Vec<(String, String)>,
    pub candidates: Vec<CandidateRow>,
    pub files: Vec<String>,
    pub wall: String,
}

#[derive(Debug, Serialize)]
pub struct SideBySide {
    pub query: String,
    pub weight: String,
    pub migration: String,
    pub migration_plan: String,
    pub suggested: String,
    pub suggested_plan: String,
    pub speedup: String,
    pub verdict: String,
    pub class: String,
}

#[derive(Debug, Serialize)]
pub struct SwapRow {
    pub query: String,
    pub change: String,
    pub reason: String,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Serialize)]
pub struct SetRow {
    pub label: String,
    pub indexes: String,
    pub size: String,
    pub inserts: String,
    pub hot: String,
}

#[derive(Debug, Serialize)]
pub struct CandidateRow {
    pub chosen: bool,
    pub kind: &'static str,
    pub sql: String,
    pub reason: String,
    pub cost: CostRow,
    pub helps: String,
    pub saved: String,
    pub write: String,
}

pub(super) fn build(r: &Results) -> Option<AdvisorSection> {
    let a = r.advice.as_ref()?;
    let build_unit = TimeUnit::for_column(a.candidates.iter().map(|c| c.cost.build_ms));
    Some(AdvisorSection {
        migration: r.migration.name.clone(),
        threshold: factor(SIGNIFICANT),
        method: a.method.clone(),
        budget: format!("{} ({})", bytes(a.budget_bytes as f64), a.budget_source),
        geomean: a
            .geomean_speedup
            .map(|g| factor_range(g.point, g.low, g.high)),
        chosen: a.chosen.clone(),
        selected: (!a.selected.is_empty() && a.selected != a.chosen).then(|| a.selected.clone()),
        modelled: a
            .modelled_ms_per_hour
            .map(|m| format!("{}/h [{}–{}]", ms(m.point), ms(m.low), ms(m.high))),
        alternatives: a.alternatives.iter().map(alternative).collect(),
        within_noise: match a.sets_within_noise {
            1 => "1 set".into(),
            n => format!("{n} sets"),
        },
        swaps: a.swaps.iter().map(swap_row).collect(),
        unresolved: a.unresolved.clone(),
        drop: a.drop.clone(),
        create: a.create.clone(),
        rows: side_by_side(a),
        sets: vec![set_row(&a.migration_set), set_row(&a.suggested_set)],
        targets: a
            .targets
            .iter()
            .map(|t| (t.what.clone(), t.measured.clone(), t.met))
            .collect(),
        warnings: a.warnings.clone(),
        foreign_keys: a
            .foreign_keys
            .iter()
            .map(|f| {
                (
                    format!("{} ({}.{})", f.name, f.table, f.columns.join(", ")),
                    f.served_by.join(", "),
                )
            })
            .collect(),
        candidates: a
            .candidates
            .iter()
            .map(|c| candidate_row(c, build_unit))
            .collect(),
        files: a.files.clone(),
        wall: format!("{:.0} s", a.wall_s),
    })
}

fn with_ci(i: &Interval) -> String {
    format!("{} [{}–{}]", ms(i.point), ms(i.low), ms(i.high))
}

fn side_by_side(a: &Advice) -> Vec<SideBySide> {
    a.rows
        .iter()
        .map(|r| {
            let word = verdict_word(&r.speedup, "faster", "slower");
            SideBySide {
                query: r.query.clone(),
                weight: format!("{:.0}/h", r.weight),
                migration: with_ci(&r.migration),
                migration_plan: r.migration_plan.clone(),
                suggested: with_ci(&r.suggested),
                suggested_plan: r.suggested_plan.clone(),
                speedup: factor_range(r.speedup.point, r.speedup.low, r.speedup.high),
                verdict: word.to_string(),
                class: verdict_class(word),
            }
        })
        .collect()
}

fn alternative(a: &Alternative) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "nothing".to_string()
        } else {
            v.join(", ")
        }
    };
    let d = a.difference_ms_per_hour;
    let signed = |x: f64| {
        if x < 0.0 {
            format!("−{}", ms(-x))
        } else {
            format!("+{}", ms(x))
        }
    };
    format!(
        "with {} instead of {}: {}/h [{}, {}] against the selected set, {}",
        list(&a.adds),
        list(&a.lacks),
        signed(d.point),
        signed(d.low),
        signed(d.high),
        bytes(a.size_bytes as f64)
    )
}

fn swap_row(s: &Swap) -> SwapRow {
    let mut change = Vec::new();
    if !s.added.is_empty() {
        change.push(format!("put back {}", s.added.join(", ")));
    }
    if !s.removed.is_empty() {
        change.push(format!("took out {}", s.removed.join(", ")));
    }
    let slower = |i: &Interval| {
        let word = verdict_word(i, "faster", "slower");
        format!("{} {word}", factor_range(i.point, i.low, i.high))
    };
    SwapRow {
        query: s.query.clone(),
        change: change.join("; "),
        reason: s.reason.clone(),
        before: slower(&s.before),
        after: s
            .after
            .as_ref()
            .map_or_else(|| "not measured".to_string(), slower),
    }
}

fn set_row(s: &SetMeasure) -> SetRow {
    let inserts = match s.insert_ratio {
        Some(i) => Ratio {
            point: i.point,
            ci: Some(i),
        }
        .text("slower", "faster"),
        None => "not measured".into(),
    };
    let hot = match &s.hot {
        Some(h) => {
            let share = |ci: &Option<Interval>, p: f64| match ci {
                Some(i) => format!("{} [{}–{}]", pct(i.point), pct(i.low), pct(i.high)),
                None => pct(p),
            };
            format!(
                "{} with the set, {} with none ({} updates per state)",
                share(&h.with_all_ci, h.with_all),
                share(&h.without_all_ci, h.without_all),
                h.updates
            )
        }
        None => "not measured".into(),
    };
    SetRow {
        label: s.label.clone(),
        indexes: s.indexes.join(", "),
        size: bytes(s.size_bytes as f64),
        inserts: format!("{inserts} (insert time with the set / with none of it)"),
        hot,
    }
}

fn candidate_row(c: &AdviceCandidate, unit: TimeUnit) -> CandidateRow {
    let helps: Vec<String> = c
        .effects
        .iter()
        .filter_map(|e| {
            let s = e.speedup?;
            let pairs = match e.pairs {
                0 => String::new(),
                n => format!(" ({n} pairs)"),
            };
            Some(format!(
                "{} {}, {}{pairs}",
                e.query,
                factor_range(s.point, s.low, s.high),
                verdict_word(&s, "faster", "slower")
            ))
        })
        .collect();
    CandidateRow {
        chosen: c.chosen,
        kind: match c.kind {
            CandidateKind::Migration => "migration's",
            CandidateKind::Btree => "b-tree",
            CandidateKind::Partial => "partial",
            CandidateKind::Covering => "covering",
        },
        sql: c.sql.clone(),
        reason: c.reason.clone(),
        cost: cost_row(&c.cost, unit),
        helps: if helps.is_empty() {
            "no plan uses it at a lower estimated cost".into()
        } else {
            helps.join("; ")
        },
        saved: format!("{}/h", ms(c.saved_ms_per_hour)),
        write: format!("{}/h", ms(c.write_ms_per_hour)),
    }
}
