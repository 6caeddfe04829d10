//! Where load clients run: spread over as many OS threads as the machine
//! has cores (never more than clients), each thread with a
//! single-threaded tokio runtime that owns its clients' connections, as
//! `pgbench -j` spreads its clients over threads. A request and its answer
//! then stay on one thread: no cross-thread wake-up per request, which on
//! a shared multi-threaded runtime cost about as much CPU as the query
//! itself, CPU the server on the same machine then lacks.
//!
//! Every thread connects its clients, reports ready, and waits for the
//! common start; then all run until the same deadline. Dropping the point
//! (an error elsewhere, Ctrl-C) raises the stop flag, and every client
//! returns after its request in flight.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use tokio::sync::mpsc as async_mpsc;

use super::client::{LoadClient, Pacing};
use super::mix::Mix;
use super::record::Recorded;
use crate::error::{Error, Result};

/// Connects one client, given its index; runs on the client's thread.
pub type Connect = Arc<
    dyn Fn(usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<LoadClient>>>>
        + Send
        + Sync,
>;

/// One point's clients and how they send.
pub struct Point {
    pub clients: usize,
    pub pacing: Vec<Pacing>,
    pub duration: Duration,
    pub window: Duration,
    pub start_delay: Duration,
}

/// Raises the stop flag when the point is dropped before its end.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs the point; returns every client's recordings, in no set order,
/// and the wall time from the common start to the last client's end.
pub async fn run(
    point: Point,
    mix: Arc<Mix>,
    connect: Connect,
) -> Result<(Vec<Vec<Recorded>>, Duration)> {
    let stop = Arc::new(AtomicBool::new(false));
    let _stop = StopOnDrop(stop.clone());
    let threads = point.clients.min(cores()).max(1);
    let (ready_tx, mut ready_rx) = async_mpsc::unbounded_channel::<Result<()>>();
    let (done_tx, mut done_rx) = async_mpsc::unbounded_channel::<Result<Vec<Vec<Recorded>>>>();
    let mut starts = Vec::new();
    for t in 0..threads {
        let mine: Vec<usize> = (t..point.clients).step_by(threads).collect();
        let (start_tx, start_rx) = mpsc::channel::<tokio::time::Instant>();
        starts.push(start_tx);
        let job = Job {
            mine,
            pacing: point.pacing.clone(),
            deadline_after: point.duration,
            window: point.window,
            mix: mix.clone(),
            connect: connect.clone(),
            stop: stop.clone(),
        };
        let (ready, done) = (ready_tx.clone(), done_tx.clone());
        std::thread::Builder::new()
            .name(format!("load-{t}"))
            .spawn(move || job.run(ready, start_rx, done))
            .map_err(|e| Error::io("starting a load thread", e))?;
    }
    drop((ready_tx, done_tx));
    for _ in 0..threads {
        ready_rx
            .recv()
            .await
            .ok_or_else(|| stopped("before it was ready"))??;
    }
    let start = tokio::time::Instant::now() + point.start_delay;
    for s in &starts {
        // A thread that has gone already reports why through `done`.
        let _ = s.send(start);
    }
    let mut all = Vec::new();
    for _ in 0..threads {
        all.extend(
            done_rx
                .recv()
                .await
                .ok_or_else(|| stopped("while running"))??,
        );
    }
    Ok((all, start.elapsed()))
}

fn stopped(when: &str) -> Error {
    Error::Stopped {
        what: "a load thread".into(),
        detail: when.into(),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One thread's share of the clients.
struct Job {
    mine: Vec<usize>,
    pacing: Vec<Pacing>,
    deadline_after: Duration,
    window: Duration,
    mix: Arc<Mix>,
    connect: Connect,
    stop: Arc<AtomicBool>,
}

impl Job {
    fn run(
        self,
        ready: async_mpsc::UnboundedSender<Result<()>>,
        start: mpsc::Receiver<tokio::time::Instant>,
        done: async_mpsc::UnboundedSender<Result<Vec<Vec<Recorded>>>>,
    ) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready.send(Err(Error::io("a load thread's runtime", e)));
                return;
            }
        };
        let clients = rt.block_on(async {
            let mut out = Vec::new();
            for &i in &self.mine {
                out.push((self.connect)(i).await?);
            }
            Ok::<_, Error>(out)
        });
        let clients = match clients {
            Ok(c) => c,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        // The point was dropped before it started: nothing to run.
        let Ok(start) = start.recv() else { return };
        let deadline = start + self.deadline_after;
        let recorded = rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for (c, &i) in clients.into_iter().zip(&self.mine) {
                let run = c.run(
                    self.mix.clone(),
                    self.pacing[i],
                    start,
                    deadline,
                    self.window,
                    self.stop.clone(),
                );
                set.spawn(run);
            }
            let mut out = Vec::new();
            while let Some(r) = set.join_next().await {
                out.push(r.map_err(|e| Error::Stopped {
                    what: "a load client".into(),
                    detail: e.to_string(),
                })??);
            }
            Ok(out)
        });
        let _ = done.send(recorded);
    }
}
