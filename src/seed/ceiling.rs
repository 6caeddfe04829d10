//! The ceiling a seed is held to: the server's own
//! `COPY ... FROM 'file' (FORMAT binary, FREEZE)` of exactly the rows the
//! seed wrote, with no client, network or generator in the way. Each table's
//! rows are written to a file (not timed), loaded into a scratch copy of the
//! table inside a transaction (timed), and rolled back.

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
    #[serde(with = "crate::duration::millis")]
    pub ceiling: Duration,
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

/// Measures the ceiling for every table of a finished seed. `dir` must be
/// readable by the server process (the embedded cluster's directory).
pub async fn measure(
    db: &Endpoint,
    report: &SeedReport,
    dir: &Path,
    jobs: usize,
) -> Result<Vec<CeilingRow>> {
    let ctx = Arc::new(Context::new(report.seed, report.counts, report.shape));
    let client = db.connect().await?;
    let mut out = Vec::new();
    for spec in tables(&ctx) {
        let Some(seeded) = report.copy_phase(spec.table) else {
            continue;
        };
        let file = dir.join(format!("ceiling-{}.copy", spec.table));
        let bytes = write_file(&file, spec.source.clone(), jobs).await?;
        let sql = copy::statement(
            SCRATCH,
            spec.columns,
            &format!("'{}'", file.display().to_string().replace('\'', "''")),
            true,
        );
        let doing = format!("measuring the COPY ceiling of {}", spec.table);
        let err = |e| db.query_error(doing.clone(), e);
        // Loaded into a scratch table, then rolled back: nothing stays.
        let timed = transaction(&client, Begin::Plain, End::RollBack, &doing, async |c| {
            let like = format!(
                "CREATE TABLE {SCRATCH} (LIKE {} INCLUDING DEFAULTS)",
                quote_ident(spec.table)
            );
            c.batch_execute(&like).await.map_err(err)?;
            let t = Instant::now();
            c.execute(&sql, &[]).await.map_err(err)?;
            let ceiling = t.elapsed();
            let heap = c
                .query_one(&format!("SELECT pg_relation_size('{SCRATCH}')"), &[])
                .await
                .map_err(err)?;
            Ok((ceiling, heap))
        })
        .await;
        let _ = std::fs::remove_file(&file);
        let (ceiling, heap) = timed?;
        out.push(CeilingRow {
            table: spec.table.to_string(),
            rows: spec.rows,
            bytes,
            heap_bytes: heap.get::<_, i64>(0) as u64,
            seed: seeded.duration,
            ceiling,
        });
    }
    Ok(out)
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
