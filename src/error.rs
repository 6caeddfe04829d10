//! The library's error type: every failure a user can cause or meet, each
//! worded so the message alone says what to do next.

use std::path::PathBuf;

/// The exit status of every command and bench: one policy, documented in
/// `docs/commands.md`.
pub mod exit {
    /// Done.
    pub const DONE: u8 = 0;
    /// A quality gate failed: the tool measured, and what it measured
    /// broke a rule the user asked it to enforce (`explain --strict`, a
    /// failing `verify` check).
    pub const GATE_FAILED: u8 = 1;
    /// The tool could not do what was asked: bad input, a runtime error,
    /// or nothing measured.
    pub const FAILED: u8 = 2;
    /// Interrupted by Ctrl-C or SIGTERM (as shells report SIGINT).
    pub const INTERRUPTED: u8 = 130;
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, from finding PostgreSQL to writing a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no PostgreSQL server binaries found (looked in {searched}); install the `postgresql` package or set DATABASE_URL")]
    NoPostgres { searched: String },

    #[error("running as root, but neither a `postgres` nor a `nobody` user exists to run the embedded server; create one or set DATABASE_URL")]
    NoUnprivilegedUser,

    #[error("{what} failed (log: {log}): {detail}")]
    ClusterStart {
        what: &'static str,
        log: PathBuf,
        detail: String,
    },

