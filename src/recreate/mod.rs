//! A team's schema recreated in another database, read from the source's
//! own catalog (no `pg_dump`, no `TEMPLATE`): what cannot be recreated is
//! refused first ([`refusals`]), the schema is read into DDL ([`catalog`]),
//! and that DDL runs on the new database ([`build`]). Both ways of filling
//! a new database build on it: synthetic data from the source's
//! statistics ([`crate::like`]) and a scratch copy of its rows
//! ([`crate::scratch`]).

pub mod build;
pub mod catalog;
pub mod refusals;
