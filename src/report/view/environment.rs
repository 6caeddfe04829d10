//! The environment section: server version and settings, machine, scale,
//! seed, tool version, the durability note for the embedded cluster, the
//! migration's SQL in full, and links to criterion's comparison pages.

use serde::Serialize;

use super::words::criterion_group_page;
use crate::format::bytes;
use crate::results::Results;

#[derive(Debug, Serialize)]
pub struct EnvironmentSection {
    pub env: Vec<(String, String)>,
    pub settings: Vec<(String, String)>,
    pub durability_note: Option<String>,
    pub migration_file: String,
    pub migration_sql: String,
    pub criterion: Vec<Link>,
}

#[derive(Debug, Serialize)]
pub struct Link {
    pub label: String,
    pub href: String,
}

pub(super) fn build(r: &Results) -> EnvironmentSection {
    EnvironmentSection {
        env: environment(r),
        settings: r
            .environment
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        durability_note: durability_note(r),
        migration_file: r.migration.file.clone(),
        migration_sql: r.migration.sql.clone(),
        criterion: r
            .queries
            .iter()
            .chain(&r.writes)
            .filter_map(|q| {
                Some(Link {
                    label: q.name.clone(),
                    href: criterion_group_page(q)?,
                })
            })
            .collect(),
    }
}

fn durability_note(r: &Results) -> Option<String> {
    let e = &r.environment;
    (e.embedded || e.durability_off).then(|| {
        format!(
            concat!(
                "These numbers come from {} with fsync {}: durability is off, so writes ",
                "are cheaper than on a production server. Compare states with each other, ",
                "not with production latencies."
            ),
            if e.embedded {
                "the tool's embedded PostgreSQL"
            } else {
                "a server"
            },
            e.settings.get("fsync").map(String::as_str).unwrap_or("off")
        )
    })
}

fn environment(r: &Results) -> Vec<(String, String)> {
    let e = &r.environment;
    let tool = format!(
        "helpdesk-bench {}{}",
        r.tool.version,
        r.tool
            .git_commit
            .as_ref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default()
    );
    let mut v = vec![
        ("PostgreSQL".to_string(), e.postgres_version.clone()),
        ("database".to_string(), e.database.clone()),
        (
            "machine".to_string(),
            format!("{} cores, {} memory", e.cores, bytes(e.memory_bytes as f64)),
        ),
        ("tool".to_string(), tool),
        (
            "run".to_string(),
            format!("{} at {}", r.run_id, r.created_at),
        ),
    ];
    if let Some(like) = &r.data_like {
        let data = format!(
            "synthetic: generated (seed {}) from the statistics of {like}, none of its rows read",
            r.seed
        );
        v.insert(3, ("data".to_string(), data));
    } else if r.database.is_none() {
        // Scale and seed describe data the tool generated, not a user's.
        v.insert(3, ("scale".to_string(), r.scale.clone()));
        v.insert(4, ("seed".to_string(), r.seed.to_string()));
    }
    if let Some(c) = &r.counts {
        v.push((
            "rows".to_string(),
            format!(
                "{} users ({} staff), {} conversations, {} messages",
                c.users, c.staff, c.conversations, c.messages
            ),
        ));
    }
    v
}
