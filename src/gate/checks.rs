//! The checks each policy makes, from what a run wrote: `results.json`
//! for `cargo bench`, `load` and `rehearse` ([`Evidence::of_results`]), the
//! captured plans for `explain` ([`Evidence::of_explain`]). A check rests on
//! the same rule the report's verdict does: a change counts only when its
//! whole 95% interval is past [`crate::stats::SIGNIFICANT`], and a change
//! without a plan change ("likely noise") never fails the gate.

use super::{Check, Outcome, Policies, Policy};
use crate::error::{Error, Result};
use crate::explain::{ExplainRun, Violation};
use crate::format::{factor, factor_range};
use crate::results::{Operation, QueryResult, RehearsalRun, Results, Verdict as Change};
use crate::schema::{IndexState, Migration};
use crate::stats::Verdict;

/// What a run measured, as the gate reads it.
pub struct Evidence<'a> {
    /// The command, for the errors of a policy it cannot judge.
    pub what: &'a str,
    /// Each plan captured: query, state, indexes it uses.
    pub plans: Vec<(String, IndexState, Vec<String>)>,
    pub violations: Vec<Violation>,
    /// The migration's indexes.
    pub indexes: Vec<String>,
    /// The run's results, when it wrote any (not `explain`).
    pub results: Option<&'a Results>,
}

impl<'a> Evidence<'a> {
    pub fn of_results(what: &'a str, r: &'a Results) -> Evidence<'a> {
        Evidence {
            what,
            plans: r
                .queries
                .iter()
                .flat_map(|q| {
                    q.plans.iter().map(|p| {
                        let used = p.summary.indexes_used.clone();
                        (q.name.clone(), p.state.clone(), used)
                    })
                })
                .collect(),
            violations: r.violations.clone(),
            indexes: r.migration.indexes.iter().map(|i| i.name.clone()).collect(),
            results: Some(r),
        }
    }

    pub fn of_explain(run: &ExplainRun, m: &Migration) -> Evidence<'a> {
        Evidence {
            what: "explain",
            plans: run
                .plans
                .iter()
                .map(|p| {
                    let used = p.summary.indexes_used.clone();
                    (p.query.clone(), p.state.clone(), used)
                })
                .collect(),
            violations: run.violations.clone(),
            indexes: m.indexes().iter().map(|i| i.name.clone()).collect(),
            results: None,
        }
    }
}

/// Every check of every policy; an error when a policy has nothing to
/// judge in this run.
pub fn evaluate(policies: &Policies, e: &Evidence) -> Result<Outcome> {
    let mut checks = Vec::new();
    for p in &policies.0 {
        checks.extend(match p {
            Policy::Regression => regression(e)?,
            Policy::Plan => plan(e),
            Policy::UnusedIndex => unused(e)?,
            Policy::BlockingDeploy(limit) => blocking(e, limit.as_secs_f64() * 1e3)?,
        });
    }
    Ok(Outcome { checks })
}

fn cannot(policy: &str, why: String) -> Error {
    Error::BadInput(format!("--fail-on {policy}: {why}"))
}

fn regression(e: &Evidence) -> Result<Vec<Check>> {
    let r = e.results.ok_or_else(|| {
        cannot(
            "regression",
            format!(
                "{} times nothing; gate latency with `cargo bench` or `load`",
                e.what
            ),
        )
    })?;
    let mut checks: Vec<Check> = r.queries.iter().filter_map(query_regression).collect();
    if let Some(load) = &r.load {
        for &clients in &load.clients {
            for (query, ratio) in load.p99_changes(clients) {
                let Some(i) = ratio else { continue };
                checks.push(Check {
                    policy: "regression",
                    name: format!("{query} p99 at {clients} clients"),
                    detail: format!(
                        "p99 with the indexes over without {}",
                        factor_range(i.point, i.low, i.high)
                    ),
                    failed: i.verdict() == Verdict::Higher,
                });
            }
            if let Some(i) = load.throughput_change(clients) {
                checks.push(Check {
                    policy: "regression",
                    name: format!("throughput at {clients} clients"),
                    detail: format!(
                        "with the indexes over without {}",
                        factor_range(i.point, i.low, i.high)
                    ),
                    failed: i.verdict() == Verdict::Lower,
                });
            }
        }
    }
    if checks.is_empty() {
        return Err(cannot(
            "regression",
            format!("{} compared nothing (one index state, no baseline); measure both states (embedded, or --allow-index-changes) or compare with a baseline (cargo bench -- --baseline NAME)", e.what),
        ));
    }
    Ok(checks)
}

