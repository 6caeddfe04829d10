//! "Deploying the migration": the locks it takes and how long they are
//! held, each build measured and projected to production (labelled a
//! projection, with what it rests on), the online variant, the advice in
//! one sentence; and the foreign keys with what a delete of a referenced
//! row costs without the only index serving them.

use serde::Serialize;

use super::words::verdict_word;
use super::Ctx;
use crate::format::{factor_range, thousands, TimeUnit};
use crate::results::{BuildProjection, DeployAdvice, ForeignKey, Interval, Results};

#[derive(Debug, Serialize)]
pub struct DeploySection {
    pub advice: Option<AdviceView>,
    pub foreign_keys: Vec<ForeignKeyView>,
    /// `rehearse`'s variants side by side, when the run rehearsed.
    pub rehearsal: Option<super::rehearsal::RehearsalView>,
}

#[derive(Debug, Serialize)]
pub struct AdviceView {
    pub advice: String,
    pub locks: Vec<LockView>,
    pub builds: Vec<BuildView>,
    /// `None` without production row counts: nothing to project to.
    pub projected_lock: Option<String>,
    pub basis: String,
    pub production_source: String,
    pub online_file: String,
}

#[derive(Debug, Serialize)]
pub struct LockView {
    pub table: String,
    pub mode: String,
    pub blocks: String,
    pub held: String,
}

#[derive(Debug, Serialize)]
pub struct BuildView {
    pub index: String,
    pub table: String,
    pub measured_rows: String,
    pub plain: String,
    pub concurrently: String,
    pub production_rows: String,
    pub projected_plain: String,
    pub projected_concurrently: String,
}

#[derive(Debug, Serialize)]
pub struct ForeignKeyView {
    pub name: String,
    pub table: String,
    pub columns: String,
    pub references: String,
    pub on_delete: String,
    pub served_by: String,
    /// Delete of a referenced row with and without the only serving index.
    pub delete: Option<String>,
}

pub(super) fn build(cx: &Ctx) -> DeploySection {
    build_from(cx.r)
}

fn build_from(r: &Results) -> DeploySection {
    DeploySection {
        advice: r.deploy.as_ref().map(advice),
        foreign_keys: r.foreign_keys.iter().map(foreign_key).collect(),
        rehearsal: r.rehearsal.as_ref().map(super::rehearsal::build),
    }
}

fn advice(d: &DeployAdvice) -> AdviceView {
    let held = TimeUnit::for_column(d.locks.iter().map(|l| l.held_ms));
    let built = TimeUnit::for_column(
        d.builds
            .iter()
            .flat_map(|b| [b.plain_ms.high, b.concurrently_ms.high]),
    );
    AdviceView {
        advice: d.advice.clone(),
        locks: d
            .locks
            .iter()
            .map(|l| LockView {
                table: l.table.clone(),
                mode: l.mode.clone(),
                blocks: l.blocks.clone(),
                held: held.fmt(l.held_ms),
            })
            .collect(),
        builds: d.builds.iter().map(|b| build_view(b, built)).collect(),
        projected_lock: (!d.builds.is_empty() && d.projected_lock_s > 0.0)
            .then(|| seconds(d.projected_lock_s)),
        basis: d.basis.clone(),
        production_source: d.production_source.clone(),
        online_file: d.online_file.clone(),
    }
}

fn build_view(b: &BuildProjection, unit: TimeUnit) -> BuildView {
    let measured = |i: &Interval| format!("{} [{}]", unit.fmt(i.point), unit.range(i.low, i.high));
    BuildView {
        index: b.index.clone(),
        table: b.table.clone(),
        measured_rows: thousands(b.measured_rows),
        plain: measured(&b.plain_ms),
        concurrently: measured(&b.concurrently_ms),
        production_rows: thousands(b.production_rows),
        projected_plain: seconds(b.projected_plain_s),
        projected_concurrently: seconds(b.projected_concurrently_s),
    }
}

/// Seconds for projections, which run long: `12.3 s`, `1,234 s`.
fn seconds(s: f64) -> String {
    if s >= 1000.0 {
        format!("{} s", thousands(s.round() as u64))
    } else {
        format!("{s:.1} s")
    }
}

