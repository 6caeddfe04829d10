//! The query catalogue: the help-desk queries, read from a human-editable
//! TOML file (`fixtures/queries.toml`), so a team can add its own without
//! recompiling.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use crate::error::{Context, Error, Result};
use crate::schema::{identifiers, split, Created, MigrationChain};

/// The catalogue shipped in the repository, compiled in as a fallback.
pub const BUILTIN: &str = include_str!("../../fixtures/queries.toml");
/// Where the catalogue lives in the repository.
pub const DEFAULT_PATH: &str = "fixtures/queries.toml";
/// Environment variable naming the catalogue file for `cargo bench`.
pub const CATALOGUE_ENV: &str = "HELPDESK_BENCH_CATALOGUE";

/// The longest query name: criterion names a directory after each benchmark
/// and cuts longer names short.
pub const MAX_NAME_LEN: usize = 64;

/// Whether a query only reads or changes data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Read,
    Write,
}

/// One or several index names.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery {
    name: String,
    screen: String,
    sql: String,
    sample: Option<String>,
    expect_index: Option<OneOrMany>,
    #[serde(default)]
    kind: Kind,
    #[serde(default)]
    miss: Vec<String>,
    #[serde(default)]
    weight: f64,
    #[serde(default)]
    traffic: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    query: Vec<RawQuery>,
}

/// A query of the catalogue.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Query {
    pub name: String,
    /// The help-desk screen that runs it.
    pub screen: String,
    /// The SQL as written.
    pub sql: String,
    /// Its statements (one for reads; writes may have several).
    pub statements: Vec<String>,
    /// SQL returning a pool of parameter rows.
    pub sample: Option<String>,
    /// Indexes the plan may use once the migration is applied (any of them).
    pub expect_index: Vec<String>,
    pub kind: Kind,
    /// How many `$n` parameters the SQL takes.
    pub params: usize,
    /// Parameters that match nothing, used when `sample` finds no rows (as
    /// right after a migration adds the columns it reads). Empty means
    /// [`MISS`] for every parameter.
    pub miss: Vec<String>,
    /// Executions per hour in a typical help desk: its share of `load`'s
    /// mix. 0 (the default) leaves it out of the mix unless `--query`
    /// names it.
    pub weight: f64,
    /// True for the application's everyday traffic on the schema before
    /// the migration: `rehearse` and `load` run it, `cargo bench` and
    /// `explain` (which measure the migration's queries) leave it out.
    pub traffic: bool,
    /// The tables, columns and types of the migration chain that its SQL
    /// or sample names: a database without them runs it only after the
    /// migration. Filled by [`Catalogue::load`].
    pub needs: Vec<Created>,
}

/// The default parameter that matches nothing, for a text column.
pub const MISS: &str = "helpdesk-bench: no such value";

/// `$n::type` (or `CAST($n AS type)`): the type a parameter is cast to.
static CAST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:\$(\d+)\s*::\s*|CAST\s*\(\s*\$(\d+)\s+AS\s+)"?(pg_catalog\.)?([a-z_][a-z0-9_]*(?:\s+precision|\s+with(?:out)?\s+time\s+zone)?)"#)
        .expect("a valid regex")
});

/// A value of `cast` (a type name as written) that rows seldom hold, or
/// [`MISS`] for text and types without one.
fn miss_for(cast: &str) -> &'static str {
    let words: Vec<&str> = cast.split_whitespace().collect();
    match words.join(" ").to_ascii_lowercase().as_str() {
        "uuid" => "00000000-0000-0000-0000-000000000000",
        "int" | "int2" | "int4" | "int8" | "integer" | "smallint" | "bigint" | "numeric"
        | "decimal" | "real" | "float4" | "float8" | "double precision" => "-1",
        "date"
        | "timestamp"
        | "timestamptz"
        | "timestamp with time zone"
        | "timestamp without time zone" => "1900-01-01",
        _ => MISS,
    }
}

impl Query {
    /// The parameter row that matches nothing: the catalogue's `miss`
    /// values, else per parameter a value of the type its SQL casts it to
    /// (a nil uuid, -1, 1900-01-01), else [`MISS`].
    pub fn miss_row(&self) -> Vec<Option<String>> {
        (0..self.params)
            .map(|i| {
                Some(
                    self.miss
                        .get(i)
                        .map_or_else(|| self.default_miss(i + 1), String::clone),
                )
            })
            .collect()
    }

