//! One recommendation per index of the migration: keep, drop, replace with
//! the wider index that covers it, or keep for a foreign key. The rules,
//! stated on the page in this order, the first that applies deciding:
//!
//! 1. the only index leading with a foreign key's column is kept, with what
//!    a delete of a referenced row costs without it;
//! 2. an index whose key columns lead a wider index of the migration (same
//!    predicate, its INCLUDE columns stored there too, not unique) is
//!    replaced by that wider index;
//! 3. an index no catalogue plan uses at the measured scale is dropped;
//! 4. an index whose removal slows no query past noise (the 95% interval of
//!    the slowdown's near bound not past 1.10) is dropped;
//! 5. otherwise it is kept, for the query it speeds up most.

use crate::results::{Action, ForeignKey, Recommendation, Results};
use crate::schema::{IndexDef, IndexState, Migration};
use crate::stats::{Interval, Verdict, SIGNIFICANT};

/// The rules, as the page states them.
pub const RULES: [&str; 5] = [
    "the only index leading with a foreign key's columns is kept: without it every delete or key change of a referenced row scans the referencing table",
    "an index whose key columns lead a wider index of the migration (same predicate, INCLUDE columns stored there too, not unique) is replaced by the wider one",
    "an index no catalogue plan uses at the measured scale is dropped",
    "an index whose removal slows no catalogue query past noise (95% interval not past 1.10×) is dropped",
    "any other index is kept, for the query it speeds up most",
];

/// The recommendation for each index the migration creates. `baseline` is
/// the run this one was compared with, when there is one: in a run of one
/// state (a database measured as found after the migration) its plans say
/// what each query did before.
pub fn recommendations(
    r: &Results,
    m: &Migration,
    baseline: Option<&Results>,
) -> Vec<Recommendation> {
    if indexes_absent(r) {
        return Vec::new();
    }
    m.indexes()
        .iter()
        .map(|ix| recommend(r, m, ix, baseline))
        .collect()
}

/// A run of the database as found where the migration's indexes are not
/// (its state before the migration): no plan could use them, so no line
/// may say "drop" or "keep" for them.
fn indexes_absent(r: &Results) -> bool {
    use crate::schema::FoundState;
    r.states == [IndexState::AsFound]
        && r.database.as_ref().is_some_and(|d| {
            matches!(
                d.state,
                FoundState::Base | FoundState::MigratedWithoutIndexes
            )
        })
}

/// The state whose plans have the migration's indexes: `With` when the run
/// switched states, else the one state measured (the database as found).
fn with_state(r: &Results) -> IndexState {
    match r.states.contains(&IndexState::With) {
        true => IndexState::With,
        false => r.states.first().cloned().unwrap_or(IndexState::With),
    }
}

fn recommend(
    r: &Results,
    m: &Migration,
    ix: &IndexDef,
    baseline: Option<&Results>,
) -> Recommendation {
    let line = |action, replace_with, evidence: String, rule: usize| Recommendation {
        index: ix.name.clone(),
        action,
        replace_with,
        evidence,
        rule: RULES[rule].to_string(),
    };
    if let Some(fk) = only_for(&r.foreign_keys, &ix.name) {
        return line(Action::KeepForForeignKey, None, fk_evidence(fk), 0);
    }
    // A prefix is replaced by the wider index only when some plan uses the
    // wider one: otherwise the wider one is the index to drop (its own rule
    // says so), and advising both "replace A with B" and "drop B" would
    // leave neither.
    let kept_wide = |b: &&IndexDef| {
        ix.is_prefix_of(b)
            && (!users(r, &b.name).is_empty() || only_for(&r.foreign_keys, &b.name).is_some())
    };
    if let Some(wide) = m.indexes().iter().find(kept_wide) {
        let evidence = format!(
            "({}) leads {} ({}); {}; {}",
            ix.columns.join(", "),
            wide.name,
            wide.columns.join(", "),
            usage(r, &ix.name, baseline),
            sizes(r, ix, Some(wide))
        );
        return line(Action::ReplaceWith, Some(wide.name.clone()), evidence, 1);
    }
    let with = with_state(r);
    if r.queries.iter().any(|q| q.plan(&with).is_some()) && users(r, &ix.name).is_empty() {
        let evidence = format!(
            "none of the {} catalogue plans uses it {}; {}",
            r.queries.len(),
            r.where_measured(),
            sizes(r, ix, None)
        );
        return line(Action::Drop, None, evidence, 2);
    }
    match worst_slowdown(r, &ix.name) {
        Some((query, ci)) if ci.verdict() != Verdict::Higher => {
            let evidence = format!(
                "dropping it alone slows no query past noise: worst {query} at {} (the 95% interval's near bound is not past {SIGNIFICANT:.2}×); {}",
                ratio(&ci),
                sizes(r, ix, None)
            );
            line(Action::Drop, None, evidence, 3)
        }
        Some((query, ci)) => line(
            Action::Keep,
            None,
            format!(
                "without it {query} takes {} as long{}; {}",
                ratio(&ci),
                slower_rows(r, &query),
                sizes(r, ix, None)
            ),
            4,
        ),
        None => line(
            Action::Keep,
            None,
            format!(
                "{}; leave-one-out was not measured on this database",
                usage(r, &ix.name, baseline)
            ),
            4,
        ),
    }
}

