//! The verdict box: how many queries got faster by the interval rule, the
//! geometric mean speed-up, index size, the worst write slowdown, one
//! recommendation per index with the rules that decided, and the findings.

use serde::Serialize;

use super::costs::insert_slowdown;
use super::words::speedup_interval;
use super::words::{query_verdict, verdict_class, verdict_word, LIKELY_NOISE, MIXED};
use super::Ctx;
use crate::format::{bytes, factor, factor_range};
use crate::results::{Action, Recommendation};

/// The rules a recommendation follows, as stated on the page.
pub const RULES: [&str; 4] = [
    "Prefix redundancy: an index whose columns lead a wider index of the migration is replaced by the wider one, which serves every lookup it does.",
    "Unused: an index no catalogue plan uses at the measured scale is dropped.",
    "Within noise when dropped: an index whose removal leaves every query's slowdown within noise (the 95% interval holds 1.0 or its near bound stays under 1.10×) is dropped.",
    "Foreign keys: the only index leading with a foreign key's column is never dropped silently; it is kept for the foreign key, with what a delete of a referenced row costs without it.",
];

#[derive(Debug, Serialize)]
pub struct VerdictSection {
    pub faster: usize,
    pub slower: usize,
    pub within_noise: usize,
    /// Faster for some parameter rows, slower past noise for others.
    pub mixed: usize,
    /// Moved without a plan change: left out of the counts and the mean.
    pub likely_noise: usize,
    /// The queries counted: all but those left out as likely noise.
    pub total: usize,
    /// Set when the machine's load average moved a lot during the run.
    pub load_note: Option<String>,
    pub geomean: String,
    pub index_size: String,
    pub worst_write: String,
    /// The HOT updates the indexes cost, when measured.
    pub hot: Option<String>,
    /// How to deploy, in one sentence, when the migration's cost was measured.
    pub deploy: Option<String>,
    pub recommendations: Vec<RecommendationView>,
    /// The reads slower with the indexes past the threshold, slowest first
    /// (at most five), each with its interval.
    pub worst: Vec<String>,
    pub rules: &'static [&'static str],
    pub findings: Vec<FindingView>,
}

#[derive(Debug, Serialize)]
pub struct RecommendationView {
    pub index: String,
    /// `keep`, `drop`, `replace with`, `keep for the foreign key`.
    pub action: String,
    /// The action as a CSS class.
    pub class: String,
    pub replace_with: Option<String>,
    pub evidence: String,
    pub rule: String,
}

#[derive(Debug, Serialize)]
pub struct FindingView {
    pub kind: String,
    pub message: String,
    pub evidence: String,
}

pub(super) fn build(cx: &Ctx) -> VerdictSection {
    let r = cx.r;
    let words: Vec<&str> = r
        .queries
        .iter()
        .map(|q| query_verdict(q, &cx.with, &cx.without))
        .collect();
    let count = |w: &str| words.iter().filter(|x| **x == w).count();
    let index_size: u64 = r.index_costs.iter().map(|c| c.size_bytes).sum();
    VerdictSection {
        faster: count("faster"),
        slower: count("slower"),
        within_noise: count("within noise"),
        mixed: count(MIXED),
        likely_noise: count(LIKELY_NOISE),
        total: r.queries.len() - count(LIKELY_NOISE),
        load_note: load_note(r),
        geomean: geomean(cx),
        index_size: if r.index_costs.is_empty() {
            "not measured".into()
        } else {
            bytes(index_size as f64)
        },
        worst_write: worst_write(cx),
        hot: super::costs::hot_line(r),
        deploy: r.deploy.as_ref().map(|d| d.advice.clone()),
        recommendations: r.recommendations.iter().map(recommendation).collect(),
        worst: worst(cx),
        rules: &RULES,
        findings: r
            .findings
            .iter()
            .map(|f| FindingView {
                kind: f.kind.as_str().to_string(),
                message: f.message.clone(),
                evidence: f.evidence.clone(),
            })
            .collect(),
    }
}

/// The reads slower past the threshold, slowest first, at most five.
fn worst(cx: &Ctx) -> Vec<String> {
    let mut slower: Vec<(&str, crate::stats::Interval)> =
        cx.r.queries
            .iter()
            .filter(|q| query_verdict(q, &cx.with, &cx.without) == "slower")
            .filter_map(|q| Some((q.name.as_str(), speedup_interval(q, &cx.with, &cx.without)?)))
            .collect();
    slower.sort_by(|a, b| a.1.point.total_cmp(&b.1.point));
    slower
        .iter()
        .take(5)
        .map(|(name, i)| {
            format!(
                "{name}: {} slower with the indexes (speed-up {})",
                factor(1.0 / i.point),
                factor_range(i.point, i.low, i.high)
            )
        })
        .collect()
}