fn foreign_key(fk: &ForeignKey) -> ForeignKeyView {
    ForeignKeyView {
        name: fk.name.clone(),
        table: fk.table.clone(),
        columns: fk.columns.join(", "),
        references: fk.references.clone(),
        on_delete: fk.on_delete.clone(),
        served_by: if fk.served_by.is_empty() {
            "no index".into()
        } else {
            fk.served_by.join(", ")
        },
        delete: fk.delete.as_ref().map(|d| {
            let unit = TimeUnit::for_column([d.with_ms.high, d.without_ms.high]);
            let t = |i: &Interval| format!("{} [{}]", unit.fmt(i.point), unit.range(i.low, i.high));
            format!(
                "{} per delete with {}, {} without it: {}, {} ({} deletes)",
                t(&d.with_ms),
                d.index,
                t(&d.without_ms),
                factor_range(d.slowdown.point, d.slowdown.low, d.slowdown.high),
                verdict_word(&d.slowdown, "slower without it", "faster without it"),
                d.deletes
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{DeleteCost, LockHeld};

    fn iv(point: f64, low: f64, high: f64) -> Interval {
        Interval { point, low, high }
    }

    #[test]
    fn nothing_is_rendered_until_measured() {
        let d = build_from(&serde_json::from_value(minimal()).unwrap());
        assert!(d.advice.is_none() && d.foreign_keys.is_empty() && d.rehearsal.is_none());
    }

    fn minimal() -> serde_json::Value {
        serde_json::json!({"schema_version": 3, "run_id": "r", "created_at": "t",
            "tool": {"version": "0"}, "environment": {"postgres_version": "17", "settings": {},
            "cores": 2, "memory_bytes": 1, "embedded": true, "durability_off": true,
            "database": "d"}, "scale": "tiny", "seed": 1,
            "migration": {"name": "012", "file": "f", "sql": ""}})
    }

    #[test]
    fn locks_projections_and_foreign_key_deletes_with_intervals() {
        let a = advice(&DeployAdvice {
            locks: vec![LockHeld {
                table: "Message".into(),
                mode: "SHARE".into(),
                blocks: "all writes".into(),
                held_ms: 5234.0,
            }],
            production_rows: vec![("Message".into(), 50_000_000)],
            production_source: "--production-rows".into(),
            builds: vec![BuildProjection {
                index: "Message_role_idx".into(),
                table: "Message".into(),
                measured_rows: 1_000_000,
                plain_ms: iv(820.0, 790.0, 860.0),
                concurrently_ms: iv(1400.0, 1350.0, 1480.0),
                production_rows: 50_000_000,
                projected_plain_s: 41.0,
                projected_concurrently_s: 70.2,
            }],
            projected_lock_s: 212.5,
            basis: "linear in rows; ignores I/O contention".into(),
            online_file: "online/012.sql".into(),
            advice: "Build CONCURRENTLY, one index per transaction.".into(),
        });
        assert_eq!(a.locks[0].held, "5,234 ms");
        assert_eq!(a.builds[0].plain, "820.0 ms [790.0–860.0 ms]");
        assert_eq!(a.builds[0].projected_concurrently, "70.2 s");
        assert_eq!(a.builds[0].production_rows, "50,000,000");
        assert_eq!(a.projected_lock.as_deref(), Some("212.5 s"));
        let fk = foreign_key(&ForeignKey {
            name: "Message_conversationId_fkey".into(),
            table: "Message".into(),
            columns: vec!["conversationId".into()],
            references: "Conversation".into(),
            on_delete: "CASCADE".into(),
            on_update: "CASCADE".into(),
            served_by: vec!["Message_conversationId_idx".into()],
            delete: Some(DeleteCost {
                index: "Message_conversationId_idx".into(),
                with_ms: iv(0.2, 0.18, 0.22),
                without_ms: iv(95.0, 90.0, 101.0),
                slowdown: iv(475.0, 410.0, 560.0),
                deletes: 30,
            }),
            sql: None,
        });
        assert_eq!(
            fk.delete.as_deref(),
            Some("0.200 ms [0.180–0.220 ms] per delete with Message_conversationId_idx, 95.00 ms [90.00–101.0 ms] without it: 475× [410×–560×], slower without it (30 deletes)")
        );
    }
}
