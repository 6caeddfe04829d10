//! The index costs section: size, build times plain and `CONCURRENTLY`,
//! insert time with each index against without it, WAL per insert and the
//! HOT share of updates, each with its interval where the run measured
//! one; the HOT summary; and what applying the migration cost.

use serde::Serialize;

use super::words::Ratio;
use super::Ctx;
use crate::format::{bytes, pct, rate, TimeUnit};
use crate::results::{IndexCost, Interval};

#[derive(Debug, Serialize)]
pub struct CostsSection {
    pub rows: Vec<CostRow>,
    /// Units of the build columns.
    pub build_unit: &'static str,
    pub hot: Option<String>,
    pub migration_name: String,
    pub migration: Option<MigrationView>,
}

#[derive(Debug, Serialize)]
pub struct CostRow {
    pub name: String,
    pub table: String,
    pub size: String,
    pub build: String,
    pub build_concurrently: String,
    /// Insert time with every index over without this one, as `×`.
    pub insert_slowdown: String,
    pub inserts: String,
    pub wal: String,
    pub hot: String,
}

#[derive(Debug, Serialize)]
pub struct MigrationView {
    pub wall: String,
    pub lock_held: String,
    pub statements: Vec<(String, String)>,
}

/// Whether `c`'s insert overhead was measured: not when no catalogue write
/// inserts into its table.
pub(super) fn inserts_measured(c: &IndexCost) -> bool {
    c.insert_time_ratio.is_some() || c.inserts_per_s_with > 0.0
}

/// Insert time with every index over insert time with `c` dropped: the
/// interval over alternating rounds when measured, else the ratio of the
/// two throughputs. The one place the insert overhead is computed.
pub(super) fn insert_slowdown(c: &IndexCost) -> Ratio {
    Ratio {
        point: c
            .insert_time_ratio
            .map(|i| i.point)
            .unwrap_or(c.inserts_per_s_without / c.inserts_per_s_with.max(1e-9)),
        ci: c.insert_time_ratio,
    }
}

pub(super) fn build(cx: &Ctx) -> CostsSection {
    let r = cx.r;
    let build_unit = TimeUnit::for_column(
        r.index_costs
            .iter()
            .flat_map(|c| [c.build_ms, c.build_concurrently_ms]),
    );
    CostsSection {
        rows: r.index_costs.iter().map(|c| row(c, build_unit)).collect(),
        build_unit: build_unit.symbol(),
        hot: hot_line(r),
        migration_name: r.migration.name.clone(),
        migration: r.migration_cost.as_ref().map(|m| {
            let unit = TimeUnit::for_column([m.wall_ms]);
            MigrationView {
                wall: unit.fmt(m.wall_ms),
                lock_held: unit.fmt(m.lock_held_ms),
                statements: m
                    .statements
                    .iter()
                    .filter(|s| s.duration.as_secs_f64() * 1e3 >= 1.0)
                    .map(|s| {
                        (
                            unit.fmt(s.duration.as_secs_f64() * 1e3),
                            s.statement.clone(),
                        )
                    })
                    .collect(),
            }
        }),
    }
}

pub(super) fn row(c: &IndexCost, unit: TimeUnit) -> CostRow {
    let time = |point: f64, ci: &Option<Interval>| match ci {
        Some(i) => format!("{} [{}]", unit.fmt(i.point), unit.range(i.low, i.high)),
        None => unit.fmt(point),
    };
    let wal = |point: f64, ci: &Option<Interval>| match ci {
        Some(i) => format!("{} [{}–{}]", bytes(i.point), bytes(i.low), bytes(i.high)),
        None => bytes(point),
    };
    CostRow {
        name: c.name.clone(),
        table: c.table.clone(),
        size: bytes(c.size_bytes as f64),
        build: time(c.build_ms, &c.build),
        build_concurrently: time(c.build_concurrently_ms, &c.build_concurrently),
        insert_slowdown: match inserts_measured(c) {
            true => insert_slowdown(c).text("slower", "faster"),
            false => not_measured(c),
        },
        inserts: match (inserts_measured(c), &c.insert_workload) {
            (false, _) => not_measured(c),
            (true, w) => format!(
                "{} with, {} without{}",
                rate(c.inserts_per_s_with),
                rate(c.inserts_per_s_without),
                w.as_ref().map(|w| format!(" ({w})")).unwrap_or_default()
            ),
        },
        wal: match inserts_measured(c) {
            true => format!(
                "{} with, {} without",
                wal(c.wal_bytes_per_insert_with, &c.wal_with),
                wal(c.wal_bytes_per_insert_without, &c.wal_without)
            ),
            false => not_measured(c),
        },
        hot: match (c.hot_alone, c.hot_ratio_with, c.hot_ratio_without) {
            (Some(i), _, _) => format!(
                "{} [{}–{}] with only this index",
                pct(i.point),
                pct(i.low),
                pct(i.high)
            ),
            (None, Some(a), Some(b)) => format!("{} with, {} without", pct(a), pct(b)),
            _ => "n/a (not an updated table)".into(),
        },
    }
}

/// Why an index has no insert figures.
fn not_measured(c: &IndexCost) -> String {
    format!(
        "not measured: no catalogue write (kind = \"write\") inserts into {}",
        c.table
    )
}

/// What the migration's indexes do to HOT updates, with the intervals and
/// how the pages were given room: for the verdict and the costs section.
pub(super) fn hot_line(r: &crate::results::Results) -> Option<String> {
    let h = r.hot_updates.as_ref()?;
    let share = |ci: &Option<Interval>, point: f64| match ci {
        Some(i) => format!("{} [{}–{}]", pct(i.point), pct(i.low), pct(i.high)),
        None => pct(point),
    };
    Some(format!(
        "HOT updates in the catalogue's update workload ({} updates each{}{}): {} with every index, {} with none",
        h.updates,
        if h.rounds > 0 { format!(", {} rounds", h.rounds) } else { String::new() },
        if h.pages.is_empty() { String::new() } else { format!(", pages: {}", h.pages) },
        share(&h.with_all_ci, h.with_all),
        share(&h.without_all_ci, h.without_all)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_no_write_inserts_into_says_so_instead_of_zero() {
        let c = IndexCost {
            name: "orders_open_idx".into(),
            table: "shop.orders".into(),
            ..IndexCost::default()
        };
        let row = row(&c, TimeUnit::Ms);
        let expected =
            "not measured: no catalogue write (kind = \"write\") inserts into shop.orders";
        assert_eq!(row.insert_slowdown, expected);
        assert_eq!(row.inserts, expected);
        assert_eq!(row.wal, expected);
    }

    #[test]
    fn insert_overhead_is_a_time_ratio_with_its_interval() {
        let mut c = IndexCost {
            name: "Message_role_idx".into(),
            inserts_per_s_with: 3611.0,
            inserts_per_s_without: 4232.0,
            ..IndexCost::default()
        };
        assert_eq!(
            insert_slowdown(&c).text("slower", "faster"),
            "1.17× (no interval)"
        );
        c.insert_time_ratio = Some(Interval {
            point: 1.04,
            low: 0.97,
            high: 1.12,
        });
        assert_eq!(
            row(&c, TimeUnit::Ms).insert_slowdown,
            "1.04× [0.97×–1.12×], within noise"
        );
        c.insert_time_ratio = Some(Interval {
            point: 1.3,
            low: 1.2,
            high: 1.4,
        });
        assert_eq!(
            insert_slowdown(&c).text("slower", "faster"),
            "1.30× [1.20×–1.40×], slower"
        );
    }
}
