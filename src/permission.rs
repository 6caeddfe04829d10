//! What the tool may do on a user's database beyond reading it. Each
//! permission is one flag and one environment variable with one meaning,
//! and every boolean variable is read by one parser ([`env_flag`]), which
//! refuses a value it does not know rather than reading it as "off".

use crate::error::{Error, Result};

/// One thing a user may allow, as a flag and an environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// The command-line flag, e.g. `--commit-writes` (empty when there is
    /// none: the variable is read by `cargo bench`).
    pub flag: &'static str,
    /// The environment variable, e.g. `HELPDESK_BENCH_COMMIT_WRITES`.
    pub env: &'static str,
}

/// Switch the migration's indexes on the user's database to compare states
/// (rolled back by the benches and `explain`, committed and put back by
/// `load`).
pub const INDEX_CHANGES: Permission = Permission {
    flag: "--allow-index-changes",
    env: "HELPDESK_BENCH_ALLOW_INDEX_CHANGES",
};

/// Switch index states even while other sessions use the tables.
pub const FORCE: Permission = Permission {
    flag: "--force",
    env: "HELPDESK_BENCH_FORCE",
};

/// `load`: run the catalogue's writes on the user's database, committed
/// into their tables.
pub const COMMIT_WRITES: Permission = Permission {
    flag: "--commit-writes",
    env: "HELPDESK_BENCH_COMMIT_WRITES",
};

/// `advise`, `rehearse`: create, fill, change and drop scratch databases
/// of the tool's own on the user's server (never their tables).
pub const SCRATCH: Permission = Permission {
    flag: "--allow-scratch",
    env: "HELPDESK_BENCH_ALLOW_SCRATCH",
};

/// `benches/writes.rs`: run the write workloads on `DATABASE_URL` inside
/// transactions that are rolled back. No row is kept, but the sequences
/// they draw ids from advance (`nextval` is never rolled back).
pub const ROLLED_BACK_WRITES: Permission = Permission {
    flag: "",
    env: "HELPDESK_BENCH_ALLOW_ROLLED_BACK_WRITES",
};

/// `cargo bench` on a database the tool did not seed: show parameter
/// values as they are in `results.json` and the pages (they are hashed
/// otherwise, since the pages go into pull requests). Not a permission on
/// the database, so it has no flag of its own here.
pub const SHOW_PARAMETERS_ENV: &str = "HELPDESK_BENCH_SHOW_PARAMETERS";

/// The variable that once meant both [`COMMIT_WRITES`] and [`SCRATCH`].
pub const RETIRED_WRITES_ENV: &str = "HELPDESK_BENCH_ALLOW_WRITES";

impl Permission {
    /// True when the flag was given or the variable is on; an unknown
    /// value of the variable is an error.
    pub fn granted(&self, flag: bool) -> Result<bool> {
        Ok(flag || env_flag(self.env)?)
    }

    /// How to grant it, for messages: `--commit-writes (or
    /// HELPDESK_BENCH_COMMIT_WRITES=1)`.
    pub fn how(&self) -> String {
        match self.flag {
            "" => format!("{}=1", self.env),
            flag => format!("{flag} (or {}=1)", self.env),
        }
    }
}

/// A boolean environment variable: `1`, `true`, `yes`, `on` (any case) for
/// on; `0`, `false`, `no`, `off` for off; unset for off. Anything else,
/// the empty string included, is refused in one line.
pub fn env_flag(name: &str) -> Result<bool> {
    match std::env::var(name) {
        Ok(v) => parse_flag(name, &v),
        Err(std::env::VarError::NotPresent) => Ok(false),
        Err(std::env::VarError::NotUnicode(_)) => parse_flag(name, "(not UTF-8)"),
    }
}

fn parse_flag(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::BadInput(format!(
            "{name}={value:?} is neither on nor off; set it to 1, true, yes or on, or to 0, false, no or off (or unset it)"
        ))),
    }
}

/// Refuses a run while the retired `HELPDESK_BENCH_ALLOW_WRITES` is set,
/// naming the permission that now means what `command` used it for.
pub fn refuse_retired(command: &str, instead: &Permission) -> Result<()> {
    if std::env::var_os(RETIRED_WRITES_ENV).is_none() {
        return Ok(());
    }
    Err(Error::BadInput(format!(
        "{RETIRED_WRITES_ENV} is no longer read, because it meant two things; for {command}, set {} instead, then unset {RETIRED_WRITES_ENV}",
        instead.how()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_on_and_off_is_read_and_nothing_else() {
        for on in ["1", "true", "TRUE", "yes", "Yes", "on", " on "] {
            assert!(parse_flag("X", on).unwrap(), "{on}");
        }
        for off in ["0", "false", "no", "OFF", "off"] {
            assert!(!parse_flag("X", off).unwrap(), "{off}");
        }
        for bad in ["", "2", "y", "enable", "1 1"] {
            let e = parse_flag("HELPDESK_BENCH_FORCE", bad)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("HELPDESK_BENCH_FORCE="), "{e}");
            assert!(e.contains("1, true, yes or on"), "{e}");
        }
    }

    #[test]
    fn each_permission_has_its_own_variable() {
        let all = [
            INDEX_CHANGES,
            FORCE,
            COMMIT_WRITES,
            SCRATCH,
            ROLLED_BACK_WRITES,
        ];
        for (i, a) in all.iter().enumerate() {
            assert_ne!(a.env, RETIRED_WRITES_ENV);
            for b in &all[i + 1..] {
                assert_ne!(a.env, b.env);
            }
        }
        assert_eq!(
            COMMIT_WRITES.how(),
            "--commit-writes (or HELPDESK_BENCH_COMMIT_WRITES=1)"
        );
        assert_eq!(
            ROLLED_BACK_WRITES.how(),
            "HELPDESK_BENCH_ALLOW_ROLLED_BACK_WRITES=1"
        );
    }
}
