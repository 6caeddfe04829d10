//! The ceiling a seed is held to: the server's own
//! `COPY ... FROM 'file' (FORMAT binary, FREEZE)` of exactly the rows the
//! seed wrote, with no client, network or generator in the way. Each table's
//! rows are written to a file (not timed), loaded into a scratch copy of the
//! table inside a transaction (timed), and rolled back. One load of a small
//! table takes a tenth of a second, and a checkpoint or another process can
//! double it, so each table is loaded [`MIN_LOADS`] times or more, until
//! [`ENOUGH`] of loading or [`MAX_LOADS`], and the median is its ceiling.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::copy::{self, Pipeline};
use super::load::{tables, SeedReport};
use super::Context;
use crate::cluster::{transaction, Begin, End, Endpoint};
use crate::error::{Context as _, Result};
use crate::sql::quote_ident;

/// The scratch table each ceiling load goes into (rolled back).
const SCRATCH: &str = "helpdesk_bench_ceiling";

/// Loads of each table at the least, and at the most.
pub const MIN_LOADS: usize = 3;
pub const MAX_LOADS: usize = 9;

/// Loading time after which no more loads are made past [`MIN_LOADS`].
pub const ENOUGH: Duration = Duration::from_secs(2);

/// One table's seed speed next to its ceiling.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CeilingRow {
    pub table: String,
    pub rows: u64,
    /// Size of the binary COPY stream.
    pub bytes: u64,
    /// Heap the ceiling load produced.
    pub heap_bytes: u64,
    #[serde(with = "crate::duration::millis")]
    pub seed: Duration,
    /// The median of the ceiling's loads.
    #[serde(with = "crate::duration::millis")]
    pub ceiling: Duration,
    /// How many loads the median is of.
    pub loads: usize,
}

impl CeilingRow {
    /// Seed throughput as a share of the ceiling's (1.0 = as fast).
    pub fn ratio(&self) -> f64 {
        self.ceiling.as_secs_f64() / self.seed.as_secs_f64().max(1e-9)
    }

    /// Rows per second of the seed and of the ceiling.
    pub fn rates(&self) -> (f64, f64) {
        let r = self.rows as f64;
        (
            r / self.seed.as_secs_f64().max(1e-9),
            r / self.ceiling.as_secs_f64().max(1e-9),
        )
    }
}

/// One table a seed loaded, as the ceiling loads it again.
pub struct Loaded {
    /// The table's name in SQL (quoted as needed), also printed.
    pub table: String,
    pub columns: String,
    /// The same rows the seed wrote.
    pub source: Arc<dyn copy::ChunkSource>,
    pub rows: u64,
    /// How long the seed's COPY of the table took.
    pub seed: Duration,
}

/// Measures the ceiling for every table of a finished seed. `dir` must be
/// readable by the server process (the embedded cluster's directory).
pub async fn measure(
    db: &Endpoint,
    report: &SeedReport,
    dir: &Path,
    jobs: usize,
) -> Result<Vec<CeilingRow>> {
    let ctx = Arc::new(Context::new(report.seed, report.counts, report.shape));
    let loaded = tables(&ctx)
        .into_iter()
        .filter_map(|spec| {
            Some(Loaded {
                table: quote_ident(spec.table),
                columns: spec.columns.to_string(),
                seed: report.copy_phase(spec.table)?.duration,
                source: spec.source,
                rows: spec.rows,
            })
        })
        .collect();
    measure_loaded(db, loaded, dir, jobs).await
}

/// Measures the ceiling for each of `loaded`'s tables in `db`: the rows
/// written to a file in `dir` (not timed), then loaded by the server into
/// a scratch copy of the table (timed) and rolled back.
pub async fn measure_loaded(
    db: &Endpoint,
    loaded: Vec<Loaded>,
    dir: &Path,
    jobs: usize,
) -> Result<Vec<CeilingRow>> {
    let client = db.connect().await?;
    let mut out = Vec::new();
    for (i, t) in loaded.into_iter().enumerate() {
        let file = dir.join(format!("ceiling-{i}.copy"));
        let bytes = write_file(&file, t.source, jobs).await?;
        let sql = copy::statement(
            SCRATCH,
            &t.columns,
            &format!("'{}'", file.display().to_string().replace('\'', "''")),
            true,
        );
        let timed = load_repeatedly(&client, db, &t.table, &sql).await;
        let _ = std::fs::remove_file(&file);
        let (mut times, heap) = timed?;
        times.sort();
        out.push(CeilingRow {
            table: t.table,
            rows: t.rows,
            bytes,
            heap_bytes: heap,
            seed: t.seed,
            ceiling: times[times.len() / 2],
            loads: times.len(),
        });
    }
    Ok(out)
}

