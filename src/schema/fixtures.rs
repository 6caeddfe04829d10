//! The SQL fixtures, compiled into the binary. They stay plain files under
//! `fixtures/` that users run with psql; these are byte-for-byte copies.

/// The schema before migration 012.
pub const BASE: &str = include_str!("../../fixtures/schema/base.sql");
/// Where `BASE` lives in the repository.
pub const BASE_PATH: &str = "fixtures/schema/base.sql";

/// Migration 012, forward.
pub const MIGRATION_012: &str =
    include_str!("../../fixtures/migrations/012_help_desk_schema_updates.sql");
/// Where `MIGRATION_012` lives in the repository.
pub const MIGRATION_012_PATH: &str = "fixtures/migrations/012_help_desk_schema_updates.sql";
/// Migration 012's name, its file stem.
pub const MIGRATION_012_NAME: &str = "012_help_desk_schema_updates";

/// Migration 012, rollback.
pub const ROLLBACK_012: &str =
    include_str!("../../fixtures/migrations/012_help_desk_schema_updates_rollback.sql");
/// Where `ROLLBACK_012` lives in the repository.
pub const ROLLBACK_012_PATH: &str = "fixtures/migrations/012_help_desk_schema_updates_rollback.sql";

/// Rows that exist before 012, inserted by `verify`.
pub const PREEXISTING: &str = include_str!("../../fixtures/verify/preexisting.sql");

/// Every fixture's text, for cache keys that must change when any of them does.
pub fn all() -> [&'static str; 4] {
    [BASE, MIGRATION_012, ROLLBACK_012, PREEXISTING]
}