/// A read's check: both states of this run, else its change against the
/// baseline run; none when it has neither.
fn query_regression(q: &QueryResult) -> Option<Check> {
    let noise = q.unexplained.as_deref();
    let (failed, detail) = if let Some(i) = q.speedup_ci {
        let slower = i.verdict() == Verdict::Lower;
        let what = if slower {
            format!("{} slower with the indexes", factor(1.0 / i.point))
        } else {
            "speed-up with the indexes".into()
        };
        (
            slower,
            format!("{what}: {}", factor_range(i.point, i.low, i.high)),
        )
    } else {
        let c = q.timings.iter().find_map(|t| t.change.as_ref())?;
        let (p, lo, hi) = match c.bootstrap {
            Some(b) => (b.point, b.low, b.high),
            None => (c.mean_pct, c.ci_low_pct, c.ci_high_pct),
        };
        let against = c.against.as_deref().unwrap_or("the baseline");
        (
            c.verdict == Change::Regressed,
            format!("{p:+.1}% [{lo:+.1}%, {hi:+.1}%] against {against}"),
        )
    };
    Some(Check {
        policy: "regression",
        name: q.name.clone(),
        detail: match noise {
            Some(n) if failed => format!("{detail}; {n}"),
            _ => detail,
        },
        failed: failed && noise.is_none(),
    })
}

/// One check per read: its plans keep the catalogue's assertions.
fn plan(e: &Evidence) -> Vec<Check> {
    let mut queries: Vec<&str> = Vec::new();
    for p in &e.plans {
        if !queries.contains(&p.0.as_str()) {
            queries.push(&p.0);
        }
    }
    queries
        .into_iter()
        .map(|q| {
            let broken: Vec<String> = e
                .violations
                .iter()
                .filter(|v| v.query == q)
                .map(|v| v.message.clone())
                .collect();
            Check {
                policy: "plan",
                name: q.to_string(),
                failed: !broken.is_empty(),
                detail: if broken.is_empty() {
                    "every plan keeps the catalogue's assertions".into()
                } else {
                    broken.join("; ")
                },
            }
        })
        .collect()
}

/// One check per index of the migration: some plan with the indexes in
/// place (or as found, in a run of one state) uses it.
fn unused(e: &Evidence) -> Result<Vec<Check>> {
    let state = [IndexState::With, IndexState::AsFound]
        .into_iter()
        .find(|s| e.plans.iter().any(|p| &p.1 == s))
        .ok_or_else(|| {
            cannot(
                "unused-index",
                format!(
                    "{} captured no plan with the migration's indexes in place",
                    e.what
                ),
            )
        })?;
    Ok(e.indexes
        .iter()
        .map(|index| {
            let mut users: Vec<&str> = Vec::new();
            for p in e
                .plans
                .iter()
                .filter(|p| p.1 == state && p.2.contains(index))
            {
                if !users.contains(&p.0.as_str()) {
                    users.push(&p.0);
                }
            }
            Check {
                policy: "unused-index",
                name: index.clone(),
                failed: users.is_empty(),
                detail: if users.is_empty() {
                    format!("no catalogue plan uses it ({} plans read)", e.plans.len())
                } else {
                    format!("used by {}", users.join(", "))
                },
            }
        })
        .collect())
}

