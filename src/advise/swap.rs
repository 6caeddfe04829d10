//! Which index to swap when the suggested set, measured whole against the
//! migration's own, leaves a read slower past the noise threshold
//! ([`crate::stats::SIGNIFICANT`]). The selection models each index alone;
//! measured together, the planner may take another path than the model
//! assumed. The read's plans under both sets say which index is
//! responsible:
//!
//! - the migration's set used an index for it that the suggestion dropped:
//!   put it back (and take out what the read's plan used instead, when no
//!   other read's plan uses that);
//! - the suggested set holds everything the migration's plan used, but the
//!   planner took one of the suggestion's own indexes instead: that index
//!   misleads it, take it out;
//! - both plans use the same indexes: no index is responsible (the
//!   slowdown is not in the plan), and the read is reported, not swapped.
//!
//! The slowest read by time lost per hour goes first; one swap at a time,
//! then the set is measured whole again. An index a swap put in is never
//! taken out by a later one, nor one taken out put back, and the only
//! index leading with a foreign key's columns is never taken out, so the
//! swaps end.

use std::collections::BTreeSet;

use crate::format::factor;
use crate::stats::{Interval, Verdict};

/// One read as measured with both sets.
#[derive(Debug, Clone)]
pub struct Check<'a> {
    pub query: &'a str,
    /// Executions per hour.
    pub weight: f64,
    pub migration_ms: f64,
    pub suggested_ms: f64,
    /// The migration's set's median over the suggested set's, paired.
    pub speedup: Interval,
    /// The indexes each set's plan of the read used.
    pub migration_used: &'a [String],
    pub suggested_used: &'a [String],
}

/// What may be swapped.
#[derive(Debug, Clone)]
pub struct Limits<'a> {
    /// The migration's name, for the reasons.
    pub migration_name: &'a str,
    /// The migration's own set, and the suggested set as it is now.
    pub migration: &'a [String],
    pub set: &'a [String],
    /// Indexes of the set that are the only one leading with a foreign
    /// key's columns.
    pub protected: &'a BTreeSet<String>,
    /// Put in, and taken out, by earlier swaps.
    pub added: &'a BTreeSet<String>,
    pub removed: &'a BTreeSet<String>,
}

/// One swap to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub query: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub reason: String,
}

/// The swap to make next, if any, and the slower reads no swap can fix.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub swap: Option<Proposal>,
    pub unresolved: Vec<String>,
}

/// True when the suggested set is slower for this read past the threshold.
pub fn slower(c: &Check<'_>) -> bool {
    c.speedup.verdict() == Verdict::Lower
}

/// The next swap for the slower reads of `reads`, worst first.
pub fn decide(reads: &[Check<'_>], l: &Limits<'_>) -> Decision {
    let mut slow: Vec<&Check> = reads.iter().filter(|c| slower(c)).collect();
    let lost = |c: &Check| c.weight * (c.suggested_ms - c.migration_ms);
    slow.sort_by(|a, b| lost(b).total_cmp(&lost(a)).then(a.query.cmp(b.query)));
    let mut d = Decision::default();
    for c in slow {
        match propose(c, reads, l) {
            Ok(p) => {
                d.swap = Some(p);
                break;
            }
            Err(why) => d.unresolved.push(why),
        }
    }
    d
}

/// The swap that fixes `c`, or why there is none.
fn propose(c: &Check<'_>, reads: &[Check<'_>], l: &Limits<'_>) -> Result<Proposal, String> {
    let slower_by = format!(
        "{} was {} slower with the suggested set than with {}'s",
        c.query,
        factor(1.0 / c.speedup.point.max(1e-12)),
        l.migration_name
    );
    let r = Responsible::of(c, l);
    let free = |x: &&String| !l.protected.contains(*x) && !l.added.contains(*x);
    let back: Vec<String> = r
        .missing
        .iter()
        .filter(|x| !l.removed.contains(*x))
        .cloned()
        .collect();
    if !back.is_empty() {
        let out: Vec<String> = r
            .instead
            .iter()
            .filter(free)
            .filter(|x| used_elsewhere(c, reads, x).is_empty())
            .cloned()
            .collect();
        return Ok(put_back(c, l, &slower_by, back, out));
    }
    let out: Vec<String> = r.instead.iter().filter(free).cloned().collect();
    if r.missing.is_empty() && !out.is_empty() {
        return Ok(take_out(c, reads, &slower_by, out));
    }
    Err(why_none(c, &r, &slower_by))
}