/// The foreign key whose only serving index is `index`.
fn only_for<'a>(fks: &'a [ForeignKey], index: &str) -> Option<&'a ForeignKey> {
    fks.iter().find(|fk| fk.served_by == [index])
}

fn fk_evidence(fk: &ForeignKey) -> String {
    let base = format!(
        "the only index leading with {}.({}) for {} (ON DELETE {}, ON UPDATE {})",
        fk.table,
        fk.columns.join(", "),
        fk.name,
        fk.on_delete,
        fk.on_update
    );
    match &fk.delete {
        Some(d) => format!(
            "{base}: deleting a {} row takes {} with it and {} without ({} as long, {} deletes)",
            fk.references,
            ms(&d.with_ms),
            ms(&d.without_ms),
            ratio(&d.slowdown),
            d.deletes
        ),
        None => format!(
            "{base}: without it every delete of a {} row scans {}",
            fk.references, fk.table
        ),
    }
}

/// The queries whose plan with the migration's indexes uses `index`, for
/// any parameter row.
fn users(r: &Results, index: &str) -> Vec<String> {
    let with = with_state(r);
    r.queries
        .iter()
        .filter(|q| {
            q.plans_in(&with)
                .any(|p| p.summary.indexes_used.iter().any(|i| i == index))
        })
        .map(|q| q.name.clone())
        .collect()
}