/// The rehearsal's blocked writes per table (see [`rehearsed_blocking`]),
/// else the deploy advice's write-blocking locks; `limit_ms` is the most a
/// deploy may block writes.
fn blocking(e: &Evidence, limit_ms: f64) -> Result<Vec<Check>> {
    let none = || {
        cannot(
            "blocking-deploy",
            format!("{} measured no deploy; run `helpdesk-bench rehearse`, or `cargo bench` on the embedded lab, which times the migration", e.what),
        )
    };
    let r = e.results.ok_or_else(none)?;
    let limit = crate::format::ms(limit_ms);
    if let Some(h) = &r.rehearsal {
        return Ok(rehearsed_blocking(&h.as_written, limit_ms));
    }
    let d = r.deploy.as_ref().ok_or_else(none)?;
    let held: f64 = d
        .locks
        .iter()
        .filter(|l| l.blocks.contains("writes"))
        .map(|l| l.held_ms)
        .sum();
    let (ms, how) = if d.production_rows.is_empty() {
        (
            held,
            "held at the measured scale; give --production-rows for a projection",
        )
    } else {
        (d.projected_lock_s * 1e3, "projected to production")
    };
    Ok(vec![Check {
        policy: "blocking-deploy",
        name: "the migration as written".into(),
        detail: format!(
            "locks blocking writes held {} ({how}; limit {limit})",
            crate::format::ms(ms)
        ),
        failed: ms > limit_ms,
    }])
}

/// Per table, how long the migration as written blocked writes: the longer
/// of its longest write-blocking lock (what a write arriving as it was
/// taken waits) and the traffic's longest write wait, each projected to
/// production when the rehearsal projected it.
fn rehearsed_blocking(run: &RehearsalRun, limit_ms: f64) -> Vec<Check> {
    let limit = crate::format::ms(limit_ms);
    let mut tables: Vec<&str> = run.held.iter().map(|h| h.table.as_str()).collect();
    let writes = || {
        run.blocked
            .iter()
            .filter(|b| b.operation == Operation::Write)
    };
    tables.extend(writes().map(|b| b.table.as_str()));
    tables.sort();
    tables.dedup();
    let how = |p: Option<f64>, ms: f64| match p {
        Some(p) => (p, "projected to production"),
        None => (ms, "measured in the rehearsal"),
    };
    let checks: Vec<Check> = tables
        .into_iter()
        .map(|t| {
            let held = run.held.iter().find(|h| h.table == t).map(|h| {
                let (ms, how) = how(h.projected_ms, h.held_ms);
                let by = h
                    .taken_by
                    .as_deref()
                    .map_or(String::new(), |s| format!(" by {s}"));
                (
                    ms,
                    format!("{} held {}{by}, {how}", h.mode, crate::format::ms(ms)),
                )
            });
            let waited = writes().find(|b| b.table == t).map(|b| {
                let (ms, how) = how(b.projected_ms, b.worst_blocked_ms);
                (
                    ms,
                    format!(
                        "a write waited {} for {} on {}, {how}",
                        crate::format::ms(ms),
                        b.blocking_mode,
                        b.lock_on
                    ),
                )
            });
            let ms = held.iter().chain(&waited).map(|x| x.0).fold(0.0, f64::max);
            let why: Vec<String> = held.into_iter().chain(waited).map(|x| x.1).collect();
            Check {
                policy: "blocking-deploy",
                name: t.to_string(),
                detail: format!(
                    "writes blocked {} (limit {limit}): {}",
                    crate::format::ms(ms),
                    why.join("; ")
                ),
                failed: ms > limit_ms,
            }
        })
        .collect();
    if checks.is_empty() {
        return vec![Check {
            policy: "blocking-deploy",
            name: "the migration as written".into(),
            detail: format!(
                "it held no write-blocking lock long enough to be sampled, and no write of the rehearsal's traffic waited for a lock (limit {limit})"
            ),
            failed: false,
        }];
    }
    checks
}
