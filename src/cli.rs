//! The command line: subcommands and their flags (clap derive). Each flag's
//! doc comment is its `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Measures what a schema migration's indexes do for a PostgreSQL database.
#[derive(Debug, Parser)]
#[command(name = "helpdesk-bench", version, about, max_term_width = 100)]
pub struct Cli {
    /// Print results and errors only, no progress.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Where to connect. Shared by every subcommand that talks to a database.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Database to use, as a libpq URL (postgres://user@host/db?sslmode=require)
    /// or key=value string (host=/run/postgresql dbname=app). Without it, a
    /// throwaway embedded PostgreSQL is started from this machine's server binaries.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "URL",
        global = true
    )]
    pub url: Option<String>,
}

/// Which migration to work with.
#[derive(Debug, Clone, Args)]
pub struct MigrationArgs {
    /// Forward migration file to use instead of the built-in 012; its rollback
    /// is NAME_rollback.sql beside it.
    #[arg(long, value_name = "FILE", global = true)]
    pub migration: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply, roll back or inspect the migration on a database.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        migration: MigrationArgs,
    },
    /// Prove migration 012 correct. Without a URL: build the base schema in a
    /// fresh embedded database, insert rows, apply 012, run the spec's checks,
    /// roll back and compare. With a URL: run the read-only checks there.
    Verify {
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Start a throwaway embedded PostgreSQL, print how to connect, and keep
    /// it running until Ctrl-C; then stop it and remove its files.
    Server,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply the forward migration in one transaction, timing each statement.
    Up,
    /// Apply the rollback in one transaction.
    Down,
    /// Say whether the database holds the base schema, the migration, or
    /// something else, and what differs.
    Status,
    /// Create the pre-migration base schema in an empty database.
    Base,
}
