//! Which PostgreSQL versions the tool works with, checked on the first
//! connection to a server and before an embedded cluster is made, and the
//! features that arrived after the oldest supported one.
//!
//! PostgreSQL 13 to 18 are supported and tested (`tests/pg_matrix.rs`).
//! Older servers are refused in one line before anything runs: they lack
//! what the tool relies on throughout (`DROP DATABASE … WITH (FORCE)` is 13,
//! for one), so they would fail late, in the middle of a run. Newer servers
//! are tried with a warning: every version gate here is "this release or
//! later", a new major keeps the catalog the tool reads, and refusing would
//! lock a team out of its own upgrade until the tool catches up.

use std::sync::Once;

use tokio_postgres::GenericClient;

use crate::error::{Context, Error, Result};

/// The oldest supported major version.
pub const MIN_MAJOR: u32 = 13;
/// The newest major version the tool is tested on; newer ones are tried.
pub const MAX_TESTED_MAJOR: u32 = 18;

/// A server's version, as `server_version_num` and `server_version` give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    /// e.g. `170010` for 17.10.
    pub num: u32,
    /// e.g. `17.10 (Debian 17.10-1.pgdg120+1)`.
    pub text: String,
}

impl ServerVersion {
    /// Reads the version of the server `client` is connected to.
    pub async fn of(client: &impl GenericClient) -> Result<ServerVersion> {
        let row = client
            .query_one(
                "SELECT current_setting('server_version_num')::int4, current_setting('server_version')",
                &[],
            )
            .await
            .context("reading the server version")?;
        Ok(ServerVersion {
            num: u32::try_from(row.get::<_, i32>(0)).unwrap_or(0),
            text: row.get(1),
        })
    }

    /// The major version, e.g. 17 (from 10 on, the first number).
    pub fn major(&self) -> u32 {
        self.num / 10_000
    }

    /// True from major `major` on.
    pub fn at_least(&self, major: u32) -> bool {
        self.major() >= major
    }

    /// `pg_locks.waitstart`, the server's own time a lock wait began (14).
    pub fn has_lock_waitstart(&self) -> bool {
        self.at_least(14)
    }

    /// `pg_stat_force_next_flush()`, cumulative statistics in shared
    /// memory instead of a collector process (15).
    pub fn has_stats_flush(&self) -> bool {
        self.at_least(15)
    }
}

/// Refuses a server older than [`MIN_MAJOR`], naming `what` (a server or a
/// binaries directory), the version found, the supported range and `next`,
/// what to do; warns once per process about one newer than
/// [`MAX_TESTED_MAJOR`].
pub fn check(what: &str, major: u32, version: &str, next: &'static str) -> Result<()> {
    if major < MIN_MAJOR {
        return Err(Error::UnsupportedServer {
            what: what.to_string(),
            found: version.to_string(),
            min: MIN_MAJOR,
            max: MAX_TESTED_MAJOR,
            next,
        });
    }
    if major > MAX_TESTED_MAJOR {
        static WARNED: Once = Once::new();
        WARNED.call_once(|| {
            tracing::warn!(
                "{what} runs PostgreSQL {version}, newer than the versions helpdesk-bench is tested on ({MIN_MAJOR} to {MAX_TESTED_MAJOR}); trying it anyway"
            );
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(num: u32) -> ServerVersion {
        ServerVersion {
            num,
            text: String::new(),
        }
    }

    #[test]
    fn majors_and_features_by_version() {
        assert_eq!(v(130023).major(), 13);
        assert_eq!(v(180004).major(), 18);
        assert!(!v(130023).has_lock_waitstart());
        assert!(v(140001).has_lock_waitstart());
        assert!(!v(140023).has_stats_flush());
        assert!(v(150018).has_stats_flush());
    }

    #[test]
    fn older_than_13_is_refused_in_one_line_naming_version_and_range() {
        let e = check("db@host:5432/app", 12, "12.22", "upgrade").unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, Error::UnsupportedServer { .. }));
        assert!(text.contains("PostgreSQL 12.22"), "{text}");
        assert!(text.contains("13 to 18"), "{text}");
        assert!(!text.contains('\n'), "{text}");
        assert!(check("x", 9, "9.6.24", "").is_err());
    }

    #[test]
    fn supported_and_newer_versions_are_accepted() {
        for major in 13..=18 {
            assert!(check("x", major, "x", "").is_ok(), "{major}");
        }
        // Newer than tested: a warning, not a refusal.
        assert!(check("x", 19, "19beta1", "").is_ok());
    }
}
