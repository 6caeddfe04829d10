//! Seeding progress: an indicatif bar per table on a terminal, one plain
//! line per phase otherwise (CI, pipes), or nothing with `--quiet`. Always on
//! stderr, so stdout carries only results.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes.
pub enum Reporter {
    Quiet,
    Lines,
    Bars(MultiProgress),
}

impl Reporter {
    /// No output.
    pub fn quiet() -> Reporter {
        Reporter::Quiet
    }

    /// Bars when stderr is a terminal, else lines; nothing when `quiet`.
    pub fn auto(quiet: bool) -> Reporter {
        if quiet {
            Reporter::Quiet
        } else if std::io::stderr().is_terminal() {
            Reporter::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Reporter::Lines
        }
    }

    /// A progress handle for loading `total` rows into `table`.
    pub fn table(&self, table: &str, total: u64) -> TableProgress {
        match self {
            Reporter::Bars(multi) => {
                let bar = multi.add(ProgressBar::new(total));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>13} [{bar:30}] {human_pos}/{human_len} rows  {per_sec}  eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(table.to_string());
                TableProgress(Some(bar))
            }
            _ => TableProgress(None),
        }
    }

    /// Reports a finished phase, as pgbench does.
    pub fn phase(&self, name: &str, took: Duration, detail: &str) {
        let line = if detail.is_empty() {
            format!("seed: {name} done in {:.2} s", took.as_secs_f64())
        } else {
            format!(
                "seed: {name} done in {:.2} s ({detail})",
                took.as_secs_f64()
            )
        };
        match self {
            Reporter::Quiet => {}
            Reporter::Lines => eprintln!("{line}"),
            Reporter::Bars(multi) => {
                let _ = multi.println(line);
            }
        }
    }
}

/// One table's bar, if bars are shown.
pub struct TableProgress(Option<ProgressBar>);

impl TableProgress {
    /// Adds rows.
    pub fn inc(&self, rows: u64) {
        if let Some(b) = &self.0 {
            b.inc(rows);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
