//! helpdesk-bench measures what a schema migration's indexes do for a
//! PostgreSQL database before the migration reaches production.
//!
//! The modules follow the data: [`cluster`] finds or starts a server,
//! [`schema`] applies and checks the migration fixtures, [`seed`] fills the
//! tables, and [`explain`] reads query plans, and
//! [`load`] runs the queries from concurrent clients, and [`capture`]
//! writes a catalogue from the statements a server really runs; [`results`]
//! is what every measurement writes, [`report`] renders it, and [`gate`]
//! holds it to a pull request's `--fail-on` policies. [`guard`] puts a user's
//! database back should the tool stop half way. [`sql`] is the leaf they all
//! share for quoting identifiers.
//!
//! ```no_run
//! # async fn demo() -> helpdesk_bench::Result<()> {
//! use helpdesk_bench::{cluster, schema};
//! let db = cluster::resolve(None)?; // the embedded cluster
//! let client = db.connect().await?;
//! let status = schema::status(&client, &schema::Migration::builtin()?).await?;
//! println!("{status}");
//! # Ok(()) }
//! ```

pub mod advise;
pub mod capture;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod duration;
pub mod error;
pub mod explain;
pub mod format;
pub mod gate;
pub mod guard;
pub mod like;
pub mod load;
pub mod measure;
pub mod permission;
pub mod queries;
pub mod recreate;
pub mod rehearse;
pub mod report;
pub mod results;
pub mod schema;
pub mod scratch;
pub mod seed;
pub mod sql;
pub mod stats;
pub mod workspace;

mod fsutil;

pub use error::{Error, Result};