/// The indexes that can be responsible for a slower read.
struct Responsible {
    /// The migration's own indexes its plan used that the set lacks.
    missing: Vec<String>,
    /// The set's indexes the read's plan took instead.
    instead: Vec<String>,
}

impl Responsible {
    fn of(c: &Check<'_>, l: &Limits<'_>) -> Responsible {
        let in_set = |x: &String| l.set.contains(x);
        Responsible {
            missing: c
                .migration_used
                .iter()
                .filter(|x| l.migration.contains(x) && !in_set(x))
                .cloned()
                .collect(),
            instead: c
                .suggested_used
                .iter()
                .filter(|x| in_set(x) && !c.migration_used.contains(x))
                .cloned()
                .collect(),
        }
    }
}

/// The other reads whose plan with the set uses `x`.
fn used_elsewhere<'a>(c: &Check<'_>, reads: &'a [Check<'_>], x: &String) -> Vec<&'a str> {
    reads
        .iter()
        .filter(|o| o.query != c.query && o.suggested_used.contains(x))
        .map(|o| o.query)
        .collect()
}

/// Puts back the migration's indexes in `back`, and takes out `out`.
fn put_back(
    c: &Check<'_>,
    l: &Limits<'_>,
    slower_by: &str,
    back: Vec<String>,
    out: Vec<String>,
) -> Proposal {
    let mut reason = format!(
        "{slower_by}: {}'s plan used {}, which the suggestion had dropped; put back",
        l.migration_name,
        back.join(", ")
    );
    if !out.is_empty() {
        reason.push_str(&format!(
            "; {}, which the read's plan took instead and no other read's plan uses, taken out",
            out.join(", ")
        ));
    }
    Proposal {
        query: c.query.to_string(),
        added: back,
        removed: out,
        reason,
    }
}