    #[error("invalid connection string: {reason}; {next}")]
    BadUrl { reason: String, next: &'static str },

    #[error("could not connect to {target}: {reason}; check that PostgreSQL is running and the host and port are right")]
    Unreachable { target: String, reason: String },

    #[error("timed out after {after:?} connecting to {target} (connect, TLS and login); check that the host and port belong to a PostgreSQL server that is up, or raise connect_timeout in the URL")]
    ConnectTimeout {
        target: String,
        after: std::time::Duration,
    },

    #[error("setting up TLS failed: {detail}; check that the system's OpenSSL libraries (libssl) are installed")]
    Tls { detail: String },

    #[error("building the connection pool failed: {detail}; this is a bug in helpdesk-bench, please report it")]
    Pool { detail: String },

    #[error("the server refused user \"{user}\" at {target}: {server}; {hint}")]
    Auth {
        user: String,
        target: String,
        /// The server's own reason (it never holds the password).
        server: String,
        /// The next step that fits the reason.
        hint: String,
    },

    #[error("database \"{db}\" does not exist at {target}; create it with `createdb {db}` or point --url at an existing database")]
    NoDatabase { db: String, target: String },

    #[error("{what} is PostgreSQL {found}, which helpdesk-bench does not support (it supports PostgreSQL {min} to {max}); {next}")]
    UnsupportedServer {
        what: String,
        found: String,
        /// The supported majors, oldest and newest tested.
        min: u32,
        max: u32,
        next: &'static str,
    },

    #[error("lost the connection to {target} while {doing}: {reason}; check that the server is still running")]
    ConnectionLost {
        target: String,
        doing: String,
        reason: String,
    },

    #[error("{doing}")]
    Sql {
        doing: String,
        #[source]
        source: tokio_postgres::Error,
    },

    /// The server refused a statement: its message, and its SQLSTATE for
    /// code to decide by ([`Error::code`]).
    #[error("{doing}: {detail}")]
    Server {
        doing: String,
        detail: String,
        code: tokio_postgres::error::SqlState,
    },

    /// An answer the tool cannot use (no plan from EXPLAIN, fewer rows
    /// stored than sent).
    #[error("{doing}: {detail}")]
    Unexpected { doing: String, detail: String },

    /// A worker of the tool's own (a load client, the lock sampler) stopped
    /// without an answer.
    #[error("{what} stopped: {detail}")]
    Stopped { what: String, detail: String },

    #[error("{doing}")]
    Encode {
        doing: String,
        #[source]
        source: serde_json::Error,
    },

    #[error(
        "{doing}: {detail}; this is a bug in helpdesk-bench's report templates, please report it"
    )]
    Render { doing: String, detail: String },

    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the base schema is missing ({missing}); load it with `psql -d DB -f fixtures/schema/base.sql` or run `helpdesk-bench migrate base`")]
    NoBaseSchema { missing: String },

    #[error("migration {name} changes tables this database does not hold ({missing}); run it against the database that has them (check --url or DATABASE_URL), or apply the migrations that create them first (--migration, repeatable, in order)")]
    MissingTables { name: String, missing: String },

    #[error("migration {name} changes tables the embedded help-desk lab does not have ({missing}); {next}")]
    LabLacksTables {
        name: String,
        missing: String,
        next: String,
    },

    #[error("verify: {name} changes tables the embedded lab does not have ({missing}); add --like URL to build them from a database that holds them, or run `helpdesk-bench verify --url URL` there")]
    VerifyNeedsSchema { name: String, missing: String },

    #[error("migration {name} is already applied; run `helpdesk-bench migrate down` to roll it back first")]
    AlreadyApplied { name: String },

    #[error("migration {name} is not applied; run `helpdesk-bench migrate up` first")]
    NotApplied { name: String },

    #[error("migration {name} has no rollback file ({expected} does not exist), so `migrate down` cannot undo it; write that file, or restore the database from a backup (benchmarking needs no rollback)")]
    NoRollback { name: String, expected: String },

    #[error("migration {name} is partly applied ({detail}); inspect with `helpdesk-bench migrate status` and repair by hand")]
    PartlyApplied { name: String, detail: String },

    #[error("the database already holds a schema ({found}); use an empty database, or drop those objects yourself")]
    NotEmpty { found: String },

    #[error(
        "migration {name} failed at statement {index} ({statement}): {detail}; nothing was changed"
    )]
    MigrationFailed {
        name: String,
        index: usize,
        statement: String,
        detail: String,
    },

    #[error("migration {name} failed at statement {index} ({statement}): {detail}; {outcome}")]
    MigrationStopped {
        name: String,
        index: usize,
        statement: String,
        detail: String,
        /// Which statements were committed, rolled back and not run, and
        /// what to do next.
        outcome: String,
    },

    #[error("{file}: {reason}")]
    BadFixture { file: String, reason: String },

    #[error("{0}")]
    BadInput(String),

    #[error("query {query} got no answer within {seconds} s under load; check that the server is up and not overloaded, or lower --clients or --rate")]
    NoAnswer { query: String, seconds: u64 },

    #[error("the statistics collector published no counts of {table} newer than this session's writes within {seconds} s; check the server log for statistics collector errors")]
    StaleStatistics { table: String, seconds: u64 },

    #[error("{file} is results format version {found}, newer than this helpdesk-bench reads (version {supported}); update helpdesk-bench to render it")]
    NewerResults {
        file: String,
        found: u64,
        supported: u32,
    },

    #[error("other sessions are using the tables whose indexes would be switched ({tables}): {sessions}; switching index states takes ACCESS EXCLUSIVE locks that would block them for the whole measurement; retry when they are idle, or pass --force (HELPDESK_BENCH_FORCE=1) to switch anyway")]
    TablesInUse { tables: String, sessions: String },

    #[error("waited {waited} for a lock on \"{table}\" held by {holders}; nothing was changed; retry when that session is done, or end it with pg_terminate_backend(pid)")]
    LockTimeout {
        table: String,
        waited: String,
        holders: String,
    },

    #[error("query {query} writes ({detail}) but is not declared a write; nothing was changed; mark it `kind = \"write\"` in the catalogue (writes run on your database only where a flag allows them)")]
    UndeclaredWrite { query: String, detail: String },

    #[error("query {query} of the catalogue cannot run here: {reason}; the database lacks it and no migration of the chain creates it, so fix the query's SQL or sample in the catalogue")]
    BrokenQuery { query: String, reason: String },

    #[error("{what} measured nothing: {why}")]
    NothingMeasured { what: String, why: String },

    #[error("no helpdesk-bench binary found to run the guard that puts your database back (looked at {looked}); nothing was changed; build it with `cargo build`, or set HELPDESK_BENCH_EXE to its path")]
    NoGuardBinary { looked: String },

    #[error("the guard process ({exe}) that puts your database back did not start: {detail}; nothing was changed; set HELPDESK_BENCH_EXE to this version's helpdesk-bench binary")]
    GuardStart { exe: PathBuf, detail: String },

    /// A restore that the catalog, read back, does not confirm; `sql` is
    /// what is still to run, printed apart as one block to paste.
    #[error("{target}: {what}; run the SQL printed below there to finish (the guard's account is in {account})")]
    NotRestored {
        what: String,
        target: String,
        account: PathBuf,
        sql: String,
    },

    #[error("interrupted; open transactions were rolled back")]
    Interrupted,

    #[error("{command} needs a database to work on: pass --url or set DATABASE_URL (an embedded cluster is thrown away when the command ends)")]
    NeedsUrl { command: &'static str },
}