/// `used by transcript (before: Seq Scan on Message), …`: the queries whose
/// plans use `index`, each with its plan before the migration when the
/// baseline run has it.
fn usage(r: &Results, index: &str, baseline: Option<&Results>) -> String {
    let before = |q: &str| {
        let bq = baseline?.queries.iter().find(|x| x.name == q)?;
        let paths = bq.plans.first()?.summary.access_paths();
        Some(format!(" (before: {})", paths.join(", ")))
    };
    match users(r, index)[..] {
        [] => "no catalogue plan uses it".into(),
        ref used => format!(
            "used by {}",
            used.iter()
                .map(|q| format!("{q}{}", before(q).unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The query that slows most when `index` alone is dropped, by its
/// interval's lower bound, among the queries whose plan used it.
fn worst_slowdown(r: &Results, index: &str) -> Option<(String, Interval)> {
    r.ablation
        .iter()
        .filter(|c| c.dropped == index && c.used)
        .map(|c| (c.query.clone(), c.interval()))
        .max_by(|a, b| a.1.low.total_cmp(&b.1.low))
}

/// `, but with the migration's indexes it is slower for its largest row
/// (0.41× [0.38–0.45])` when some parameter rows of `query` lose.
fn slower_rows(r: &Results, query: &str) -> String {
    let Some(q) = r.queries.iter().find(|q| q.name == query) else {
        return String::new();
    };
    let slow: Vec<String> = q
        .rows_with(Verdict::Lower)
        .iter()
        .filter_map(|p| Some(format!("{} row ({})", p.label, ratio(&p.speedup?))))
        .collect();
    match slow.is_empty() {
        true => String::new(),
        false => format!(
            ", but with the migration's indexes it is slower past noise for its {}",
            slow.join(", ")
        ),
    }
}

/// Size, and insert cost with its interval, of `ix` (and `wide`'s size).
fn sizes(r: &Results, ix: &IndexDef, wide: Option<&IndexDef>) -> String {
    let cost = |n: &str| r.index_costs.iter().find(|c| c.name == n);
    let Some(c) = cost(&ix.name) else {
        return "its size and write cost were not measured here".into();
    };
    let mut out = format!("{:.1} MB", c.size_bytes as f64 / 1e6);
    if let Some(w) = wide.and_then(|w| cost(&w.name)) {
        out.push_str(&format!(
            " against {:.1} MB for {}",
            w.size_bytes as f64 / 1e6,
            w.name
        ));
    }
    if let Some(i) = &c.insert_time_ratio {
        let change = match i.verdict() {
            Verdict::WithinNoise => "inserts within noise of the same".to_string(),
            _ => format!("inserts take {} as long with it", ratio(i)),
        };
        out.push_str(&format!("; {change} ({})", ratio(i)));
    }
    out
}

fn ratio(i: &Interval) -> String {
    format!("{:.2}× [{:.2}–{:.2}]", i.point, i.low, i.high)
}

fn ms(i: &Interval) -> String {
    format!("{:.2} ms [{:.2}–{:.2}]", i.point, i.low, i.high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{AblationCell, DeleteCost};

    fn run() -> Results {
        Results::parse(include_str!("../../tests/data/run/results.json"), "test").unwrap()
    }

    #[test]
    fn a_run_before_the_migration_recommends_nothing_for_its_indexes() {
        let m = Migration::builtin().unwrap();
        let mut r = run();
        r.states = vec![IndexState::AsFound];
        let found = |state| crate::schema::FoundDatabase {
            state,
            present: vec![],
            missing: vec![],
            rows: vec![],
        };
        r.database = Some(found(crate::schema::FoundState::Base));
        assert!(recommendations(&r, &m, None).is_empty());
        r.database = Some(found(crate::schema::FoundState::Migrated));
        assert_eq!(recommendations(&r, &m, None).len(), m.indexes().len());
    }

    #[test]
    fn the_noise_rule_states_the_one_threshold() {
        let past = format!("not past {})", crate::format::factor(SIGNIFICANT));
        assert!(RULES[3].contains(&past), "{}", RULES[3]);
    }

    fn find(recs: &[Recommendation], name: &str) -> Recommendation {
        recs.iter().find(|r| r.index == name).unwrap().clone()
    }

    #[test]
    fn one_line_per_index_by_the_first_rule_that_applies() {
        let m = Migration::builtin().unwrap();
        let mut r = run();
        let iv = |p: f64, lo: f64, hi: f64| Interval {
            point: p,
            low: lo,
            high: hi,
        };
        r.foreign_keys = vec![ForeignKey {
            name: "Conversation_assignedTo_fkey".into(),
            table: "Conversation".into(),
            columns: vec!["assignedTo".into()],
            references: "User".into(),
            on_delete: "SET NULL".into(),
            on_update: "CASCADE".into(),
            served_by: vec!["Conversation_assignedTo_idx".into()],
            delete: Some(DeleteCost {
                index: "Conversation_assignedTo_idx".into(),
                with_ms: iv(0.3, 0.2, 0.4),
                without_ms: iv(9.0, 8.0, 10.0),
                slowdown: iv(30.0, 25.0, 40.0),
                deletes: 15,
            }),
            sql: None,
        }];
        for cell in &mut r.ablation {
            cell.slowdown_ci = Some(iv(
                cell.slowdown,
                cell.slowdown * 0.95,
                cell.slowdown * 1.05,
            ));
        }
        let recs = recommendations(&r, &m, None);
        assert_eq!(recs.len(), 7, "one line per index");
        let fk = find(&recs, "Conversation_assignedTo_idx");
        assert_eq!(fk.action, Action::KeepForForeignKey);
        assert!(
            fk.evidence.contains("30.00× [25.00–40.00]"),
            "{}",
            fk.evidence
        );
        let status = find(&recs, "Conversation_status_idx");
        assert_eq!(status.action, Action::ReplaceWith);
        assert_eq!(
            status.replace_with.as_deref(),
            Some("Conversation_status_assignedTo_idx")
        );
        assert_eq!(find(&recs, "Message_role_idx").action, Action::Drop);
        assert_eq!(
            find(&recs, "Message_conversationId_idx").action,
            Action::Keep
        );
    }

    #[test]
    fn a_prefix_is_not_replaced_by_a_wider_index_no_plan_uses() {
        let m = Migration::builtin().unwrap();
        let mut r = run();
        r.foreign_keys.clear();
        let wide = "Conversation_status_assignedTo_idx";
        let with = with_state(&r);
        for q in &mut r.queries {
            for p in q.plans.iter_mut().filter(|p| p.state == with) {
                p.summary.indexes_used.retain(|i| i != wide);
            }
        }
        assert!(users(&r, wide).is_empty());
        let recs = recommendations(&r, &m, None);
        let status = find(&recs, "Conversation_status_idx");
        assert_ne!(status.action, Action::ReplaceWith, "{}", status.evidence);
        assert_eq!(find(&recs, wide).action, Action::Drop);
    }

    #[test]
    fn a_slowdown_within_noise_drops_the_index() {
        let m = Migration::builtin().unwrap();
        let mut r = run();
        r.ablation.retain(|c| c.dropped != "Message_createdAt_idx");
        r.ablation.push(AblationCell {
            query: "newest_messages".into(),
            dropped: "Message_createdAt_idx".into(),
            median_ms: 1.05,
            with_all_ms: 1.0,
            slowdown: 1.05,
            slowdown_ci: Some(Interval {
                point: 1.05,
                low: 0.97,
                high: 1.2,
            }),
            used: true,
            plan_changed: false,
            rounds: 10,
        });
        let rec = find(&recommendations(&r, &m, None), "Message_createdAt_idx");
        assert_eq!(rec.action, Action::Drop, "{}", rec.evidence);
        assert!(rec.evidence.contains("past noise"), "{}", rec.evidence);
    }
}
