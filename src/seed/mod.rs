//! The seeder: fills the help-desk schema with synthetic users,
//! conversations and messages that are realistic (see [`model`]),
//! deterministic for a seed whatever the number of jobs, and loaded the way
//! pgbench loads: one transaction, tables created or truncated in it, binary
//! `COPY ... FREEZE`, keys and indexes after the data, `ANALYZE` at the end.
//!
//! ```no_run
//! # async fn demo() -> helpdesk_bench::Result<()> {
//! use helpdesk_bench::{cluster, seed};
//! let db = cluster::scratch_database("demo").await?;
//! let cfg = seed::SeedConfig::new(seed::Scale::Tiny.counts());
//! let report = seed::run(&db, &cfg, &seed::Reporter::quiet()).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

mod ceiling;
mod conversations;
mod copy;
mod keys;
mod load;
mod messages;
pub mod model;
mod progress;
mod text;
mod users;

use std::fmt;

pub use ceiling::{
    lines as ceiling_lines, measure as measure_ceiling, measure_loaded as measure_ceiling_of,
    CeilingRow, Loaded,
};
pub use copy::{copy_in, statement as copy_statement, ChunkSource, CopyStats, Encoder};
pub use load::{run, tables, PhaseTime, SeedReport, TableSpec, TABLES};
pub use progress::Reporter;

use crate::error::{Error, Result};

/// Row counts for one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub users: u64,
    /// How many of the users are help-desk staff or admins.
    pub staff: u64,
    pub conversations: u64,
    pub messages: u64,
}

impl Counts {
    /// Checks the counts make sense together.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::BadInput(m));
        for (name, n) in [
            ("--users", self.users),
            ("--conversations", self.conversations),
            ("--messages", self.messages),
        ] {
            if n == 0 {
                return bad(format!("{name} must be at least 1"));
            }
        }
        if self.messages < self.conversations {
            return bad(format!(
                "--messages ({}) is smaller than --conversations ({}); every conversation needs a message",
                self.messages, self.conversations
            ));
        }
        if self.staff == 0 || self.staff >= self.users {
            return bad(format!(
                "--staff ({}) must be at least 1 and below --users ({})",
                self.staff, self.users
            ));
        }
        Ok(())
    }

    /// All rows.
    pub fn total(&self) -> u64 {
        self.users + self.conversations + self.messages
    }
}

/// The named sizes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    Tiny,
    Small,
    Medium,
    Large,
}

impl Scale {
    /// The preset's row counts.
    pub fn counts(self) -> Counts {
        let (users, staff, conversations, messages) = match self {
            Scale::Tiny => (200, 20, 2_000, 20_000),
            Scale::Small => (5_000, 100, 100_000, 1_000_000),
            Scale::Medium => (50_000, 500, 1_000_000, 10_000_000),
            Scale::Large => (500_000, 2_000, 10_000_000, 100_000_000),
        };
        Counts {
            users,
            staff,
            conversations,
            messages,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Tiny => "tiny",
            Scale::Small => "small",
            Scale::Medium => "medium",
            Scale::Large => "large",
        }
    }
}

impl std::str::FromStr for Scale {
    type Err = Error;
    fn from_str(s: &str) -> Result<Scale> {
        <Scale as clap::ValueEnum>::from_str(s, true).map_err(|_| {
            Error::BadInput(format!(
                "unknown scale {s:?}; use tiny, small, medium or large"
            ))
        })
    }
}

/// Which shape of schema the rows are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Shape {
    /// The schema before 012: no role, status or help-desk columns.
    #[value(name = "base")]
    Base,
    /// The schema with 012 applied.
    #[value(name = "012")]
    Migrated,
}

impl Shape {
    /// The shape of the rows before `m` runs: base when `m` adds 012's
    /// columns (it is 012, or a copy such as a Prisma folder of it), else 012.
    pub fn before(m: &crate::schema::Migration) -> Result<Shape> {
        let key = |c: &crate::schema::ColumnDef| (c.table.clone(), c.column.clone());
        let adds: Vec<_> = m.objects.columns.iter().map(key).collect();
        let builtin = crate::schema::Migration::builtin()?;
        let adds_012 = builtin
            .objects
            .columns
            .iter()
            .all(|c| adds.contains(&key(c)));
        Ok(if adds_012 {
            Shape::Base
        } else {
            Shape::Migrated
        })
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shape::Base => "base",
            Shape::Migrated => "012",
        })
    }
}

/// Everything a seed needs to know.
#[derive(Debug, Clone)]
pub struct SeedConfig {
    pub counts: Counts,
    pub seed: u64,
    /// Generator threads feeding the COPY stream.
    pub jobs: usize,
    /// The shape to create in an empty database; `None` means 012, or the
    /// shape the database already has.
    pub shape: Option<Shape>,
    /// Replace rows already in the tables.
    pub truncate: bool,
    /// Migrations applied after the rows are loaded, in order, inside the
    /// seed's transaction; those already applied are skipped. The rows are
    /// generated for the 012 shape, so a chain such as 012 then 013 seeds
    /// 012's data and then applies 013.
    pub migrations: Vec<crate::schema::Migration>,
}

impl SeedConfig {
    /// Defaults: seed 1, one job per core, 012 shape.
    pub fn new(counts: Counts) -> SeedConfig {
        SeedConfig {
            counts,
            seed: 1,
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            shape: None,
            truncate: false,
            migrations: Vec::new(),
        }
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        if self.jobs == 0 {
            return Err(Error::BadInput("--jobs must be at least 1".into()));
        }
        self.counts.validate()
    }
}

/// What every generator shares: the config, the text pools, the
/// per-conversation message counts and the distributions.
pub struct Context {
    pub seed: u64,
    pub counts: Counts,
    pub shape: Shape,
    vocab: text::Vocabulary,
    message_counts: Vec<u32>,
    /// Index of the first message of each conversation chunk.
    chunk_offsets: Vec<u64>,
    agents: model::Ranked,
    customers: model::Ranked,
    sources: model::Ranked,
    /// Every user's id and e-mail, which conversations refer to.
    user_ids: Vec<[u8; 25]>,
    user_emails: Vec<Box<str>>,
}

impl Context {
    /// Prepares the pools and allocations for a seed.
    pub fn new(seed: u64, counts: Counts, shape: Shape) -> Context {
        let message_counts =
            conversations::allocate_messages(seed, counts.conversations, counts.messages);
        let chunk_offsets = message_counts
            .chunks(conversations::CHUNK as usize)
            .scan(0u64, |acc, chunk| {
                let start = *acc;
                *acc += chunk.iter().map(|&c| c as u64).sum::<u64>();
                Some(start)
            })
            .collect();
        let mut ctx = Context {
            seed,
            counts,
            shape,
            vocab: text::Vocabulary::new(seed),
            message_counts,
            chunk_offsets,
            agents: model::Ranked::new(counts.staff, model::AGENT_ZIPF),
            customers: conversations::customers(counts.conversations),
            sources: model::Ranked::new(model::SOURCES as u64, model::SOURCE_ZIPF),
            user_ids: Vec::new(),
            user_emails: Vec::new(),
        };
        let (ids, emails) = (0..counts.users)
            .map(|i| {
                let who = users::identity(&ctx, i, &mut keys::rng(seed, keys::Stream::User, i));
                (who.id, who.email.into_boxed_str())
            })
            .unzip();
        ctx.user_ids = ids;
        ctx.user_emails = emails;
        ctx
    }
}
