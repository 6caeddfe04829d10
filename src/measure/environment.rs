//! The environment a run measured in: server version and the settings that
//! shape the numbers, and this machine's cores and memory.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use crate::cluster::Endpoint;
use crate::error::{Context, Result};
use crate::results::Environment;

/// Settings worth printing next to every number.
pub const SETTINGS: &[&str] = &[
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "random_page_cost",
    "max_parallel_workers_per_gather",
    "jit",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_level",
];

/// Reads the environment of `client`'s server.
pub async fn environment(client: &Client, db: &Endpoint) -> Result<Environment> {
    let version: String = client
        .query_one("SELECT version()", &[])
        .await
        .context("reading the server version")?
        .get(0);
    let mut settings = BTreeMap::new();
    for name in SETTINGS {
        let row = client
            .query_one("SELECT current_setting($1)", &[name])
            .await
            .context("reading settings")?;
        settings.insert(name.to_string(), row.get::<_, String>(0));
    }
    let durability_off = settings.get("fsync").is_some_and(|v| v == "off");
    Ok(Environment {
        postgres_version: version,
        settings,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        memory_bytes: memory_bytes(),
        embedded: db.is_embedded(),
        durability_off,
        database: db.describe(),
    })
}

/// Total memory from /proc/meminfo.
fn memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
