//! The binary COPY encoder and the pipeline that feeds one COPY stream from
//! several generator threads.
//!
//! Rows are encoded straight into large buffers (PostgreSQL's binary COPY
//! format: a header, then per row a field count and length-prefixed fields,
//! then a trailer) and handed to `CopyInSink` a megabyte or more at a time.
//! Chunks are sent in chunk order, so the table's physical order, and with it
//! every plan and timing measured later, is the same whatever `--jobs` is.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use tokio_postgres::Client;

use crate::cluster::Endpoint;
use crate::error::{Error, Result};

/// `PGCOPY\n\377\r\n\0`, then flags and header-extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// Encodes rows in PostgreSQL's binary COPY format.
#[derive(Debug, Default)]
pub struct Encoder {
    pub buf: BytesMut,
}

impl Encoder {
    /// An encoder with room for `cap` bytes.
    pub fn with_capacity(cap: usize) -> Encoder {
        Encoder {
            buf: BytesMut::with_capacity(cap),
        }
    }

    /// Starts a row of `fields` fields.
    pub fn row(&mut self, fields: i16) {
        self.buf.put_i16(fields);
    }

    /// A text (or enum: its label) field.
    pub fn text(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// A field from raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.put_i32(b.len() as i32);
        self.buf.put_slice(b);
    }

    /// An optional text field.
    pub fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    /// A NULL field.
    pub fn null(&mut self) {
        self.buf.put_i32(-1);
    }

    /// A `timestamp` field from Unix milliseconds.
    pub fn timestamp_ms(&mut self, unix_ms: i64) {
        self.buf.put_i32(8);
        self.buf.put_i64(unix_ms * 1000 - PG_EPOCH_US);
    }

    /// An optional `timestamp` field.
    pub fn opt_timestamp_ms(&mut self, unix_ms: Option<i64>) {
        match unix_ms {
            Some(ms) => self.timestamp_ms(ms),
            None => self.null(),
        }
    }

    /// An `integer` field.
    pub fn int4(&mut self, v: i32) {
        self.buf.put_i32(4);
        self.buf.put_i32(v);
    }

    /// Opens a field whose length is not known yet; close it with
    /// [`Encoder::end_field`].
    pub fn begin_field(&mut self) -> usize {
        let at = self.buf.len();
        self.buf.put_i32(0);
        at
    }

    /// Writes the length of the field opened at `at`.
    pub fn end_field(&mut self, at: usize) {
        let len = (self.buf.len() - at - 4) as i32;
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

/// The stream header.
pub fn header() -> Bytes {
    Bytes::from_static(HEADER)
}

/// The stream trailer.
pub fn trailer() -> Bytes {
    Bytes::from_static(&[0xff, 0xff])
}

/// `COPY table (columns) FROM source (FORMAT binary[, FREEZE])`, where
/// source is `STDIN` or a quoted server-side path.
pub fn statement(table: &str, columns: &str, source: &str, freeze: bool) -> String {
    format!(
        "COPY {table} ({columns}) FROM {source} (FORMAT binary{})",
        if freeze { ", FREEZE" } else { "" }
    )
}

/// Generates the rows of one chunk into an encoder and returns how many.
pub trait ChunkSource: Send + Sync + 'static {
    /// Number of chunks in the table.
    fn chunks(&self) -> usize;
    /// Encodes chunk `k`, returning its row count.
    fn encode(&self, k: usize, enc: &mut Encoder) -> u64;
}

/// What a COPY moved.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CopyStats {
    pub rows: u64,
    pub bytes: u64,
    #[serde(with = "crate::duration::millis")]
    pub duration: Duration,
}

