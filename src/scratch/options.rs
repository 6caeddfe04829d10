//! How a scratch copy of a team's database is made: where its rows come
//! from ([`Data`]: the team's rows, or rows generated from its statistics),
//! what fraction of them, and the most table data it may take. Read from
//! the command's flags or, for `cargo bench`, from the environment.

use crate::error::{Error, Result};

/// The default most table data a copy takes, in MB.
pub const DEFAULT_LIMIT_MB: u64 = 1024;
/// Environment variable: the fraction of rows to copy (`--sample`).
pub const SAMPLE_ENV: &str = "HELPDESK_BENCH_SAMPLE";
/// Environment variable: the most table data to copy, in MB.
pub const LIMIT_ENV: &str = "HELPDESK_BENCH_COPY_LIMIT_MB";
/// Environment variable: where the rows come from (`--data`).
pub const DATA_ENV: &str = "HELPDESK_BENCH_DATA";

/// Where a scratch copy's rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Data {
    /// The team's own rows, streamed through the tool (held in memory
    /// only, never written to disk).
    #[default]
    Copy,
    /// Rows generated from the source's statistics (`pg_stats`, as `seed
    /// --like` does): no row of the source is read, and no e-mail, name or
    /// free text of it reaches the copy.
    Synth,
}

impl Data {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Data::Copy => "copy",
            Data::Synth => "synth",
        }
    }
}

/// How much of the team's data a scratch copy takes, and from where.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyOptions {
    pub data: Data,
    /// About this fraction of the source's rows: a foreign-key-consistent
    /// sample in copy mode, the scale of the generated tables in synth
    /// mode; `None`: as many rows as the source has.
    pub sample: Option<f64>,
    /// The most table data to copy, in bytes.
    pub limit_bytes: u64,
    /// The generator's seed in synth mode.
    pub seed: u64,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            data: Data::Copy,
            sample: None,
            limit_bytes: DEFAULT_LIMIT_MB * 1_000_000,
            seed: 1,
        }
    }
}

impl CopyOptions {
    /// A sample of `fraction` (checked to be in (0, 1]) under `limit_mb`.
    pub fn new(data: Data, sample: Option<f64>, limit_mb: Option<u64>) -> Result<CopyOptions> {
        if let Some(f) = sample.filter(|f| !(*f > 0.0 && *f <= 1.0)) {
            return Err(Error::BadInput(format!(
                "--sample {f} is not a fraction of the rows; pass a number above 0 and at most 1, such as 0.1"
            )));
        }
        Ok(CopyOptions {
            data,
            sample,
            limit_bytes: limit_mb.unwrap_or(DEFAULT_LIMIT_MB) * 1_000_000,
            seed: 1,
        })
    }

    /// From `HELPDESK_BENCH_DATA`, `HELPDESK_BENCH_SAMPLE` and
    /// `HELPDESK_BENCH_COPY_LIMIT_MB`.
    pub fn from_env() -> Result<CopyOptions> {
        fn var<T: std::str::FromStr>(name: &str, what: &str) -> Result<Option<T>> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => v.trim().parse().map(Some).map_err(|_| {
                    Error::BadInput(format!("{name}={v} is not {what}; fix or unset it"))
                }),
                _ => Ok(None),
            }
        }
        let data = match var::<String>(DATA_ENV, "copy or synth")?.as_deref() {
            None | Some("copy") => Data::Copy,
            Some("synth") => Data::Synth,
            Some(v) => {
                return Err(Error::BadInput(format!(
                    "{DATA_ENV}={v} is not copy or synth; fix or unset it"
                )))
            }
        };
        CopyOptions::new(
            data,
            var(SAMPLE_ENV, "a fraction such as 0.1")?,
            var(LIMIT_ENV, "a whole number of MB")?,
        )
    }
}
