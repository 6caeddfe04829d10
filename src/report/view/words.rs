//! The words every section shares: how a ratio and its interval read
//! (`faster`, `slower`, `within noise`), a change in percent or as a
//! factor, the verdict of a change against a baseline, anchors and links.
//! A leaf of the view: sections use it, it uses none of them.

use crate::format::{factor, factor_range};
use crate::results::{Change, Interval, QueryResult, Timing};
use crate::schema::IndexState;
use crate::stats;

pub fn anchor(name: &str) -> String {
    format!(
        "plan-{}",
        name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    )
}

/// How a ratio's interval reads: `faster`, `slower` or `within noise`,
/// by [`Interval::verdict`] (`higher` is `high`, `lower` is `low`).
pub fn verdict_word(i: &Interval, high: &'static str, low: &'static str) -> &'static str {
    match i.verdict() {
        stats::Verdict::Higher => high,
        stats::Verdict::Lower => low,
        stats::Verdict::WithinNoise => "within noise",
    }
}

/// A read's verdict with the indexes: `likely noise` when its median moved
/// without its plan changing; `mixed` when some of its parameter rows are
/// faster past the threshold and others slower; else the speed-up's
/// interval read by [`verdict_word`]; `not compared` with one state.
pub fn query_verdict(q: &QueryResult, with: &IndexState, without: &IndexState) -> &'static str {
    if q.unexplained.is_some() {
        return LIKELY_NOISE;
    }
    let faster = !q.rows_with(stats::Verdict::Higher).is_empty();
    let slower = !q.rows_with(stats::Verdict::Lower).is_empty();
    match speedup_interval(q, with, without) {
        _ if faster && slower => MIXED,
        Some(i) => verdict_word(&i, "faster", "slower"),
        None => "not compared",
    }
}

/// A read whose median moved though its plan, rows and buffers did not.
pub const LIKELY_NOISE: &str = "likely noise";
/// A read faster for some parameter rows and slower for others.
pub const MIXED: &str = "mixed";

/// The speed-up's spread over the parameter rows: least, median and most,
/// with the rows at the ends, e.g. `by parameter: 0.42× (largest,
/// text(12)#a1b2c3) to 14.2× (smallest, …), median 3.10×`.
pub fn spread_text(q: &QueryResult) -> Option<String> {
    let mut rows: Vec<(&crate::results::ParamResult, Interval)> = q
        .params
        .iter()
        .filter_map(|p| Some((p, p.speedup?)))
        .collect();
    if rows.len() < 2 {
        return None;
    }
    rows.sort_by(|a, b| a.1.point.total_cmp(&b.1.point));
    let end = |(p, i): &(&crate::results::ParamResult, Interval)| {
        format!("{} ({}, {})", factor(i.point), p.label, p.values.join(", "))
    };
    let points: Vec<f64> = rows.iter().map(|r| r.1.point).collect();
    Some(format!(
        "by parameter: {} to {}, median {}",
        end(&rows[0]),
        end(&rows[rows.len() - 1]),
        factor(stats::median(&points))
    ))
}

