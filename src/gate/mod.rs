//! `--fail-on`: the gate a migration's pull request passes or fails.
//! Each policy turns what a run measured into checks ([`checks`]), each
//! passing or failing with its evidence; a command exits 1 when any check
//! fails, naming each in one line, and writes every check as JUnit XML
//! ([`junit`]) for the CI system to show. A policy the run cannot judge
//! (a regression in a run that compared nothing) is an error, never a pass.
//!
//! Policies, comma-separated or repeated: `regression` (a read slower past
//! the verdict threshold, its whole interval), `plan` (a plan breaking a
//! catalogue assertion), `unused-index` (an index of the migration no
//! catalogue plan uses), `blocking-deploy=DURATION` (the migration as
//! written blocks writes longer than that).

pub mod checks;
pub mod junit;

use std::time::Duration;

use crate::error::{Error, Result};

/// The variable `cargo bench` (and every command with `--fail-on`) reads.
pub const FAIL_ON_ENV: &str = "HELPDESK_BENCH_FAIL_ON";

/// One rule a run must keep.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    Regression,
    Plan,
    UnusedIndex,
    BlockingDeploy(Duration),
}

impl Policy {
    /// The name the output and the JUnit suite use.
    pub fn name(&self) -> &'static str {
        match self {
            Policy::Regression => "regression",
            Policy::Plan => "plan",
            Policy::UnusedIndex => "unused-index",
            Policy::BlockingDeploy(_) => "blocking-deploy",
        }
    }

    fn parse(word: &str) -> std::result::Result<Policy, String> {
        let word = word.trim();
        match word.split_once('=') {
            None if word == "regression" => Ok(Policy::Regression),
            None if word == "plan" => Ok(Policy::Plan),
            None if word == "unused-index" => Ok(Policy::UnusedIndex),
            None if word == "blocking-deploy" => Err(
                "blocking-deploy needs its limit: blocking-deploy=DURATION, e.g. blocking-deploy=5s"
                    .into(),
            ),
            Some(("blocking-deploy", limit)) => {
                crate::duration::parse(limit).map(Policy::BlockingDeploy)
            }
            _ => Err(format!(
                "{word:?} is not a policy; use regression, plan, unused-index or blocking-deploy=DURATION"
            )),
        }
    }
}

/// The policies a run is held to; empty: no gate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policies(pub Vec<Policy>);

impl Policies {
    /// `regression,plan,blocking-deploy=5s`: for clap's `value_parser` too.
    pub fn parse(text: &str) -> std::result::Result<Policies, String> {
        let mut out: Vec<Policy> = Vec::new();
        for word in text.split(',').filter(|w| !w.trim().is_empty()) {
            let p = Policy::parse(word)?;
            out.retain(|q| q.name() != p.name());
            out.push(p);
        }
        Ok(Policies(out))
    }

    /// The policies `HELPDESK_BENCH_FAIL_ON` names (none when unset).
    pub fn from_env() -> Result<Policies> {
        match std::env::var(FAIL_ON_ENV) {
            Ok(text) => Policies::parse(&text)
                .map_err(|why| Error::BadInput(format!("{FAIL_ON_ENV}: {why}"))),
            Err(_) => Ok(Policies::default()),
        }
    }

    /// These and the ones of `more` (a flag's beside the variable's).
    pub fn with(mut self, more: &[Policy]) -> Policies {
        for p in more {
            self.0.retain(|q| q.name() != p.name());
            self.0.push(p.clone());
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Refuses, before any work, a policy the command `what` measures
    /// nothing for (`allowed` names those it does), naming what does.
    pub fn judged_by(&self, what: &str, allowed: &[&str]) -> Result<()> {
        match self.0.iter().find(|p| !allowed.contains(&p.name())) {
            None => Ok(()),
            Some(p) => Err(Error::BadInput(format!(
                "--fail-on {}: {what} does not measure it (it judges {}); {}",
                p.name(),
                allowed.join(", "),
                match p {
                    Policy::Regression => "gate latency with `cargo bench` or `load`",
                    Policy::Plan | Policy::UnusedIndex =>
                        "gate plans with `cargo bench` or `explain`",
                    Policy::BlockingDeploy(_) => "gate the deploy with `rehearse` or `cargo bench`",
                }
            ))),
        }
    }
}

/// One check of one policy: a query, an index, a lock.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub policy: &'static str,
    /// What was checked (a query, an index, a table).
    pub name: String,
    /// The evidence, passing or not.
    pub detail: String,
    pub failed: bool,
}

/// Every check of a run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub checks: Vec<Check>,
}

impl Outcome {
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.failed)
    }

    /// One line per failed check, then the tally, for the console.
    pub fn lines(&self, what: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .failures()
            .map(|c| format!("GATE FAILED  {}: {}: {}", c.policy, c.name, c.detail))
            .collect();
        let failed = out.len();
        out.push(format!(
            "{what}: gate {} ({} of {} checks failed)",
            if failed == 0 { "passed" } else { "failed" },
            failed,
            self.checks.len()
        ));
        out
    }

    /// 0 when every check passed, else 1 ([`crate::error::exit`]).
    pub fn exit_code(&self) -> u8 {
        if self.failures().next().is_some() {
            crate::error::exit::GATE_FAILED
        } else {
            crate::error::exit::DONE
        }
    }
}

/// Holds what a run measured to `policies`, and writes every check to
/// `dir/junit.xml`.
pub fn judge(
    policies: &Policies,
    evidence: &checks::Evidence,
    dir: &std::path::Path,
) -> Result<Outcome> {
    let outcome = checks::evaluate(policies, evidence)?;
    junit::write(&outcome, evidence.what, &dir.join("junit.xml"))?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_read_as_written_and_bad_ones_say_what_is_allowed() {
        let p = Policies::parse("regression, plan,blocking-deploy=5s").unwrap();
        assert_eq!(
            p.0,
            [
                Policy::Regression,
                Policy::Plan,
                Policy::BlockingDeploy(Duration::from_secs(5))
            ]
        );
        assert_eq!(
            Policies::parse("unused-index,unused-index").unwrap().0,
            [Policy::UnusedIndex]
        );
        let e = Policies::parse("regresion").unwrap_err();
        assert!(e.contains("regression, plan, unused-index"), "{e}");
        let e = Policies::parse("blocking-deploy").unwrap_err();
        assert!(e.contains("blocking-deploy=DURATION"), "{e}");
        assert!(Policies::parse("blocking-deploy=soon").is_err());
        assert!(Policies::parse("").unwrap().is_empty());
    }

    #[test]
    fn a_command_refuses_a_policy_it_does_not_measure() {
        let p = Policies::parse("plan,regression").unwrap();
        let e = p
            .judged_by("explain", &["plan", "unused-index"])
            .unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("--fail-on regression: explain does not measure it")
                && e.contains("`cargo bench` or `load`"),
            "{e}"
        );
        assert!(p.judged_by("cargo bench", &["plan", "regression"]).is_ok());
    }
}
