//! The gate's checks as JUnit XML, which CI systems (GitHub Actions
//! through a reporter action, GitLab, Jenkins, Buildkite) show natively:
//! one test suite per policy, one test case per check, a failure with the
//! check's evidence for each one that failed. Written with `quick-junit`.

use std::path::Path;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::Outcome;
use crate::error::{Context, Result};

/// Writes `outcome` to `path`, the report named after `what` (the command).
pub fn write(outcome: &Outcome, what: &str, path: &Path) -> Result<()> {
    let mut report = Report::new(format!("helpdesk-bench {what}"));
    let mut policies: Vec<&str> = outcome.checks.iter().map(|c| c.policy).collect();
    policies.dedup();
    for policy in policies {
        let mut suite = TestSuite::new(policy);
        for c in outcome.checks.iter().filter(|c| c.policy == policy) {
            let status = if c.failed {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(c.detail.clone());
                s
            } else {
                TestCaseStatus::success()
            };
            let mut case = TestCase::new(c.name.clone(), status);
            case.set_classname(format!("helpdesk-bench.{policy}"));
            case.set_system_out(c.detail.clone());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    let xml = report
        .to_string()
        .map_err(|e| crate::error::Error::BadInput(format!("writing JUnit XML: {e}")))?;
    std::fs::write(path, xml).context(path.display())
}