    /// The miss value of parameter `$n`, by the first cast of it.
    fn default_miss(&self, n: usize) -> String {
        let cast = self.statements.iter().find_map(|sql| {
            CAST.captures_iter(sql).find_map(|c| {
                let k = c.get(1).or(c.get(2))?.as_str().parse::<usize>().ok()?;
                (k == n).then(|| c[4].to_string())
            })
        });
        cast.map_or(MISS, |t| miss_for(&t)).to_string()
    }
}

/// The whole catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub source: String,
    pub queries: Vec<Query>,
}

impl Catalogue {
    /// Reads `path`, or the repository's file when it exists in the current
    /// directory, or the compiled-in copy, and checks its expected indexes
    /// against the migrations of `chain`.
    pub fn load(path: Option<&Path>, chain: &MigrationChain) -> Result<Catalogue> {
        let catalogue = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).context(p.display())?;
                Catalogue::parse(&p.display().to_string(), &text, chain)?
            }
            None if Path::new(DEFAULT_PATH).is_file() => {
                return Catalogue::load(Some(Path::new(DEFAULT_PATH)), chain)
            }
            None => Catalogue::parse(DEFAULT_PATH, BUILTIN, chain)?,
        };
        Ok(catalogue)
    }

    /// Parses catalogue text for the migrations of `chain`: checks its
    /// expected indexes against them, and notes what of theirs each query
    /// needs ([`Query::needs`]).
    pub fn parse(source: &str, text: &str, chain: &MigrationChain) -> Result<Catalogue> {
        let mut catalogue = Catalogue::parse_text(source, text)?;
        catalogue.check_indexes(chain)?;
        catalogue.note_needs(chain);
        Ok(catalogue)
    }

    /// The default catalogue (`fixtures/queries.toml` in the working
    /// directory, else the copy built into the binary), checked against the
    /// built-in migration.
    pub fn repository() -> Result<Catalogue> {
        Catalogue::load(None, &MigrationChain::builtin()?)
    }

    /// For benches: the file `HELPDESK_BENCH_CATALOGUE` names, else the
    /// default one ([`Catalogue::load`] without a path), checked against
    /// `chain`.
    pub fn from_env(chain: &MigrationChain) -> Result<Catalogue> {
        let p = std::env::var_os(CATALOGUE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Catalogue::load(p.as_deref(), chain)
    }

    /// Parses catalogue text, checking each query on its own.
    pub(crate) fn parse_text(source: &str, text: &str) -> Result<Catalogue> {
        let bad = |reason: String| Error::BadFixture {
            file: source.to_string(),
            reason,
        };
        let raw: RawCatalogue = toml::from_str(text).map_err(|e| {
            bad(format!(
                "not a valid query catalogue: {}",
                e.message().replace('\n', " ")
            ))
        })?;
        let mut queries = Vec::new();
        for q in raw.query {
            check_name(&q.name).map_err(bad)?;
            if queries.iter().any(|x: &Query| x.name == q.name) {
                return Err(bad(format!("query {} appears twice", q.name)));
            }
            let statements: Vec<String> = split(&q.sql).into_iter().map(|s| s.sql).collect();
            if statements.is_empty() || (q.kind == Kind::Read && statements.len() > 1) {
                return Err(bad(format!(
                    "query {}: a read query needs exactly one statement",
                    q.name
                )));
            }
            let params = max_param(&q.sql);
            if !(q.weight.is_finite() && q.weight >= 0.0) {
                return Err(bad(format!(
                    "query {}: weight {} must be a number of executions per hour, 0 or more",
                    q.name, q.weight
                )));
            }
            if params > 0 && q.sample.is_none() {
                return Err(bad(format!(
                    "query {} takes ${params} but has no `sample` to draw parameters from",
                    q.name
                )));
            }
            queries.push(Query {
                name: q.name,
                screen: q.screen,
                sql: q.sql.trim().to_string(),
                statements,
                sample: q.sample,
                expect_index: match q.expect_index {
                    None => vec![],
                    Some(OneOrMany::One(s)) => vec![s],
                    Some(OneOrMany::Many(v)) => v,
                },
                kind: q.kind,
                params,
                miss: q.miss,
                weight: q.weight,
                traffic: q.traffic,
                needs: Vec::new(),
            });
        }
        Ok(Catalogue {
            source: source.to_string(),
            queries,
        })
    }

    /// The read queries the benchmarks measure (not the `traffic` ones).
    pub fn reads(&self) -> impl Iterator<Item = &Query> {
        self.queries
            .iter()
            .filter(|q| q.kind == Kind::Read && !q.traffic)
    }

    /// The write workloads the benchmarks measure (not the `traffic` ones).
    pub fn writes(&self) -> impl Iterator<Item = &Query> {
        self.queries
            .iter()
            .filter(|q| q.kind == Kind::Write && !q.traffic)
    }

    /// The application's everyday traffic before the migration.
    pub fn traffic(&self) -> impl Iterator<Item = &Query> {
        self.queries.iter().filter(|q| q.traffic)
    }

    /// Looks a query up by name, or says which names exist.
    pub fn get(&self, name: &str) -> Result<&Query> {
        self.queries.iter().find(|q| q.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.queries.iter().map(|q| q.name.as_str()).collect();
            Error::BadInput(format!(
                "unknown query {name:?}; {} has: {}",
                self.source,
                names.join(", ")
            ))
        })
    }

    /// Records, per query, what of the chain's tables, columns and types
    /// its SQL and sample name (compared without case, as a bare word in
    /// the query may be written in any case).
    fn note_needs(&mut self, chain: &MigrationChain) {
        let created: Vec<Created> = chain.created().collect();
        for q in &mut self.queries {
            let ids: Vec<String> = split_ids(&q.sql, q.sample.as_deref());
            q.needs = created
                .iter()
                .filter(|c| ids.iter().any(|i| i.eq_ignore_ascii_case(c.name())))
                .cloned()
                .collect();
        }
    }

    /// Refuses a query none of whose `expect_index` names is an index some
    /// migration of `chain` creates: its plan assertion could never hold.
    /// (A query may name indexes of several migrations, e.g. 012's and the
    /// composite a later one replaces them with; one known name is enough.)
    pub fn check_indexes(&self, chain: &MigrationChain) -> Result<()> {
        let known: Vec<&str> = chain.created_indexes().map(|i| i.name.as_str()).collect();
        let unknown = self
            .queries
            .iter()
            .filter(|q| !q.expect_index.iter().any(|i| known.contains(&i.as_str())))
            .find_map(|q| q.expect_index.first().map(|i| (q, i)));
        let Some((q, index)) = unknown else {
            return Ok(());
        };
        let names: Vec<&str> = chain.all().map(|m| m.name.as_str()).collect();
        let which = match names.as_slice() {
            [one] => format!("migration {one} does not"),
            many => format!("none of migrations {} does", many.join(", ")),
        };
        Err(Error::BadFixture {
            file: self.source.clone(),
            reason: format!(
                "query {} expects index {:?}, which {which} create; its indexes are {}",
                q.name,
                index,
                known.join(", ")
            ),
        })
    }
}

