//! The tool's side of a guard: [`Guard::spawn`] starts the guard process
//! and waits until it is ready, so a guard that cannot start stops the tool
//! before it changes anything. [`Guard::dismiss`] tells it the tool did the
//! undoing itself; [`Guard::fire`] has it undo now and awaits its verdict.
//! Dropping a [`Guard`] only closes its pipe, which makes the guard undo,
//! and never waits: the guard's process goes on a list that [`settle`]
//! awaits on the tool's way out (an error, Ctrl-C, SIGTERM).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::wire::{Conn, Orders, Reply, DONE, PROTOCOL, RUN};
use super::{exe, pause_after, Undo, Verdict, COMMAND, SLACK, STATEMENT_TIMEOUT, TRIES};
use crate::cluster::Endpoint;
use crate::error::{Context, Error, Result};

/// How long a guard may take to start and say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a dismissed guard may take to exit.
const DISMISS_TIMEOUT: Duration = Duration::from_secs(10);

/// Guards dropped without being dismissed or fired, for [`settle`].
static PENDING: Mutex<Vec<Proc>> = Mutex::new(Vec::new());

/// A running guard process that undoes a change unless dismissed.
pub struct Guard {
    stdin: Option<ChildStdin>,
    proc: Option<Proc>,
}

/// What a guard did, as the tool learns it.
#[derive(Debug)]
pub struct Outcome {
    pub verdict: Verdict,
    /// The database, `user@host:port/db`.
    pub target: String,
    /// The guard's account file.
    pub account: PathBuf,
}

/// The guard's process and its replies.
struct Proc {
    child: Child,
    replies: Lines<BufReader<ChildStdout>>,
    target: String,
    account: PathBuf,
    /// What is still to run if the guard gives no verdict.
    full_sql: String,
    /// The longest its tries and read-back take.
    limit: Duration,
}

impl Guard {
    /// Starts a guard that undoes `undo` on `db` unless dismissed, writing
    /// its account to `account`. Returns once the guard is ready; any
    /// failure to get there is an error, before anything is changed.
    pub async fn spawn(db: &Endpoint, undo: Undo, account: &Path) -> Result<Guard> {
        let exe = exe::locate()?;
        let account = std::path::absolute(account).context(account.display())?;
        let orders = Orders {
            protocol: PROTOCOL,
            conn: Conn::of(db),
            target: db.describe(),
            account: account.clone(),
            tool_pid: std::process::id(),
            undo,
        };
        let mut line = serde_json::to_string(&orders).context("encoding the guard's orders")?;
        line.push('\n');
        // The arguments only name it for `ps`: the orders go through stdin.
        let mut child = Command::new(&exe)
            .arg(COMMAND)
            .arg(db.describe())
            .arg(orders.undo.describe())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .map_err(|e| start_error(&exe, e.to_string()))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(start_error(&exe, "its pipes were not opened".into()));
        };
        let mut replies = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(START_TIMEOUT, async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await?;
            replies.next_line().await
        })
        .await;
        if let Err(detail) = ready_or_why(ready) {
            let _ = child.start_kill();
            let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            let detail = match status {
                Ok(Ok(s)) if s.code() != Some(2) => detail,
                Ok(Ok(s)) => format!("{detail} ({s}; see its message above)"),
                _ => detail,
            };
            return Err(start_error(&exe, detail));
        }
        Ok(Guard {
            stdin: Some(stdin),
            proc: Some(Proc {
                child,
                replies,
                target: db.describe(),
                account,
                full_sql: orders.undo.full_sql(),
                limit: worst_case(db.connect_timeout()),
            }),
        })
    }

    /// The tool undid the change itself and read it back (`note` says what
    /// it found, for the account): the guard exits without undoing.
    pub async fn dismiss(mut self, note: &str) {
        if let Some(mut stdin) = self.stdin.take() {
            let word = format!("{DONE} {}\n", note.replace('\n', " "));
            let _ = stdin.write_all(word.as_bytes()).await;
            let _ = stdin.flush().await;
        }
        if let Some(mut p) = self.proc.take() {
            if tokio::time::timeout(DISMISS_TIMEOUT, p.child.wait())
                .await
                .is_err()
            {
                tracing::warn!(account = %p.account.display(), "a dismissed guard did not exit");
            }
        }
    }

    /// Has the guard undo the change now (the tool's own attempt failed,
    /// `why` says how, for the account), and awaits its verdict.
    pub async fn fire(mut self, why: &str) -> Outcome {
        if let Some(mut stdin) = self.stdin.take() {
            let word = format!("{RUN} {}\n", why.replace('\n', " "));
            let _ = stdin.write_all(word.as_bytes()).await;
            let _ = stdin.flush().await;
        }
        Awaiting(self.proc.take()).outcome().await
    }
}