/// Streams every chunk of `source`, in order, into `COPY ... FROM STDIN`
/// on `client`, generating with `jobs` threads. `on_chunk` sees each chunk's
/// row count as it is sent.
pub async fn copy_in(
    client: &Client,
    db: &Endpoint,
    copy_sql: &str,
    table: &str,
    source: Arc<dyn ChunkSource>,
    jobs: usize,
    mut on_chunk: impl FnMut(u64),
) -> Result<CopyStats> {
    let started = Instant::now();
    let doing = format!("copying {table} rows");
    let sink = client
        .copy_in::<_, Bytes>(copy_sql)
        .await
        .map_err(|e| db.query_error(doing.clone(), e))?;
    futures_util::pin_mut!(sink);
    let mut pipeline = Pipeline::start(source, jobs);
    let mut stats = CopyStats::default();
    sink.send(header())
        .await
        .map_err(|e| db.query_error(doing.clone(), e))?;
    while let Some((rows, bytes)) = pipeline.next().await {
        stats.rows += rows;
        stats.bytes += bytes.len() as u64;
        sink.send(bytes)
            .await
            .map_err(|e| db.query_error(doing.clone(), e))?;
        on_chunk(rows);
    }
    sink.send(trailer())
        .await
        .map_err(|e| db.query_error(doing.clone(), e))?;
    let copied = sink
        .finish()
        .await
        .map_err(|e| db.query_error(doing.clone(), e))?;
    if copied != stats.rows {
        return Err(Error::Unexpected {
            doing,
            detail: format!("server stored {copied} rows, {} were sent", stats.rows),
        });
    }
    stats.duration = started.elapsed();
    Ok(stats)
}

/// Generator threads feeding chunks back in order, at most `window` chunks
/// ahead of the one being sent.
pub(crate) struct Pipeline {
    rx: tokio::sync::mpsc::Receiver<(usize, u64, Bytes)>,
    pending: BTreeMap<usize, (u64, Bytes)>,
    next: usize,
    shared: Arc<Shared>,
}

struct Shared {
    sent: Mutex<usize>,
    moved: Condvar,
    stop: AtomicBool,
}

impl Pipeline {
    pub(crate) fn start(source: Arc<dyn ChunkSource>, jobs: usize) -> Pipeline {
        let jobs = jobs.max(1);
        let window = jobs * 2;
        let (tx, rx) = tokio::sync::mpsc::channel(window);
        let shared = Arc::new(Shared {
            sent: Mutex::new(0),
            moved: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let next_chunk = Arc::new(AtomicUsize::new(0));
        for _ in 0..jobs {
            let (source, tx, shared, next_chunk) = (
                source.clone(),
                tx.clone(),
                shared.clone(),
                next_chunk.clone(),
            );
            std::thread::spawn(move || loop {
                let k = next_chunk.fetch_add(1, Ordering::Relaxed);
                if k >= source.chunks() || !shared.wait_turn(k, window) {
                    return;
                }
                let mut enc = Encoder::with_capacity(1 << 20);
                let rows = source.encode(k, &mut enc);
                if tx.blocking_send((k, rows, enc.buf.freeze())).is_err() {
                    return;
                }
            });
        }
        Pipeline {
            rx,
            pending: BTreeMap::new(),
            next: 0,
            shared,
        }
    }

    /// The next chunk in order, or `None` when all were produced.
    pub(crate) async fn next(&mut self) -> Option<(u64, Bytes)> {
        loop {
            if let Some(chunk) = self.pending.remove(&self.next) {
                self.next += 1;
                self.shared.advance(self.next);
                return Some(chunk);
            }
            let (k, rows, bytes) = self.rx.recv().await?;
            self.pending.insert(k, (rows, bytes));
        }
    }
}

impl Shared {
    /// Blocks until chunk `k` is within `window` of the next one to send;
    /// false when the pipeline was dropped.
    fn wait_turn(&self, k: usize, window: usize) -> bool {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        while k >= *sent + window {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            sent = self
                .moved
                .wait_timeout(sent, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        !self.stop.load(Ordering::Relaxed)
    }

    fn advance(&self, next: usize) {
        *self.sent.lock().unwrap_or_else(|e| e.into_inner()) = next;
        self.moved.notify_all();
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.moved.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_binary_copy_fields() {
        let mut e = Encoder::default();
        e.row(3);
        e.text("ab");
        e.null();
        e.timestamp_ms(946_684_800_001);
        assert_eq!(
            &e.buf[..],
            &[
                0, 3, 0, 0, 0, 2, b'a', b'b', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0,
                3, 0xe8
            ]
        );
        let at = e.begin_field();
        e.buf.extend_from_slice(b"xyz");
        e.end_field(at);
        assert_eq!(&e.buf[at..], &[0, 0, 0, 3, b'x', b'y', b'z']);
    }
}