/// Loads a file by `sql` into a scratch copy of `table`, rolled back
/// each time, [`MIN_LOADS`] to [`MAX_LOADS`] times; the time of each load
/// and the heap the last one wrote.
async fn load_repeatedly(
    client: &tokio_postgres::Client,
    db: &Endpoint,
    table: &str,
    sql: &str,
) -> Result<(Vec<Duration>, u64)> {
    let doing = format!("measuring the COPY ceiling of {table}");
    let err = |e| db.query_error(doing.clone(), e);
    let mut times = Vec::new();
    let mut heap = 0;
    while times.len() < MIN_LOADS
        || times.len() < MAX_LOADS && times.iter().sum::<Duration>() < ENOUGH
    {
        // Loaded into a scratch table, then rolled back: nothing stays.
        let (took, bytes) = transaction(client, Begin::Plain, End::RollBack, &doing, async |c| {
            let like = format!("CREATE TABLE {SCRATCH} (LIKE {table} INCLUDING DEFAULTS)");
            c.batch_execute(&like).await.map_err(err)?;
            let started = Instant::now();
            c.execute(sql, &[]).await.map_err(err)?;
            let took = started.elapsed();
            let heap = c
                .query_one(&format!("SELECT pg_relation_size('{SCRATCH}')"), &[])
                .await
                .map_err(err)?;
            Ok((took, heap.get::<_, i64>(0) as u64))
        })
        .await?;
        times.push(took);
        heap = bytes;
    }
    Ok((times, heap))
}

/// The ceiling table, one line each and one for all tables: the seed's
/// rows per second, the ceiling's, the heap it wrote per second, and the
/// seed's share of it.
pub fn lines(rows: &[CeilingRow]) -> Vec<String> {
    let w = rows
        .iter()
        .map(|r| r.table.len())
        .max()
        .unwrap_or(0)
        .max(10);
    let line = |r: &CeilingRow| {
        let (seed, ceiling) = r.rates();
        format!(
            "  {:<w$} {:>12.0} {:>12.0} {:>12.1} {:>7.0}%",
            r.table,
            seed,
            ceiling,
            r.heap_bytes as f64 / r.ceiling.as_secs_f64().max(1e-9) / 1e6,
            r.ratio() * 100.0
        )
    };
    let mut out = vec![
        format!(
            "ceiling: the server's own COPY FROM a file of the same rows (FORMAT binary, FREEZE), the median of {} loads per table",
            loads(rows)
        ),
        format!(
            "  {:<w$} {:>12} {:>12} {:>12} {:>8}",
            "table", "seed rows/s", "ceiling", "heap MB/s", "ratio"
        ),
    ];
    out.extend(rows.iter().map(line));
    if rows.len() > 1 {
        out.push(line(&CeilingRow {
            table: "all tables".into(),
            rows: rows.iter().map(|r| r.rows).sum(),
            bytes: rows.iter().map(|r| r.bytes).sum(),
            heap_bytes: rows.iter().map(|r| r.heap_bytes).sum(),
            seed: rows.iter().map(|r| r.seed).sum(),
            ceiling: rows.iter().map(|r| r.ceiling).sum(),
            loads: 0,
        }));
    }
    out
}

/// The number of loads the ceilings are medians of: "3" or "3 to 9".
fn loads(rows: &[CeilingRow]) -> String {
    let lo = rows.iter().map(|r| r.loads).min().unwrap_or(0);
    let hi = rows.iter().map(|r| r.loads).max().unwrap_or(0);
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo} to {hi}")
    }
}

/// Writes a table's binary COPY stream to a file; returns its size.
async fn write_file(path: &Path, source: Arc<dyn copy::ChunkSource>, jobs: usize) -> Result<u64> {
    let f = std::fs::File::create(path).context(path.display())?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut total = 0u64;
    let mut put = |b: &[u8]| -> Result<()> {
        total += b.len() as u64;
        w.write_all(b).context(path.display())
    };
    put(&copy::header())?;
    let mut pipeline = Pipeline::start(source, jobs);
    while let Some((_, chunk)) = pipeline.next().await {
        put(&chunk)?;
    }
    put(&copy::trailer())?;
    w.flush().context(path.display())?;
    Ok(total)
}
