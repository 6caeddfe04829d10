//! The schema under test: the SQL fixtures compiled in, the migration model
//! parsed from them, `migrate up|down|status`, catalog snapshots, and the
//! `verify` proof.

mod catalog;
mod chain;
pub mod fixtures;
mod found;
mod indexes;
mod migrate;
mod migration;
mod online;
mod session;
mod snapshot;
mod sql;
pub mod verify;

pub use catalog::{table_checksum, table_columns, user_objects, Catalog};
pub use chain::{MigrationChain, MIGRATION_ENV};
pub use found::{found, FoundDatabase, FoundState, ROW_ESTIMATE};
pub use indexes::{present_indexes, restore_present, set_state, IndexState};
pub use migrate::{
    apply, column_comment, create_base, down, status, status_before, up, up_chain, Applied, State,
    StatementTiming, Status,
};
pub use migration::{
    base_objects, ColumnDef, CommentDef, ConstraintDef, ConstraintKind, Created, IndexDef,
    Migration, Objects, SqlFile, StatementKind, TypeDef, PRISMA_FILE, PRISMA_ROLLBACK,
};
pub use online::{online_sql, ONLINE_LOCK_TIMEOUT};
pub use session::{Access, Policy, Session, LOCK_TIMEOUT, STATEMENT_TIMEOUT};
pub use snapshot::{FoundIndexes, IndexDifference};
pub use sql::{identifiers, split, Statement};
