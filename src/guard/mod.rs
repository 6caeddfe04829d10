//! The guard: a process of its own that puts a user's database back should
//! the tool stop without doing it itself (an error, Ctrl-C, SIGTERM, even
//! SIGKILL). `load --allow-index-changes` uses one to put the migration's
//! indexes back as found; a scratch database on a user's server uses one
//! to be dropped.
//!
//! The guard is this tool's own binary, re-executed as the hidden
//! subcommand `helpdesk-bench __guard` ([`exe`] says how the binary is
//! found, also from a test or bench binary), so it needs no client such as
//! `psql`: it connects with the tool's own code, TLS included. Its orders
//! (connection settings, password included, and what to undo) come as the
//! first line on its stdin, never on a command line or in the environment
//! ([`wire`]). It then waits on that pipe, ignoring SIGINT, SIGTERM and
//! SIGHUP in a process group of its own, for `done` (the tool undid the
//! change itself and read it back) or for the pipe to close without it.
//! Then it undoes the change with a `lock_timeout`, [`TRIES`] times at
//! most, reads the catalog back ([`Undo::verify`]) and exits
//! ([`serve`]). Each step, every failure, the verification and any SQL
//! still to run go to an account file in the run folder ([`account`]), and
//! failures to stderr too, so a killed run still leaves an account.
//!
//! The tool's side is [`Guard`]: dropping one only closes the pipe (it never
//! waits); [`Guard::fire`] and [`settle`] await the guard's verdict.

pub mod account;
pub mod exe;
mod handle;
mod serve;
mod undo;
mod wire;

use std::time::Duration;

pub use exe::{mark_tool_binary, EXE_ENV};
pub use handle::{settle, Guard, Outcome};
pub use serve::serve;
pub use undo::{Undo, Verdict};

/// The hidden subcommand that runs a guard.
pub const COMMAND: &str = "__guard";
/// The account file of `load`'s guard, in its run folder.
pub const ACCOUNT_FILE: &str = "guard.log";
/// How many times the guard tries to undo the change.
pub const TRIES: u32 = 4;
/// How long each try waits for a lock held by another session.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one statement of a try may run (an index build on a large
/// table takes minutes), as for the tool's own measuring session.
pub const STATEMENT_TIMEOUT: Duration = crate::schema::STATEMENT_TIMEOUT;

/// Beyond its statement timeout, how long one try may go without an
/// answer before the guard gives up on it (a server gone silent).
const SLACK: Duration = Duration::from_secs(30);

/// The pause after failed try `n` (1-based): 1 s, 2 s, 4 s.
pub fn pause_after(n: u32) -> Duration {
    Duration::from_secs(1 << (n.saturating_sub(1)).min(4))
}

/// The account file of a scratch database's guard in folder `dir`.
pub fn scratch_account(dir: &std::path::Path, database: &str) -> std::path::PathBuf {
    dir.join(format!("guard-{database}.log"))
}
