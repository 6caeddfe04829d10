//! The leave-one-out heatmap: each query's slowdown with each index dropped
//! alone, with its 95% interval where measured. Column headers are short
//! names (full name on hover and in the legend); the number is always
//! printed and the colour only repeats the verdict, which is the
//! interval's ([`crate::stats::Interval::verdict`], as everywhere).

use serde::Serialize;

use super::words::verdict_word;
use crate::format::{factor, ms};
use crate::results::{AblationCell, Results};
use crate::stats::Verdict;

#[derive(Debug, Serialize)]
pub struct Heatmap {
    pub indexes: Vec<Column>,
    pub rows: Vec<HeatRow>,
}

/// A column: the index's short name and its full name.
#[derive(Debug, Serialize)]
pub struct Column {
    pub short: String,
    pub full: String,
}

#[derive(Debug, Serialize)]
pub struct HeatRow {
    pub query: String,
    pub cells: Vec<HeatCell>,
}

#[derive(Debug, Serialize)]
pub struct HeatCell {
    pub text: String,
    /// The interval, or why there is none.
    pub ci: String,
    /// `within noise`, `slower`, or empty.
    pub verdict: String,
    /// `none`, `low`, `mid`, `high`: the colour, backed by the text.
    pub level: String,
    pub title: String,
}

/// `Conversation_status_assignedTo_idx` on `Conversation` reads
/// `C.status_assignedTo`: the table's initial, the name without the
/// table prefix and the `_idx` suffix.
pub fn abbreviate(index: &str, table: &str) -> String {
    let rest = index
        .strip_prefix(table)
        .and_then(|s| s.strip_prefix('_'))
        .unwrap_or(index);
    let rest = rest.strip_suffix("_idx").unwrap_or(rest);
    match table.chars().next() {
        Some(t) if rest.len() < index.len() => format!("{t}.{rest}"),
        _ => rest.to_string(),
    }
}

pub(super) fn build(r: &Results) -> Option<Heatmap> {
    if r.ablation.is_empty() {
        return None;
    }
    let mut indexes: Vec<&str> = Vec::new();
    let mut queries: Vec<&str> = Vec::new();
    for c in &r.ablation {
        if !indexes.contains(&c.dropped.as_str()) {
            indexes.push(&c.dropped);
        }
        if !queries.contains(&c.query.as_str()) {
            queries.push(&c.query);
        }
    }
    let table_of = |i: &str| {
        r.migration
            .indexes
            .iter()
            .find(|x| x.name == i)
            .map(|x| x.table.clone())
            .unwrap_or_default()
    };
    let rows = queries
        .iter()
        .map(|q| HeatRow {
            query: q.to_string(),
            cells: indexes
                .iter()
                .map(|i| {
                    let c = r.ablation.iter().find(|c| c.query == *q && c.dropped == *i);
                    cell(q, i, c)
                })
                .collect(),
        })
        .collect();
    Some(Heatmap {
        indexes: indexes
            .iter()
            .map(|i| Column {
                short: abbreviate(i, &table_of(i)),
                full: i.to_string(),
            })
            .collect(),
        rows,
    })
}

fn cell(q: &str, i: &str, c: Option<&AblationCell>) -> HeatCell {
    let Some(c) = c.filter(|c| c.used) else {
        return HeatCell {
            text: "–".into(),
            ci: String::new(),
            verdict: String::new(),
            level: "none".into(),
            title: format!("{q} does not use {i}"),
        };
    };
    let interval = c.interval();
    let verdict = verdict_word(&interval, "slower", "faster");
    let ci = match &c.slowdown_ci {
        Some(ci) => format!("[{}–{}]", factor(ci.low), factor(ci.high)),
        None => "no interval".into(),
    };
    HeatCell {
        text: factor(c.slowdown),
        ci,
        verdict: verdict.into(),
        level: match interval.verdict() {
            Verdict::Higher if c.slowdown >= 2.0 => "high",
            Verdict::Higher => "mid",
            Verdict::Lower | Verdict::WithinNoise => "low",
        }
        .into(),
        title: format!(
            "{q} without {i}: {} (all indexes {}{}){}",
            ms(c.median_ms),
            ms(c.with_all_ms),
            match c.rounds {
                0 => String::new(),
                n => format!(", paired over {n} rounds"),
            },
            if c.plan_changed { ", plan changed" } else { "" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Interval;

    #[test]
    fn headers_are_abbreviated_and_noise_is_labelled() {
        assert_eq!(
            abbreviate("Conversation_status_assignedTo_idx", "Conversation"),
            "C.status_assignedTo"
        );
        assert_eq!(abbreviate("custom_name", "Message"), "custom_name");
        let mut c = AblationCell {
            query: "q".into(),
            dropped: "i".into(),
            median_ms: 1.02,
            with_all_ms: 1.0,
            slowdown: 1.02,
            slowdown_ci: Some(Interval {
                point: 1.02,
                low: 0.95,
                high: 1.09,
            }),
            used: true,
            plan_changed: false,
            rounds: 10,
        };
        let v = cell("q", "i", Some(&c));
        assert_eq!(
            (v.verdict.as_str(), v.level.as_str()),
            ("within noise", "low")
        );
        assert!(v.title.contains("paired over 10 rounds"), "{}", v.title);
        c.slowdown = 3.0;
        c.slowdown_ci = Some(Interval {
            point: 3.0,
            low: 2.5,
            high: 3.5,
        });
        let v = cell("q", "i", Some(&c));
        assert_eq!(
            (v.text.as_str(), v.verdict.as_str(), v.level.as_str()),
            ("3.00×", "slower", "high")
        );
    }

    #[test]
    fn a_cell_without_an_interval_is_judged_by_the_one_threshold() {
        // An older run's cell: no interval, so its point is judged as an
        // interval of no width, by the same 1.10× as every other verdict.
        let c = |slowdown: f64| AblationCell {
            slowdown,
            median_ms: slowdown,
            with_all_ms: 1.0,
            used: true,
            ..AblationCell::unaffected("q", "i")
        };
        let v = cell("q", "i", Some(&c(1.07)));
        assert_eq!(
            (v.ci.as_str(), v.verdict.as_str(), v.level.as_str()),
            ("no interval", "within noise", "low")
        );
        let v = cell("q", "i", Some(&c(1.5)));
        assert_eq!((v.verdict.as_str(), v.level.as_str()), ("slower", "mid"));
        let v = cell("q", "i", Some(&AblationCell::unaffected("q", "i")));
        assert_eq!((v.text.as_str(), v.level.as_str()), ("–", "none"));
    }
}
