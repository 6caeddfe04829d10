//! The guard process itself, `helpdesk-bench __guard`: reads its orders,
//! opens its account, says it is ready, then waits on its stdin for the
//! tool's word. Dismissed, it exits. Otherwise it undoes the change: up to
//! [`TRIES`] tries, each a connection bounded by `connect_timeout` with
//! `lock_timeout` [`LOCK_TIMEOUT`] and `statement_timeout`
//! [`STATEMENT_TIMEOUT`], then reads the catalog back, and exits with the
//! verdict on stdout (for the tool, if it is still there), in the account,
//! and on stderr when the tool is gone. Exit status 0 when verified.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use nix::sys::signal::{signal, SigHandler, Signal};

use super::account::{say_on_stderr, Account};
use super::wire::{Orders, Reply, DONE, PROTOCOL, RUN};
use super::{pause_after, Verdict, LOCK_TIMEOUT, SLACK, STATEMENT_TIMEOUT, TRIES};
use crate::cluster::Endpoint;
use crate::error::{chain, Context, Error, Result};

/// What the tool said after the orders.
#[derive(Debug, PartialEq, Eq)]
enum Word {
    /// Dismissed, with what the tool verified.
    Done(String),
    /// Undo now: the tool's own attempt failed, for this reason.
    Run(String),
    /// The pipe closed (or said something else): undo now.
    Closed,
}

/// Runs a guard on this process's stdin and stdout; returns its exit code.
pub fn serve() -> ExitCode {
    ignore_signals();
    let mut input = std::io::stdin().lock();
    let orders = match read_orders(&mut input) {
        Ok(o) => o,
        Err(reason) => return refuse(reason),
    };
    let mut account = match Account::open(&orders.account) {
        Ok(a) => a,
        Err(e) => return refuse(format!("opening its account file: {}", chain(&e))),
    };
    account.line(&format!(
        "guard (pid {}) for {}: {} should the tool (pid {}) stop without dismissing it",
        std::process::id(),
        orders.target,
        orders.undo.describe(),
        orders.tool_pid
    ));
    say(&Reply::Ready {
        pid: std::process::id(),
    });
    match read_word(&mut input) {
        Word::Done(note) => {
            account.line(&format!(
                "dismissed by the tool, which did it itself: {note}"
            ));
            say(&Reply::Dismissed);
            return ExitCode::SUCCESS;
        }
        Word::Run(why) => account.line(&format!(
            "the tool's own attempt failed ({why}): undoing now"
        )),
        Word::Closed => account
            .line("the tool's pipe closed without `done` (it stopped or was killed): undoing now"),
    }
    let verdict = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(undo(&orders, &mut account)),
        Err(e) => orders.undo.unread(&Error::io("tokio runtime", e)),
    };
    finish(&orders, &mut account, verdict)
}

/// Records the verdict, hands it to the tool, and picks the exit code.
fn finish(orders: &Orders, account: &mut Account, verdict: Verdict) -> ExitCode {
    let sql = verdict.sql.clone().unwrap_or_default();
    match verdict.verified {
        true => account.line(&format!("verified: {}", verdict.summary)),
        false => {
            account.line(&format!("NOT verified: {}", verdict.summary));
            account.block(&format!("SQL still to run on {}:", orders.target), &sql);
        }
    }
    let ok = verdict.verified;
    if !say(&Reply::Finished(verdict.clone())) {
        // The tool is gone (it says the verdict otherwise): stderr is the
        // only other place to say it.
        match ok {
            true => say_on_stderr(&verdict.summary),
            false => say_on_stderr(&format!(
                "NOT verified: {}\nSQL still to run on {} (also in {}):\n{}",
                verdict.summary,
                orders.target,
                account.path().display(),
                sql.trim_end()
            )),
        }
    }
    match ok {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}

/// The tries, then the catalog read back.
async fn undo(orders: &Orders, account: &mut Account) -> Verdict {
    let db = match orders.conn.endpoint() {
        Ok(db) => db,
        Err(e) => return orders.undo.unread(&e),
    };
    for n in 1..=TRIES {
        match try_once(&db, orders).await {
            Ok((changed, v)) if v.verified => {
                account.line(&format!(
                    "try {n} of {TRIES}: {}",
                    match changed.as_slice() {
                        [] => "nothing differed".to_string(),
                        c => format!("changed {}", c.join(", ")),
                    }
                ));
                return v;
            }
            Ok((_, v)) => account.failure(&format!(
                "try {n} of {TRIES} ran, but the catalog read back says: {}",
                v.summary
            )),
            Err(e) => account.failure(&format!("try {n} of {TRIES} failed: {}", chain(&e))),
        }
        if n < TRIES {
            tokio::time::sleep(pause_after(n)).await;
        }
    }
    let read_back = bounded(&db, db.connect_timeout() + SLACK, async {
        let client = db.connect().await?;
        orders.undo.verify(&client).await
    });
    match read_back.await {
        Ok(v) => v,
        Err(e) => orders.undo.unread(&e),
    }
}

/// One try: connect, set the timeouts, undo what differs, read it back.
async fn try_once(db: &Endpoint, orders: &Orders) -> Result<(Vec<String>, Verdict)> {
    let limit = db.connect_timeout() + STATEMENT_TIMEOUT + SLACK;
    bounded(db, limit, async {
        let client = db.connect().await?;
        client
            .batch_execute(&format!(
                "SET lock_timeout = '{}ms'; SET statement_timeout = '{}ms';",
                LOCK_TIMEOUT.as_millis(),
                STATEMENT_TIMEOUT.as_millis()
            ))
            .await
            .context("setting the guard's timeouts")?;
        let changed = orders.undo.apply(&client).await?;
        let verdict = orders.undo.verify(&client).await?;
        Ok((changed, verdict))
    })
    .await
}

/// `work`, or an error once `limit` has passed without an answer.
async fn bounded<T>(
    db: &Endpoint,
    limit: Duration,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
        Err(Error::ConnectionLost {
            target: db.describe(),
            doing: "undoing the change".into(),
            reason: format!("no answer within {limit:?}"),
        })
    })
}