/// The geometric mean of the speed-ups with its interval, leaving out the
/// queries whose change is likely noise (a run older than its interval:
/// the point alone, from each query's speed-up).
fn geomean(cx: &Ctx) -> String {
    if let Some(g) = cx.r.geomean_speedup {
        let noise = if g.verdict() == crate::stats::Verdict::WithinNoise {
            " (within noise)"
        } else {
            ""
        };
        return format!("{}{noise}", factor_range(g.point, g.low, g.high));
    }
    let speedups: Vec<f64> =
        cx.r.queries
            .iter()
            .filter(|q| q.unexplained.is_none())
            .filter_map(|q| q.speedup)
            .filter(|s| *s > 0.0)
            .collect();
    if speedups.is_empty() {
        return "n/a (one index state only)".into();
    }
    factor((speedups.iter().map(|s| s.ln()).sum::<f64>() / speedups.len() as f64).exp())
}

/// The machine's load moved a lot when its 1-minute average changed by
/// more than one runnable process between two readings of the run.
const LOAD_MOVED: f64 = 1.0;

/// Says so when the machine's load average moved a lot during the run:
/// timings taken under different load are less comparable.
fn load_note(r: &crate::results::Results) -> Option<String> {
    let all: Vec<f64> = r
        .machine_load
        .iter()
        .flat_map(|s| [s.start, s.end])
        .flatten()
        .collect();
    let (lo, hi) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    (all.len() >= 2 && hi - lo > LOAD_MOVED).then(|| {
        format!(
            "the machine's load average moved from {lo:.2} to {hi:.2} while the queries were timed: other work shared the cores, so states timed at different moments are less comparable; rerun on a quieter machine to confirm small changes"
        )
    })
}

fn recommendation(rec: &Recommendation) -> RecommendationView {
    RecommendationView {
        index: rec.index.clone(),
        action: rec.action.as_str().to_string(),
        class: verdict_class(rec.action.as_str()),
        replace_with: rec
            .replace_with
            .clone()
            .filter(|_| rec.action == Action::ReplaceWith),
        evidence: rec.evidence.clone(),
        rule: rec.rule.clone(),
    }
}

/// The write workload the indexes slow most, and the index that costs
/// inserts most, each with its interval and verdict.
fn worst_write(cx: &Ctx) -> String {
    let r = cx.r;
    let from_writes = r
        .writes
        .iter()
        .filter_map(|w| Some((w, speedup_interval(w, &cx.with, &cx.without)?)))
        .map(|(w, i)| (w.name.clone(), super::words::inverse(i)))
        .max_by(|a, b| a.1.point.total_cmp(&b.1.point));
    let from_inserts = r
        .index_costs
        .iter()
        .filter(|c| super::costs::inserts_measured(c))
        .map(|c| (c.name.clone(), insert_slowdown(c)))
        .max_by(|a, b| a.1.point.total_cmp(&b.1.point));
    let inserts = from_inserts.map(|(i, s)| {
        format!(
            "costliest single index for inserts: {i} (insert time with it over without: {})",
            s.text("slower", "faster")
        )
    });
    match (from_writes, inserts) {
        (Some((name, slow)), inserts) => format!(
            "{name} takes {} the time with the indexes ({}){}",
            super::words::ratio_text(&slow),
            verdict_word(&slow, "slower", "faster"),
            inserts.map(|s| format!("; {s}")).unwrap_or_default()
        ),
        (None, Some(s)) => s,
        (None, None) => "not measured".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Action;

    #[test]
    fn the_noise_rule_states_the_one_threshold() {
        let under = format!("stays under {})", factor(crate::stats::SIGNIFICANT));
        assert!(RULES[2].contains(&under), "{}", RULES[2]);
    }

    #[test]
    fn a_replacement_names_the_wider_index() {
        let v = recommendation(&Recommendation {
            index: "Conversation_status_idx".into(),
            action: Action::ReplaceWith,
            replace_with: Some("Conversation_status_assignedTo_idx".into()),
            evidence: "dropping it slows status_dashboard 1.01× [0.97×–1.05×]".into(),
            rule: "prefix redundancy".into(),
        });
        assert_eq!(v.action, "replace with");
        assert_eq!(v.class, "replace-with");
        assert_eq!(
            v.replace_with.as_deref(),
            Some("Conversation_status_assignedTo_idx")
        );
        let keep = recommendation(&Recommendation {
            action: Action::KeepForForeignKey,
            replace_with: Some("ignored".into()),
            ..Recommendation {
                index: "Message_conversationId_idx".into(),
                action: Action::Keep,
                replace_with: None,
                evidence: String::new(),
                rule: String::new(),
            }
        });
        assert_eq!(keep.action, "keep for the foreign key");
        assert_eq!(keep.replace_with, None);
    }
}
