//! The plan a prepared statement really ran with: after its timed
//! executions, `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON) EXECUTE`
//! of that same statement on the same connection, so the plan cache's
//! choice (PostgreSQL switches a statement to a generic plan after five
//! custom ones when it costs no more, under `plan_cache_mode = auto`) is
//! the one shown. tokio-postgres keeps a statement's name to itself, so
//! it is found in `pg_prepared_statements` by its text (protocol-level
//! statements are not `from_sql`). Whether the plan was generic or custom
//! comes from the statement's `generic_plans` counter (PostgreSQL 14 and
//! later), or on 13 from `$n` left in the plan's conditions.
//!
//! Also the plan cache mode itself, as a setting: drivers that prepare once
//! and reuse (JDBC, Rails, pgx, psycopg 3, Prisma's engine) behave like
//! `auto`; unnamed statements (node-postgres, Prisma with `pgbouncer=true`)
//! are planned afresh each time, like `custom`.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, SimpleQueryMessage};

use super::capture::OPTIONS;
use crate::cluster::ServerVersion;
use crate::error::{Context, Error, Result};
use crate::queries::read_error;
use crate::sql::quote_literal;

/// How the server chooses between a custom and a generic plan for a
/// prepared statement (`plan_cache_mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanCacheMode {
    /// The server's default: custom plans for five executions, then the
    /// generic plan when its estimated cost is no worse.
    #[default]
    Auto,
    /// Always a custom plan for the parameters at hand.
    Custom,
    /// Always the generic plan.
    Generic,
}

/// Environment variable choosing the plan cache mode for `cargo bench`.
pub const PLAN_CACHE_ENV: &str = "HELPDESK_BENCH_PLAN_CACHE";

impl PlanCacheMode {
    /// The `SET` that puts a session in this mode.
    pub fn set_sql(self) -> &'static str {
        match self {
            PlanCacheMode::Auto => "SET plan_cache_mode = auto",
            PlanCacheMode::Custom => "SET plan_cache_mode = force_custom_plan",
            PlanCacheMode::Generic => "SET plan_cache_mode = force_generic_plan",
        }
    }

    /// As the flag writes it.
    pub fn name(self) -> &'static str {
        match self {
            PlanCacheMode::Auto => "auto",
            PlanCacheMode::Custom => "custom",
            PlanCacheMode::Generic => "generic",
        }
    }

    /// Reads `auto`, `custom` or `generic`.
    pub fn parse(text: &str) -> Result<PlanCacheMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(PlanCacheMode::Auto),
            "custom" => Ok(PlanCacheMode::Custom),
            "generic" => Ok(PlanCacheMode::Generic),
            _ => Err(Error::BadInput(format!(
                "plan cache mode {text:?} is not one of auto, custom, generic"
            ))),
        }
    }

    /// `HELPDESK_BENCH_PLAN_CACHE`, else auto.
    pub fn from_env() -> Result<PlanCacheMode> {
        match std::env::var(PLAN_CACHE_ENV) {
            Ok(v) => PlanCacheMode::parse(&v).map_err(|e| {
                Error::BadInput(format!(
                    "{PLAN_CACHE_ENV}: {e}; set auto, custom or generic"
                ))
            }),
            Err(_) => Ok(PlanCacheMode::Auto),
        }
    }
}

/// Which plan an execution of a prepared statement used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    /// Planned for the parameters at hand.
    Custom,
    /// The statement's cached generic plan, the same for every parameter.
    Generic,
}

impl PlanKind {
    /// As the page says it.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanKind::Custom => "custom plan",
            PlanKind::Generic => "generic plan",
        }
    }
}

/// The server's JSON plan of one execution of a prepared statement, and
/// which kind of plan it was.
#[derive(Debug, Clone)]
pub struct ExecutedPlan {
    pub json: String,
    pub kind: PlanKind,
}

