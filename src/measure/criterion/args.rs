//! Criterion's command-line flags as this tool needs them. Criterion parses
//! its own arguments but offers no getters, so the benches read the same
//! argv: which baseline is saved or compared against, and the filter that
//! makes a run partial.

use std::time::SystemTime;

/// Criterion flags that take a value (criterion 0.5's `configure_from_args`):
/// the word after them is a value, never the filter.
const VALUE_FLAGS: &[&str] = &[
    "--color",
    "--colour",
    "-c",
    "--save-baseline",
    "--baseline",
    "--baseline-lenient",
    "--format",
    "--profile-time",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--plotting-backend",
    "--output-format",
];

/// How a run relates to a named baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineMode {
    /// No baseline flag: criterion compares with, then overwrites, `base`.
    Default,
    /// `--save-baseline NAME`: compares with, then overwrites, `NAME`.
    Save(String),
    /// `--baseline NAME` (`strict`) or `--baseline-lenient NAME`: compares
    /// with `NAME` and leaves it as it is.
    Compare { name: String, strict: bool },
}

/// What the bench needs to know of criterion's argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriterionArgs {
    pub baseline: BaselineMode,
    /// The first positional argument: criterion's benchmark filter.
    pub filter: Option<String>,
    /// When the process parsed its arguments: criterion output older than
    /// this was not written by this run.
    pub started: SystemTime,
}

impl CriterionArgs {
    /// Reads the process's own arguments.
    pub fn from_env() -> CriterionArgs {
        CriterionArgs::parse(std::env::args().skip(1))
    }

    /// Reads arguments as criterion gets them (without the program name).
    /// Both `--flag VALUE` and `--flag=VALUE` are understood; a later flag
    /// wins, as with criterion's.
    pub fn parse<I: IntoIterator<Item = S>, S: Into<String>>(args: I) -> CriterionArgs {
        let mut baseline = BaselineMode::Default;
        let mut filter = None;
        let mut it = args.into_iter().map(Into::into);
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            if !flag.starts_with('-') || flag == "-" {
                filter.get_or_insert(arg);
                continue;
            }
            if !VALUE_FLAGS.contains(&flag.as_str()) {
                continue;
            }
            let Some(value) = inline.or_else(|| it.next()) else {
                break;
            };
            match flag.as_str() {
                "--save-baseline" => baseline = BaselineMode::Save(value),
                "--baseline" => {
                    baseline = BaselineMode::Compare {
                        name: value,
                        strict: true,
                    }
                }
                "--baseline-lenient" => {
                    baseline = BaselineMode::Compare {
                        name: value,
                        strict: false,
                    }
                }
                _ => {}
            }
        }
        CriterionArgs {
            baseline,
            filter,
            started: SystemTime::now(),
        }
    }

    /// The baseline folder criterion compares each benchmark with.
    pub fn compared_with(&self) -> &str {
        match &self.baseline {
            BaselineMode::Default => "base",
            BaselineMode::Save(n) | BaselineMode::Compare { name: n, .. } => n,
        }
    }

    /// The name given with `--baseline` or `--baseline-lenient`.
    pub fn compare_name(&self) -> Option<&str> {
        match &self.baseline {
            BaselineMode::Compare { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The name given with `--save-baseline`.
    pub fn save_name(&self) -> Option<&str> {
        match &self.baseline {
            BaselineMode::Save(name) => Some(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> CriterionArgs {
        CriterionArgs::parse(args.iter().copied())
    }

    #[test]
    fn plain_bench_run_compares_with_base_and_has_no_filter() {
        let a = parse(&["--bench"]);
        assert_eq!(a.baseline, BaselineMode::Default);
        assert_eq!(a.filter, None);
        assert_eq!(a.compared_with(), "base");
    }

    #[test]
    fn baseline_flags_in_both_spellings() {
        let a = parse(&["--bench", "--save-baseline", "before-012"]);
        assert_eq!(a.save_name(), Some("before-012"));
        assert_eq!(a.compared_with(), "before-012");
        let a = parse(&["--bench", "--baseline=before-012"]);
        assert_eq!(
            a.baseline,
            BaselineMode::Compare {
                name: "before-012".into(),
                strict: true
            }
        );
        let a = parse(&["--baseline-lenient", "b", "--bench"]);
        assert_eq!(a.compare_name(), Some("b"));
        assert_eq!(
            a.baseline,
            BaselineMode::Compare {
                name: "b".into(),
                strict: false
            }
        );
    }

    #[test]
    fn filter_is_the_first_positional_not_a_flag_value() {
        let a = parse(&[
            "--bench",
            "--sample-size",
            "10",
            "--baseline",
            "before",
            "newest_messages",
            "other",
        ]);
        assert_eq!(a.filter.as_deref(), Some("newest_messages"));
        assert_eq!(a.compare_name(), Some("before"));
        let a = parse(&["-c", "never", "--exact", "awaiting_queue/current_schema"]);
        assert_eq!(a.filter.as_deref(), Some("awaiting_queue/current_schema"));
        let a = parse(&["--bench", "--color=always", "--noplot"]);
        assert_eq!(a.filter, None);
    }

    #[test]
    fn a_flag_missing_its_value_is_ignored() {
        let a = parse(&["--bench", "--baseline"]);
        assert_eq!(a.baseline, BaselineMode::Default);
    }
}