impl Drop for Guard {
    /// Neither dismissed nor fired: closing the pipe makes the guard undo
    /// the change. Nothing waits here; [`settle`] collects the verdict.
    fn drop(&mut self) {
        drop(self.stdin.take());
        if let Some(p) = self.proc.take() {
            lock().push(p);
        }
    }
}

/// Awaits the verdict of every guard dropped so far (the tool's way out
/// after an error, Ctrl-C or SIGTERM), each bounded by its tries' limit.
pub async fn settle() -> Vec<Outcome> {
    let pending = std::mem::take(&mut *lock());
    let mut outcomes = Vec::new();
    for p in pending {
        outcomes.push(Awaiting(Some(p)).outcome().await);
    }
    outcomes
}

impl Outcome {
    /// The verdict's summary when verified; otherwise the error holding
    /// the SQL still to run.
    pub fn into_result(self) -> Result<String> {
        match self.verdict.verified {
            true => Ok(self.verdict.summary),
            false => Err(Error::NotRestored {
                what: self.verdict.summary,
                target: self.target,
                account: self.account,
                sql: self.verdict.sql.unwrap_or_default(),
            }),
        }
    }
}

/// A guard whose verdict is awaited; dropped before it arrives (the tool
/// interrupted meanwhile), it goes back on the list for [`settle`].
struct Awaiting(Option<Proc>);

impl Awaiting {
    async fn outcome(mut self) -> Outcome {
        let verdict = match self.0.as_mut() {
            Some(p) => p.verdict().await,
            None => Verdict {
                verified: false,
                summary: "the guard was already awaited".into(),
                sql: None,
            },
        };
        let (target, account) = self
            .0
            .take()
            .map(|p| (p.target, p.account))
            .unwrap_or_default();
        Outcome {
            verdict,
            target,
            account,
        }
    }
}

impl Drop for Awaiting {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            lock().push(p);
        }
    }
}

impl Proc {
    /// Reads replies until the verdict, then reaps the process. No verdict
    /// (the guard died, or is still at it past its limit) proves nothing:
    /// all of the undoing SQL is then still to run.
    async fn verdict(&mut self) -> Verdict {
        let replies = &mut self.replies;
        let read = async {
            while let Ok(Some(line)) = replies.next_line().await {
                if let Ok(Reply::Finished(v)) = serde_json::from_str(&line) {
                    return Some(v);
                }
            }
            None
        };
        let got = tokio::time::timeout(self.limit, read).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let account = self.account.display();
        let summary = match got {
            Ok(Some(v)) => return v,
            Ok(None) => format!("the guard ended without a verdict (its account: {account})"),
            Err(_) => format!(
                "the guard gave no verdict within {:?}; it may still be at it (its account: {account})",
                self.limit
            ),
        };
        Verdict {
            verified: false,
            summary,
            sql: Some(self.full_sql.clone()),
        }
    }
}

/// Ok when the guard said it is ready; else why not.
fn ready_or_why(
    got: std::result::Result<std::io::Result<Option<String>>, tokio::time::error::Elapsed>,
) -> std::result::Result<(), String> {
    let line = match got {
        Err(_) => return Err(format!("no answer within {START_TIMEOUT:?}")),
        Ok(Err(e)) => return Err(format!("talking to it: {e}")),
        Ok(Ok(None)) => {
            return Err("it exited without a word (a helpdesk-bench too old to be a guard?)".into())
        }
        Ok(Ok(Some(line))) => line,
    };
    match serde_json::from_str::<Reply>(&line) {
        Ok(Reply::Ready { .. }) => Ok(()),
        Ok(Reply::Refused { reason }) => Err(reason),
        _ => Err(format!("it answered {line:?} instead of ready")),
    }
}

fn start_error(exe: &Path, detail: String) -> Error {
    Error::GuardStart {
        exe: exe.to_path_buf(),
        detail,
    }
}

/// The longest a guard's tries and read-back can take, each connection
/// bounded by `connect`.
fn worst_case(connect: Duration) -> Duration {
    let one = connect + STATEMENT_TIMEOUT + SLACK;
    let pauses: Duration = (1..TRIES).map(pause_after).sum();
    one * TRIES + pauses + connect + SLACK * 2
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Proc>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}