/// Says what was being done when a foreign error happened, and turns it into
/// an [`Error`]: the crate's one way to wrap a failure, as anyhow's
/// `.context()` or refinery's `WrapMigrationError` do, instead of a
/// hand-written `map_err` at each call.
///
/// ```
/// use helpdesk_bench::error::Context;
/// let e = std::fs::read("/no/such/file").context("/no/such/file").unwrap_err();
/// assert!(e.to_string().starts_with("/no/such/file"));
/// ```
pub trait Context<T> {
    /// Wraps the error with `what`: the doing for a database or encoding
    /// failure, the path for a file failure.
    fn context(self, what: impl std::fmt::Display) -> Result<T>;
}

impl<T, E: Wrap> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl std::fmt::Display) -> Result<T> {
        self.map_err(|e| e.wrap(what.to_string()))
    }
}

/// A foreign error that [`Context`] can wrap.
pub trait Wrap {
    /// The [`Error`] for this failure while doing `what`.
    fn wrap(self, what: String) -> Error;
}

impl Wrap for tokio_postgres::Error {
    /// A server-side error keeps the server's message in the text.
    fn wrap(self, doing: String) -> Error {
        match self.as_db_error() {
            Some(db) => Error::Server {
                doing,
                detail: db.message().to_string(),
                code: db.code().clone(),
            },
            None => Error::Sql {
                doing,
                source: self,
            },
        }
    }
}

impl Wrap for std::io::Error {
    fn wrap(self, path: String) -> Error {
        Error::io(path, self)
    }
}

impl Wrap for serde_json::Error {
    fn wrap(self, doing: String) -> Error {
        Error::Encode {
            doing,
            source: self,
        }
    }
}

impl Wrap for minijinja::Error {
    fn wrap(self, doing: String) -> Error {
        Error::Render {
            doing,
            detail: chain(&self),
        }
    }
}

/// An error and its causes on one line, `what: because: because`, skipping
/// a cause whose text its parent already carries.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ").replace('\n', " ")
}

impl Error {
    /// The server's SQLSTATE, when the server refused something.
    pub fn code(&self) -> Option<&tokio_postgres::error::SqlState> {
        match self {
            Error::Server { code, .. } => Some(code),
            Error::Sql { source, .. } => source.code(),
            _ => None,
        }
    }

    /// The SQL a user still has to run to finish a restore, when this error
    /// says one did not complete.
    pub fn sql_to_run(&self) -> Option<&str> {
        match self {
            Error::NotRestored { sql, .. } => Some(sql),
            _ => None,
        }
    }

    /// The exit status this error ends a command with ([`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Interrupted => exit::INTERRUPTED,
            _ => exit::FAILED,
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
