//! The help-desk queries under test: the catalogue file, parameter
//! sampling, and execution.

mod catalogue;
mod params;
mod runner;

pub use catalogue::{Catalogue, Kind, Query, BUILTIN, CATALOGUE_ENV, DEFAULT_PATH};
pub use params::{as_sql, ParamPool};
pub use runner::{read_error, Prepared};
