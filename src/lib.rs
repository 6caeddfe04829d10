//! helpdesk-bench measures what a schema migration's indexes do for a
//! PostgreSQL database before the migration reaches production.
//!
//! The modules follow the data: [`cluster`] finds or starts a server,
//! [`schema`] applies and checks the migration fixtures.
//!
//! ```no_run
//! # async fn demo() -> helpdesk_bench::Result<()> {
//! let db = helpdesk_bench::cluster::resolve(None)?; // embedded cluster
//! let client = db.connect().await?;

//! println!("{status}");
//! # Ok(()) }
//! ```

pub mod cluster;
pub mod error;

pub use error::{Error, Result};