/// The orders on the first line, or why they can't be read.
fn read_orders(input: &mut impl BufRead) -> std::result::Result<Orders, String> {
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(0) => return Err("no orders on stdin (it is started by helpdesk-bench itself)".into()),
        Ok(_) => {}
        Err(e) => return Err(format!("reading its orders: {e}")),
    }
    let version: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| format!("orders that are not JSON: {e}"))?;
    let protocol = version.get("protocol").and_then(|p| p.as_u64());
    if protocol != Some(u64::from(PROTOCOL)) {
        return Err(format!(
            "orders in protocol {protocol:?}, but this binary (version {}) speaks {PROTOCOL}",
            env!("CARGO_PKG_VERSION")
        ));
    }
    serde_json::from_value(version).map_err(|e| format!("orders it cannot read: {e}"))
}

/// The tool's word after the orders.
fn read_word(input: &mut impl BufRead) -> Word {
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(n) if n > 0 => {}
        _ => return Word::Closed,
    }
    let line = line.trim_end_matches('\n');
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    match word {
        DONE => Word::Done(rest.to_string()),
        RUN => Word::Run(rest.to_string()),
        _ => Word::Closed,
    }
}

/// Writes a reply line to the tool; false when the tool is gone.
fn say(reply: &Reply) -> bool {
    let Ok(mut line) = serde_json::to_string(reply) else {
        return false;
    };
    line.push('\n');
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())
        .and_then(|_| out.flush())
        .is_ok()
}

/// Says why the guard will not serve, to the tool and on stderr.
fn refuse(reason: String) -> ExitCode {
    say_on_stderr(&reason);
    say(&Reply::Refused { reason });
    ExitCode::from(2)
}

/// The guard outlives Ctrl-C in the terminal, a SIGTERM sent to the tool's
/// group and the terminal closing: only its pipe tells it to stop.
fn ignore_signals() {
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: installing SIG_IGN runs no code in the handler.
        unsafe {
            let _ = signal(s, SigHandler::SigIgn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_after_the_orders() {
        let word = |s: &str| read_word(&mut s.as_bytes());
        assert_eq!(word("done\n"), Word::Done(String::new()));
        assert_eq!(
            word("done indexes verified as found: a\n"),
            Word::Done("indexes verified as found: a".into())
        );
        assert_eq!(word("run\n"), Word::Run(String::new()));
        assert_eq!(word("run lock timeout\n"), Word::Run("lock timeout".into()));
        assert_eq!(word(""), Word::Closed);
        assert_eq!(word("donut\n"), Word::Closed, "anything else undoes");
    }

    #[test]
    fn orders_of_another_protocol_are_refused() {
        let e = read_orders(&mut &b"{\"protocol\": 99}\n"[..])
            .err()
            .unwrap();
        assert!(e.contains("protocol Some(99)"), "{e}");
        let e = read_orders(&mut &b""[..]).err().unwrap();
        assert!(e.contains("no orders"), "{e}");
    }
}