/// The identifiers a query's SQL and sample name.
fn split_ids(sql: &str, sample: Option<&str>) -> Vec<String> {
    let mut ids = identifiers(sql);
    ids.extend(sample.map(identifiers).unwrap_or_default());
    ids.into_iter().collect()
}

/// A query name must be usable as criterion's directory name unchanged.
fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("a query has an empty name".into());
    }
    let len = name.chars().count();
    if len > MAX_NAME_LEN {
        return Err(format!(
            "query name {name:?} is {len} characters long; shorten it to {MAX_NAME_LEN} or fewer, \
             as criterion cuts longer directory names short"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "query name {name:?} holds {c:?}; use only ASCII letters, digits, '_' and '-', \
             as criterion rewrites other characters in directory names"
        ));
    }
    Ok(())
}

/// The highest `$n` in a statement.
fn max_param(sql: &str) -> usize {
    let b = sql.as_bytes();
    let mut max = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'$' {
            let digits: String = sql[i + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse::<usize>() {
                max = max.max(n);
            }
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_row_takes_a_value_of_each_parameters_cast_type() {
        let text = r#"
[[query]]
name = "q"
screen = "s"
sql = """
SELECT 1 FROM e WHERE site = $1::uuid AND at BETWEEN $2::timestamptz AND CAST($3 AS timestamp with time zone)
  AND n = $4::pg_catalog.int8 AND name = $5 AND x = $6::double precision
"""
sample = "SELECT 1, 2, 3, 4, 5, 6"
"#;
        let c = Catalogue::parse_text("t", text).unwrap();
        let q = &c.queries[0];
        let row: Vec<String> = q.miss_row().into_iter().map(Option::unwrap).collect();
        assert_eq!(
            row,
            [
                "00000000-0000-0000-0000-000000000000",
                "1900-01-01",
                "1900-01-01",
                "-1",
                MISS,
                "-1"
            ]
        );
    }

    #[test]
    fn builtin_catalogue_has_the_help_desk_queries() {
        let c = Catalogue::parse_text(DEFAULT_PATH, BUILTIN).unwrap();
        let names: Vec<&str> = c.reads().map(|q| q.name.as_str()).collect();
        for n in [
            "human_queue",
            "agent_conversations",
            "agent_open_queue",
            "customer_lookup_hit",
            "customer_lookup_miss",
            "transcript",
            "recent_agent_messages",
            "newest_messages",
            "status_dashboard",
        ] {
            assert!(names.contains(&n), "{n} missing");
        }
        assert_eq!(c.writes().count(), 2);
        let traffic: Vec<&str> = c.traffic().map(|q| q.name.as_str()).collect();
        assert_eq!(
            traffic,
            [
                "user_by_email",
                "user_conversations",
                "post_message",
                "open_conversation"
            ]
        );
        assert!(c.reads().chain(c.writes()).all(|q| !q.traffic));
        assert_eq!(
            c.get("handover_assign_resolve").unwrap().statements.len(),
            3
        );
        assert_eq!(c.get("agent_open_queue").unwrap().params, 1);
        assert!(c.check_indexes(&MigrationChain::builtin().unwrap()).is_ok());
    }

    #[test]
    fn bad_catalogues_say_what_is_wrong() {
        let err = Catalogue::parse_text("q.toml", "[[query]]\nname = 'x'\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("q.toml: not a valid query catalogue"),
            "{err}"
        );
        let err = Catalogue::parse_text(
            "q.toml",
            "[[query]]\nname='x'\nscreen='s'\nsql='SELECT $1'\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("has no `sample`"), "{err}");
        let c = Catalogue::parse_text(DEFAULT_PATH, BUILTIN).unwrap();
        let err = c.get("nope").unwrap_err();
        assert!(err.to_string().contains("unknown query \"nope\""), "{err}");
    }

    /// One read query named `name` expecting `index`.
    fn one_query(name: &str, index: &str) -> String {
        format!(
            "[[query]]\nname = '{name}'\nscreen = 's'\nsql = 'SELECT 1'\nexpect_index = '{index}'\n"
        )
    }

    #[test]
    fn an_expected_index_the_migration_does_not_create_is_refused() {
        let m = MigrationChain::builtin().unwrap();
        let c = Catalogue::parse_text("q.toml", &one_query("q1", "Message_typo_idx")).unwrap();
        let err = c.check_indexes(&m).unwrap_err().to_string();
        assert!(
            err.starts_with(concat!(
                "q.toml: query q1 expects index \"Message_typo_idx\", ",
                "which migration 012_help_desk_schema_updates does not create"
            )),
            "{err}"
        );
        assert!(
            err.contains("its indexes are Conversation_status_idx, "),
            "{err}"
        );
        assert!(err.ends_with("Message_createdAt_idx"), "{err}");
        assert_eq!(err.lines().count(), 1);
        let ok = Catalogue::parse_text("q.toml", &one_query("q1", "Message_role_idx")).unwrap();
        assert!(ok.check_indexes(&m).is_ok());
    }

    #[test]
    fn names_criterion_would_cut_or_rewrite_are_refused() {
        let long = "a".repeat(MAX_NAME_LEN + 1);
        let err = Catalogue::parse_text("q.toml", &one_query(&long, "x"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is 65 characters long; shorten it to 64"),
            "{err}"
        );
        for (name, bad) in [
            ("agent queue", "' '"),
            ("status/open", "'/'"),
            ("café", "'é'"),
        ] {
            let err = Catalogue::parse_text("q.toml", &one_query(name, "x"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("holds {bad}; use only ASCII letters")),
                "{name}: {err}"
            );
            assert_eq!(err.lines().count(), 1);
        }
        let fine = format!("{}-x_1", "a".repeat(MAX_NAME_LEN - 4));
        assert!(Catalogue::parse_text("q.toml", &one_query(&fine, "x")).is_ok());
    }
}
