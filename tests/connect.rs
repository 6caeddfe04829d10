//! Connecting to something that accepts TCP connections but never speaks the
//! PostgreSQL protocol: the connect timeout covers the whole connection
//! (socket, TLS, startup, login), so the tool gives up instead of hanging.

pub mod common;

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::stderr;
use helpdesk_bench::cluster::Endpoint;
use helpdesk_bench::error::Error;

/// A listener on 127.0.0.1 that accepts every connection and never writes.
/// The accepted sockets stay open (held by the thread) so clients wait.
fn silent_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

/// Runs the binary like `common::run`, but kills it and fails the test if it
/// is still running after `limit`, so a hang shows up as a failure.
fn run_within(args: &[&str], limit: Duration) -> std::process::Output {
    let mut child = std::process::Command::new(common::bin())
        .args(args)
        .env_remove(helpdesk_bench::cluster::URL_ENV)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run helpdesk-bench");
    let started = Instant::now();
    while child.try_wait().expect("wait for helpdesk-bench").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!("still running after {limit:?}: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect output")
}

#[test]
fn the_binary_gives_up_on_a_silent_server_after_connect_timeout() {
    let port = silent_listener();
    let url = format!("postgresql://u@127.0.0.1:{port}/x?connect_timeout=2");
    let started = Instant::now();
    let out = run_within(
        &["migrate", "status", "--url", &url],
        Duration::from_secs(8),
    );
    let took = started.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "took {took:?}: {err}"
    );
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("error: timed out after 2s"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("raise connect_timeout"), "{err}");
}

#[tokio::test]
async fn a_pool_gives_up_on_a_silent_server_after_connect_timeout() {
    let port = silent_listener();
    let url = format!(
        "host=127.0.0.1 port={port} user=u password=Leak9Tail connect_timeout=1 sslmode=disable"
    );
    let db = Endpoint::from_url(&url).unwrap();
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(8), db.pool(2))
        .await
        .expect("still waiting after 8s")
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::ConnectTimeout { .. }), "{err}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(6),
        "took {took:?}: {err}"
    );
    let text = err.to_string();
    assert!(text.contains(&format!("u@127.0.0.1:{port}/u")), "{text}");
    assert!(!text.contains("Leak9Tail"), "{text}");
}