/// Explains, with ANALYZE, the next execution of the prepared statement
/// whose text is `sql` on `client`, with `params` (text, NULL as `None`).
/// `query` names it in errors.
pub async fn explain_prepared(
    client: &Client,
    query: &str,
    sql: &str,
    params: &[Option<String>],
) -> Result<ExecutedPlan> {
    let counted = ServerVersion::of(client).await?.at_least(14);
    let before = statement(client, query, sql, counted).await?;
    let args: Vec<String> = params
        .iter()
        .map(|p| p.as_deref().map_or("NULL".into(), quote_literal))
        .collect();
    let explain = match args.is_empty() {
        true => format!("EXPLAIN ({OPTIONS}) EXECUTE {}", before.name),
        false => format!(
            "EXPLAIN ({OPTIONS}) EXECUTE {}({})",
            before.name,
            args.join(", ")
        ),
    };
    let json = client
        .simple_query(&explain)
        .await
        .map_err(|e| {
            read_error(
                query,
                format!("explaining the timed statement of {query}"),
                e,
            )
        })?
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .ok_or_else(|| Error::Unexpected {
            doing: format!("explaining the timed statement of {query}"),
            detail: "EXPLAIN returned no plan".into(),
        })?;
    let kind = if counted {
        let after = statement(client, query, sql, true).await?;
        match after.generic > before.generic {
            true => PlanKind::Generic,
            false => PlanKind::Custom,
        }
    } else {
        kind_from_conditions(&json, params.is_empty())
    };
    Ok(ExecutedPlan { json, kind })
}

/// A prepared statement as `pg_prepared_statements` lists it.
struct Prepared {
    name: String,
    generic: i64,
}

/// The newest protocol-level statement with this text on this connection.
async fn statement(client: &Client, query: &str, sql: &str, counted: bool) -> Result<Prepared> {
    let columns = match counted {
        true => "name, generic_plans",
        false => "name, 0::bigint",
    };
    let row = client
        .query_opt(
            &format!(
                "SELECT {columns} FROM pg_prepared_statements \
                 WHERE NOT from_sql AND statement = $1 ORDER BY prepare_time DESC LIMIT 1"
            ),
            &[&sql],
        )
        .await
        .context(format!("finding the timed statement of {query}"))?
        .ok_or_else(|| Error::Unexpected {
            doing: format!("finding the timed statement of {query}"),
            detail: "it is not prepared on this connection".into(),
        })?;
    Ok(Prepared {
        name: row.get(0),
        generic: row.get(1),
    })
}

/// PostgreSQL 13 keeps no count: a generic plan leaves the parameters as
/// `$n` in its conditions, a custom plan has their values. A statement
/// without parameters has one plan, custom by definition.
fn kind_from_conditions(json: &str, no_params: bool) -> PlanKind {
    static PARAM: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\$[0-9]+\b").expect("static regex"));
    match !no_params && PARAM.is_match(json) {
        true => PlanKind::Generic,
        false => PlanKind::Custom,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_and_set_as_written() {
        for (text, mode, set) in [
            ("auto", PlanCacheMode::Auto, "SET plan_cache_mode = auto"),
            (
                "Custom",
                PlanCacheMode::Custom,
                "SET plan_cache_mode = force_custom_plan",
            ),
            (
                "generic",
                PlanCacheMode::Generic,
                "SET plan_cache_mode = force_generic_plan",
            ),
        ] {
            let m = PlanCacheMode::parse(text).unwrap();
            assert_eq!(m, mode);
            assert_eq!(m.set_sql(), set);
        }
        let e = PlanCacheMode::parse("sometimes").unwrap_err().to_string();
        assert!(e.contains("not one of auto, custom, generic"), "{e}");
    }

    #[test]
    fn on_13_a_generic_plan_shows_its_parameters() {
        let generic = r#"[{"Plan": {"Index Cond": "(\"assignedTo\" = $1)"}}]"#;
        let custom = r#"[{"Plan": {"Index Cond": "(\"assignedTo\" = 'u1'::text)"}}]"#;
        assert_eq!(kind_from_conditions(generic, false), PlanKind::Generic);
        assert_eq!(kind_from_conditions(custom, false), PlanKind::Custom);
        assert_eq!(kind_from_conditions(generic, true), PlanKind::Custom);
    }
}