/// Takes out the set's indexes in `out`, which the planner took over what
/// the migration's plan used (which the set also has).
fn take_out(c: &Check<'_>, reads: &[Check<'_>], slower_by: &str, out: Vec<String>) -> Proposal {
    let took = if c.migration_used.is_empty() {
        "a plan without an index".to_string()
    } else {
        c.migration_used.join(", ")
    };
    let mut reason = format!(
        "{slower_by}: the planner took {} for it over {took}, which the set also has; taken out",
        out.join(", ")
    );
    let others: BTreeSet<&str> = out
        .iter()
        .flat_map(|x| used_elsewhere(c, reads, x))
        .collect();
    if !others.is_empty() {
        reason.push_str(&format!(
            " (also used by {}: measured again)",
            others.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    Proposal {
        query: c.query.to_string(),
        added: Vec::new(),
        removed: out,
        reason,
    }
}

/// Why no swap fixes a slower read.
fn why_none(c: &Check<'_>, r: &Responsible, slower_by: &str) -> String {
    if r.missing.is_empty() && r.instead.is_empty() {
        let used = if c.suggested_used.is_empty() {
            "none".to_string()
        } else {
            c.suggested_used.join(", ")
        };
        return format!(
            "{slower_by}, with the same indexes in both plans ({used}): no index is responsible, so none was swapped"
        );
    }
    let named: Vec<String> = r.missing.iter().chain(&r.instead).cloned().collect();
    format!(
        "{slower_by}; the index responsible ({}) was already swapped, or is the only one leading with a foreign key's columns, so it stays",
        named.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn check<'a>(
        query: &'a str,
        ratio: (f64, f64, f64),
        mig: &'a [String],
        sug: &'a [String],
    ) -> Check<'a> {
        Check {
            query,
            weight: 120.0,
            migration_ms: 1.0,
            suggested_ms: 1.0 / ratio.0,
            speedup: Interval {
                point: ratio.0,
                low: ratio.1,
                high: ratio.2,
            },
            migration_used: mig,
            suggested_used: sug,
        }
    }

    struct Fixture {
        migration: Vec<String>,
        set: Vec<String>,
        none: BTreeSet<String>,
    }

    impl Fixture {
        fn new(set: &[&str]) -> Fixture {
            Fixture {
                migration: names(&[
                    "Conversation_status_idx",
                    "Conversation_status_assignedTo_idx",
                    "Conversation_customerEmail_idx",
                ]),
                set: names(set),
                none: BTreeSet::new(),
            }
        }

        fn limits(&self) -> Limits<'_> {
            Limits {
                migration_name: "012",
                migration: &self.migration,
                set: &self.set,
                protected: &self.none,
                added: &self.none,
                removed: &self.none,
            }
        }
    }

    #[test]
    fn the_dropped_index_the_migration_used_is_put_back() {
        // The status_dashboard case: 4.71× faster with the candidate alone,
        // 0.85× against 012's set, which counts with Conversation_status_idx.
        let f = Fixture::new(&[
            "Conversation_status_createdAt_idx",
            "Conversation_customerEmail_idx",
        ]);
        let (mig, sug) = (
            names(&["Conversation_status_idx"]),
            names(&["Conversation_status_createdAt_idx"]),
        );
        let (hq_m, hq_s) = (names(&[]), names(&["Conversation_status_createdAt_idx"]));
        let reads = [
            check("status_dashboard", (0.85, 0.83, 0.87), &mig, &sug),
            check("human_queue", (20.0, 18.0, 22.0), &hq_m, &hq_s),
        ];
        let d = decide(&reads, &f.limits());
        let p = d.swap.expect("a swap");
        assert_eq!(p.query, "status_dashboard");
        assert_eq!(p.added, ["Conversation_status_idx"]);
        assert!(
            p.removed.is_empty(),
            "human_queue still uses the one it took instead: {p:?}"
        );
        assert!(
            p.reason.contains("1.18× slower") && p.reason.contains("put back"),
            "{}",
            p.reason
        );
        assert!(d.unresolved.is_empty());
    }

    #[test]
    fn what_only_the_slower_read_used_instead_goes_out_with_the_swap() {
        let f = Fixture::new(&[
            "Conversation_status_createdAt_idx",
            "Conversation_customerEmail_idx",
        ]);
        let (mig, sug) = (
            names(&["Conversation_status_idx"]),
            names(&["Conversation_status_createdAt_idx"]),
        );
        let reads = [check("status_dashboard", (0.5, 0.45, 0.55), &mig, &sug)];
        let p = decide(&reads, &f.limits()).swap.unwrap();
        assert_eq!(p.added, ["Conversation_status_idx"]);
        assert_eq!(p.removed, ["Conversation_status_createdAt_idx"]);
    }

    #[test]
    fn an_index_that_misleads_the_planner_is_taken_out() {
        // The set holds what 012's plan used, but the planner took the
        // suggestion's own index: a bitmap AND that is slower.
        let f = Fixture::new(&[
            "Conversation_status_assignedTo_idx",
            "Conversation_assignedTo_createdAt_idx",
            "Conversation_customerEmail_idx",
        ]);
        let mig = names(&["Conversation_status_assignedTo_idx"]);
        let sug = names(&[
            "Conversation_assignedTo_createdAt_idx",
            "Conversation_status_assignedTo_idx",
        ]);
        let reads = [check("agent_open_queue", (0.44, 0.38, 0.48), &mig, &sug)];
        let p = decide(&reads, &f.limits()).swap.unwrap();
        assert!(p.added.is_empty());
        assert_eq!(p.removed, ["Conversation_assignedTo_createdAt_idx"]);
        assert!(p.reason.contains("misleads") || p.reason.contains("took"));
    }

    #[test]
    fn within_noise_or_faster_is_left_alone() {
        let f = Fixture::new(&["Conversation_customerEmail_idx"]);
        let (mig, sug) = (names(&["Conversation_status_idx"]), names(&[]));
        // 0.95× [0.88×–1.02×]: its interval reaches inside 1.10×.
        let reads = [
            check("status_dashboard", (0.95, 0.88, 1.02), &mig, &sug),
            check("human_queue", (0.89, 0.85, 0.92), &mig, &sug),
        ];
        let d = decide(&reads[..1], &f.limits());
        assert_eq!(d, Decision::default());
        // 0.89× [0.85×–0.92×]: its high end is above 1 / 1.10 = 0.909, so
        // it is within noise too.
        assert_eq!(decide(&reads[1..], &f.limits()), Decision::default());
    }

    #[test]
    fn the_same_plan_on_both_sides_is_reported_not_swapped() {
        let f = Fixture::new(&["Conversation_customerEmail_idx"]);
        let both = names(&["Conversation_customerEmail_idx"]);
        let reads = [check(
            "customer_lookup_miss",
            (0.77, 0.73, 0.85),
            &both,
            &both,
        )];
        let d = decide(&reads, &f.limits());
        assert!(d.swap.is_none());
        assert_eq!(d.unresolved.len(), 1);
        assert!(
            d.unresolved[0].contains("same indexes in both plans"),
            "{}",
            d.unresolved[0]
        );
    }

    #[test]
    fn the_worst_loss_per_hour_goes_first_and_earlier_swaps_stay() {
        let f = Fixture::new(&[
            "Conversation_status_createdAt_idx",
            "Conversation_assignedTo_createdAt_idx",
        ]);
        let (m1, s1) = (
            names(&["Conversation_status_idx"]),
            names(&["Conversation_status_createdAt_idx"]),
        );
        let (m2, s2) = (
            names(&["Conversation_customerEmail_idx"]),
            names(&["Conversation_assignedTo_createdAt_idx"]),
        );
        let mut a = check("status_dashboard", (0.5, 0.45, 0.55), &m1, &s1);
        a.weight = 120.0;
        let mut b = check("customer_lookup_hit", (0.8, 0.75, 0.85), &m2, &s2);
        b.weight = 3000.0;
        let reads = [a, b];
        // 120/h × 1 ms lost against 3000/h × 0.25 ms.
        let p = decide(&reads, &f.limits()).swap.unwrap();
        assert_eq!(p.query, "customer_lookup_hit");
        // Once Conversation_customerEmail_idx was taken out by a swap, it is
        // not put back: the next slower read goes instead.
        let removed: BTreeSet<String> = names(&["Conversation_customerEmail_idx"])
            .into_iter()
            .collect();
        let mut l = f.limits();
        l.removed = &removed;
        let d = decide(&reads, &l);
        assert_eq!(d.swap.unwrap().query, "status_dashboard");
        assert_eq!(d.unresolved.len(), 1);
        assert!(
            d.unresolved[0].starts_with("customer_lookup_hit")
                && d.unresolved[0].contains("already swapped"),
            "{:?}",
            d.unresolved
        );
    }

    #[test]
    fn a_foreign_keys_only_index_is_never_taken_out() {
        let f = Fixture::new(&["Message_conversationId_createdAt_idx"]);
        let protected: BTreeSet<String> = names(&["Message_conversationId_createdAt_idx"])
            .into_iter()
            .collect();
        let mut l = f.limits();
        l.protected = &protected;
        let (mig, sug) = (names(&[]), names(&["Message_conversationId_createdAt_idx"]));
        let reads = [check("transcript", (0.5, 0.45, 0.55), &mig, &sug)];
        let d = decide(&reads, &l);
        assert!(d.swap.is_none());
        assert!(
            d.unresolved[0].contains("foreign key"),
            "{:?}",
            d.unresolved
        );
    }
}
