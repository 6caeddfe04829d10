//! The query catalogue: the help-desk queries, read from a human-editable
//! TOML file (`fixtures/queries.toml`), so a team can add its own without
//! recompiling.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::schema::{split, Migration};

/// The catalogue shipped in the repository, compiled in as a fallback.
pub const BUILTIN: &str = include_str!("../../fixtures/queries.toml");
/// Where the catalogue lives in the repository.
pub const DEFAULT_PATH: &str = "fixtures/queries.toml";

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
}

/// The whole catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub source: String,
    pub queries: Vec<Query>,
}

impl Catalogue {
    /// Reads `path`, or the repository's file when it exists in the current
    /// directory, or the compiled-in copy.
    pub fn load(path: Option<&Path>) -> Result<Catalogue> {
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                Catalogue::parse(&p.display().to_string(), &text)
            }
            None if Path::new(DEFAULT_PATH).is_file() => {
                Catalogue::load(Some(Path::new(DEFAULT_PATH)))
            }
            None => Catalogue::parse(DEFAULT_PATH, BUILTIN),
        }
    }

    /// The repository's catalogue file, read at run time (for benches).
    pub fn repository() -> Result<Catalogue> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH);
        Catalogue::load(Some(&p))
    }

    /// Parses catalogue text.
    pub fn parse(source: &str, text: &str) -> Result<Catalogue> {
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
            if !q
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
                || q.name.is_empty()
            {
                return Err(bad(format!(
                    "query name {:?} must be letters, digits and underscores",
                    q.name
                )));
            }
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
            });
        }
        Ok(Catalogue {
            source: source.to_string(),
            queries,
        })
    }

    /// The read queries.
    pub fn reads(&self) -> impl Iterator<Item = &Query> {
        self.queries.iter().filter(|q| q.kind == Kind::Read)
    }

    /// The write workloads.
    pub fn writes(&self) -> impl Iterator<Item = &Query> {
        self.queries.iter().filter(|q| q.kind == Kind::Write)
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

    /// Expected indexes that the migration does not create.
    pub fn unknown_indexes(&self, m: &Migration) -> Vec<String> {
        self.queries
            .iter()
            .flat_map(|q| q.expect_index.iter().map(move |i| (q, i)))
            .filter(|(_, i)| m.index(i).is_none())
            .map(|(q, i)| format!("{}: {i}", q.name))
            .collect()
    }
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
    fn builtin_catalogue_has_the_help_desk_queries() {
        let c = Catalogue::parse(DEFAULT_PATH, BUILTIN).unwrap();
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
        assert_eq!(
            c.get("handover_assign_resolve").unwrap().statements.len(),
            3
        );
        assert_eq!(c.get("agent_open_queue").unwrap().params, 1);
        assert!(c.unknown_indexes(&Migration::builtin().unwrap()).is_empty());
    }

    #[test]
    fn bad_catalogues_say_what_is_wrong() {
        let err = Catalogue::parse("q.toml", "[[query]]\nname = 'x'\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("q.toml: not a valid query catalogue"),
            "{err}"
        );
        let err = Catalogue::parse(
            "q.toml",
            "[[query]]\nname='x'\nscreen='s'\nsql='SELECT $1'\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("has no `sample`"), "{err}");
        let c = Catalogue::parse(DEFAULT_PATH, BUILTIN).unwrap();
        let err = c.get("nope").unwrap_err();
        assert!(err.to_string().contains("unknown query \"nope\""), "{err}");
    }
}
