//! The help-desk queries under test: the catalogue file, which of them a
//! database can run, parameter sampling, and execution.

mod catalogue;
mod failure;
mod params;
mod runnable;
mod runner;
mod workloads;

pub use catalogue::{
    Catalogue, Kind, Query, BUILTIN, CATALOGUE_ENV, DEFAULT_PATH, MAX_NAME_LEN, MISS,
};
pub use failure::read_error;
pub use params::{as_sql, ParamPool};
pub use runnable::{split_runnable, NotRunnable};
pub use runner::Prepared;
pub use workloads::{table_label, written_tables, Writes, TABLE_NAME};