/// `faster for smallest, median; slower for largest` when rows disagree
/// past the noise threshold.
pub fn mixed_text(q: &QueryResult) -> Option<String> {
    let labels = |v: stats::Verdict| {
        q.rows_with(v)
            .iter()
            .map(|p| p.label.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (faster, slower) = (
        labels(stats::Verdict::Higher),
        labels(stats::Verdict::Lower),
    );
    (!faster.is_empty() && !slower.is_empty())
        .then(|| format!("faster for {faster}; slower for {slower}"))
}

/// A CSS class for a verdict word.
pub fn verdict_class(word: &str) -> String {
    word.replace(' ', "-")
}

/// A ratio as results.json has it: a point, and its 95% interval when the
/// run measured one.
#[derive(Debug, Clone, Copy)]
pub struct Ratio {
    pub point: f64,
    pub ci: Option<Interval>,
}

impl Ratio {
    /// `1.05× [0.98×–1.12×], within noise`, or `1.05× (no interval)`;
    /// `higher` and `lower` name the verdicts of an interval past 1.10×.
    pub fn text(&self, higher: &'static str, lower: &'static str) -> String {
        match &self.ci {
            Some(i) => format!(
                "{}, {}",
                crate::format::factor_range(i.point, i.low, i.high),
                verdict_word(i, higher, lower)
            ),
            None => format!("{} (no interval)", crate::format::factor(self.point)),
        }
    }
}

/// The speed-up's 95% interval: the bootstrap of the ratio of medians the
/// run recorded (`speedup_ci`); for older runs, the range from the two
/// medians' intervals (without's low over with's high, and the reverse),
/// which is at least as wide, so a verdict on it errs towards "within noise".
pub fn speedup_interval(
    q: &QueryResult,
    with: &IndexState,
    without: &IndexState,
) -> Option<Interval> {
    let (a, b) = (q.timing(without)?, q.timing(with)?);
    if with == without {
        return None;
    }
    if let Some(ci) = q.speedup_ci {
        return Some(ci);
    }
    Some(Interval {
        point: q.speedup.unwrap_or(a.median_ms / b.median_ms.max(1e-9)),
        low: a.ci_low_ms / b.ci_high_ms.max(1e-9),
        high: a.ci_high_ms / b.ci_low_ms.max(1e-9),
    })
}

/// `1 / x` with its bounds swapped: a speed-up as a slowdown.
pub fn inverse(i: Interval) -> Interval {
    let inv = |x: f64| 1.0 / x.max(1e-9);
    Interval {
        point: inv(i.point),
        low: inv(i.high),
        high: inv(i.low),
    }
}

/// `2.44× [2.26×–2.61×]`.
pub fn ratio_text(i: &Interval) -> String {
    factor_range(i.point, i.low, i.high)
}

/// Criterion's comparison page of the query's group
/// (`criterion/<group>/report/index.html`), from any of its per-state pages
/// (`criterion/<group>/<id>/report/index.html`).
pub fn criterion_group_page(q: &QueryResult) -> Option<String> {
    let page = q.timings.iter().find_map(|t| t.criterion_page.as_ref())?;
    let group = page.strip_prefix("criterion/")?.split('/').next()?;
    Some(format!("criterion/{group}/report/index.html"))
}

/// Printed for a benchmark that the compared baseline does not have.
pub const NEW_IN_MIGRATION: &str = "new in this migration";

/// The change of the median in percent with its 95% interval: the
/// recomputed one when both samples were there, else criterion's. A change
/// past tenfold reads as a factor (`2917× faster [2759×, 3085×]`), where
/// percentages would all round to -100.0%.
pub fn change_pct(c: &Change) -> String {
    let i = c.bootstrap.or(c.median);
    match i {
        Some(i) if i.point <= -90.0 || i.point >= 900.0 => factor_text(i),
        Some(i) => format!("{:+.1}% [{:+.1}%, {:+.1}%]", i.point, i.low, i.high),
        None => format!(
            "mean {:+.1}% [{:+.1}%, {:+.1}%]",
            c.mean_pct, c.ci_low_pct, c.ci_high_pct
        ),
    }
}

/// A change in percent as `N× faster [low, high]` or `N× slower [..]`.
fn factor_text(i: Interval) -> String {
    let ratio = |pct: f64| 1.0 + pct / 100.0;
    let (point, low, high) = (ratio(i.point), ratio(i.low), ratio(i.high));
    if point < 1.0 {
        // Faster by before/after: the interval's ends swap.
        let f = |r: f64| factor(1.0 / r.max(1e-12));
        format!("{} faster [{}, {}]", f(point), f(high), f(low))
    } else {
        format!(
            "{} slower [{}, {}]",
            factor(point),
            factor(low),
            factor(high)
        )
    }
}

/// "improved", "regressed", "within noise", "new in this migration", or
/// "no baseline".
pub fn verdict_text(t: &Timing) -> String {
    match (&t.change, t.no_baseline) {
        (_, true) => NEW_IN_MIGRATION.into(),
        (Some(c), false) => c.verdict.as_str().into(),
        (None, false) => "no baseline".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Verdict;

    fn change(point: f64, low: f64, high: f64) -> Change {
        Change {
            mean_pct: point,
            ci_low_pct: low,
            ci_high_pct: high,
            median: None,
            bootstrap: Some(Interval { point, low, high }),
            verdict: Verdict::Improved,
            against: None,
        }
    }

    #[test]
    fn changes_past_tenfold_read_as_factors_not_minus_100_percent() {
        assert_eq!(
            change_pct(&change(-42.5, -47.0, -38.0)),
            "-42.5% [-47.0%, -38.0%]"
        );
        // 135 ms before, 45 µs after.
        let c = change(-99.9667, -99.97, -99.96);
        assert_eq!(change_pct(&c), "3003× faster [2500×, 3333×]");
        assert_eq!(
            change_pct(&change(1900.0, 1800.0, 2000.0)),
            "20.0× slower [19.0×, 21.0×]"
        );
    }

    fn row(label: &str, point: f64, low: f64, high: f64) -> crate::results::ParamResult {
        crate::results::ParamResult {
            label: label.into(),
            values: vec![format!("text(3)#{label}")],
            estimated_rows: None,
            timings: vec![],
            speedup: Some(Interval { point, low, high }),
        }
    }

    #[test]
    fn a_query_faster_for_some_rows_and_slower_for_others_is_mixed() {
        let mut q: QueryResult = serde_json::from_value(serde_json::json!({
            "name": "inbox", "screen": "", "sql": "",
            "timings": [
                {"state": "without", "median_ms": 3.0, "ci_low_ms": 2.9, "ci_high_ms": 3.1, "mean_ms": 3.0},
                {"state": "with", "median_ms": 1.0, "ci_low_ms": 0.9, "ci_high_ms": 1.1, "mean_ms": 1.0}
            ],
            "speedup": 3.0,
            "speedup_ci": {"point": 3.0, "low": 2.5, "high": 3.5}
        }))
        .unwrap();
        q.params = vec![
            row("smallest", 0.41, 0.38, 0.45),
            row("median", 2.0, 1.8, 2.2),
            row("largest", 40.0, 35.0, 44.0),
        ];
        let (w, wo) = (IndexState::With, IndexState::Without);
        assert_eq!(query_verdict(&q, &w, &wo), MIXED);
        assert_eq!(
            mixed_text(&q).unwrap(),
            "faster for median, largest; slower for smallest"
        );
        let spread = spread_text(&q).unwrap();
        assert!(
            spread
                .starts_with("by parameter: 0.41× (smallest, text(3)#smallest) to 40.0× (largest"),
            "{spread}"
        );
        q.params.remove(0);
        assert_eq!(query_verdict(&q, &w, &wo), "faster");
        q.unexplained = Some("changed without a plan change".into());
        assert_eq!(query_verdict(&q, &w, &wo), LIKELY_NOISE);
    }
}
