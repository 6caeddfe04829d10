//! Cancel requests for the sessions that change a user's database: each such
//! session registers its cancel token, and on Ctrl-C or SIGTERM the tool
//! asks the server to cancel whatever they are running (a statement, or a
//! wait for a lock) before it exits. Closing the connection alone is not
//! enough: a backend queued behind another session's lock only notices a
//! vanished client at its next check.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use postgres_native_tls::MakeTlsConnector;
use tokio_postgres::{CancelToken, NoTls};

/// How long one cancel request may take before the tool gives up on it.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(2);

static TOKENS: Mutex<Vec<(u64, CancelToken, Route)>> = Mutex::new(Vec::new());
static NEXT: Mutex<u64> = Mutex::new(0);

/// How a cancel request reaches the server.
#[derive(Clone)]
pub(crate) enum Route {
    /// Connecting as the session did, from its settings (with TLS when
    /// they ask for it).
    Settings(MakeTlsConnector),
    /// Over the Unix-domain socket at this path: a session opened over a
    /// stream of its own keeps no settings to connect with.
    Unix(PathBuf),
}

/// Keeps a session's cancel token registered until dropped.
#[derive(Debug)]
pub struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&TOKENS).retain(|(id, _, _)| *id != self.0);
    }
}

/// Registers a session for [`cancel_all`].
pub(crate) fn register(token: CancelToken, route: Route) -> Registration {
    let id = {
        let mut next = lock(&NEXT);
        *next += 1;
        *next
    };
    lock(&TOKENS).push((id, token, route));
    Registration(id)
}

/// Sends a cancel request for every registered session, each bounded by a
/// timeout. Returns how many the server acknowledged.
pub async fn cancel_all() -> usize {
    let tokens: Vec<_> = lock(&TOKENS)
        .iter()
        .map(|(_, t, route)| (t.clone(), route.clone()))
        .collect();
    let mut done = 0;
    for (token, route) in tokens {
        match tokio::time::timeout(CANCEL_TIMEOUT, send(&token, route)).await {
            Ok(Ok(())) => done += 1,
            Ok(Err(e)) => tracing::warn!("cancel request failed: {e}"),
            Err(_) => tracing::warn!("cancel request timed out"),
        }
    }
    done
}

/// Sends one cancel request along its route.
async fn send(token: &CancelToken, route: Route) -> std::result::Result<(), String> {
    match route {
        Route::Settings(tls) => token.cancel_query(tls).await.map_err(|e| e.to_string()),
        Route::Unix(path) => {
            let socket = tokio::net::UnixStream::connect(&path)
                .await
                .map_err(|e| format!("connecting to {}: {e}", path.display()))?;
            token
                .cancel_query_raw(socket, NoTls)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
