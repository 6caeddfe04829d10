//! A database to talk to: parsed from a libpq URL or key=value string, or
//! pointing into the embedded cluster. Connects with TLS when the string asks
//! for it, builds deadpool pools, and turns connection failures into errors
//! that say what to do. Passwords never appear in anything it prints.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
};
use postgres_native_tls::MakeTlsConnector;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;
use tokio::sync::OnceCell;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use super::version::{self, ServerVersion};
use crate::error::{chain, Error, Result, Wrap};

mod conninfo;

/// Used when a connection string sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to connect, and how to describe it without secrets.
#[derive(Clone)]
pub struct Endpoint {
    config: tokio_postgres::Config,
    tls: MakeTlsConnector,
    /// Whether the database lives in a cluster this process started.
    embedded: bool,
    /// The server's version, read and checked on the first connection
    /// (shared by clones and by [`Endpoint::with_dbname`]: same server).
    version: Arc<OnceCell<ServerVersion>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Endpoint {
    /// Parses a `postgres://` URL or a key=value connection string.
    pub fn from_url(url: &str) -> Result<Endpoint> {
        let mut config = conninfo::parse(url.trim())?;
        if config.get_user().is_none() {
            let user = std::env::var("PGUSER")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "postgres".into());
            config.user(&user);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        config.application_name("helpdesk-bench");
        Ok(Endpoint {
            config,
            tls: tls_connector()?,
            embedded: false,
            version: Arc::default(),
        })
    }

    /// An endpoint for a user's database from settings already read (a
    /// guard process gets them from the tool that started it).
    pub fn from_config(config: tokio_postgres::Config) -> Result<Endpoint> {
        Ok(Endpoint {
            config,
            tls: tls_connector()?,
            embedded: false,
            version: Arc::default(),
        })
    }

    /// An endpoint for a database of the embedded cluster.
    pub fn embedded(config: tokio_postgres::Config) -> Result<Endpoint> {
        Ok(Endpoint {
            config,
            tls: tls_connector()?,
            embedded: true,
            version: Arc::default(),
        })
    }

    /// The same server, another database.
    pub fn with_dbname(&self, dbname: &str) -> Endpoint {
        let mut e = self.clone();
        e.config.dbname(dbname);
        e
    }

    /// True when this database is in a cluster the tool started itself.
    pub fn is_embedded(&self) -> bool {
        self.embedded
    }

    /// The database name (defaulting to the user name, as libpq does).
    pub fn dbname(&self) -> String {
        self.config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("postgres")
            .to_string()
    }

    /// The user name.
    pub fn user(&self) -> String {
        self.config.get_user().unwrap_or("postgres").to_string()
    }

    /// Whether the connection string asked for TLS.
    pub fn wants_tls(&self) -> bool {
        matches!(self.config.get_ssl_mode(), SslMode::Require)
    }

    /// `user@host:port/db`, never with a password.
    pub fn describe(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{}@{host}:{port}/{}", self.user(), self.dbname())
    }

    /// The underlying settings, for tools that need them.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// How long a whole connection attempt (socket, TLS, startup and login)
    /// may take: `connect_timeout` (or 10 s) for each host, as in libpq.
    /// tokio-postgres applies its own timeout to opening the socket only.
    pub fn connect_timeout(&self) -> Duration {
        let per_host = self
            .config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let hosts = self.config.get_hosts().len().max(1);
        per_host * u32::try_from(hosts).unwrap_or(u32::MAX)
    }

    /// The server's version, once a connection has read it.
    pub fn server_version(&self) -> Option<&ServerVersion> {
        self.version.get()
    }

    /// Reads the server's version on the first connection and refuses an
    /// unsupported one ([`version::check`]); later connections reuse it.
    async fn check_version(&self, client: &impl tokio_postgres::GenericClient) -> Result<()> {
        let v = self
            .version
            .get_or_try_init(|| ServerVersion::of(client))
            .await?;
        let (what, next) = if self.embedded {
            (
                "the embedded server".to_string(),
                "set HELPDESK_BENCH_PG_BIN to the bin directory of a supported PostgreSQL",
            )
        } else {
            (
                format!("the server at {}", self.describe()),
                "point --url (or DATABASE_URL) at a server of a supported version, e.g. a copy restored on a newer one",
            )
        };
        version::check(&what, v.major(), &v.text, next)
    }

    /// Opens one connection; its driver runs on the current tokio runtime.
    /// The first connection also checks the server's version.
    pub async fn connect(&self) -> Result<Client> {
        let after = self.connect_timeout();
        let (client, conn) = tokio::time::timeout(after, self.config.connect(self.tls.clone()))
            .await
            .map_err(|_| self.timeout_error(after))?
            .map_err(|e| self.connect_error(e))?;
        self.drive(conn);
        self.check_version(&client).await?;
        Ok(client)
    }

    /// Runs a connection's driver on the current tokio runtime.
    fn drive<F>(&self, conn: F)
    where
        F: std::future::Future<Output = std::result::Result<(), tokio_postgres::Error>>
            + Send
            + 'static,
    {
        let target = self.describe();
        tokio::spawn(async move {
            // A failure here also fails the query in flight, which reports
            // it as the one `error:` line; at warn it would print twice.
            if let Err(e) = conn.await {
                tracing::debug!(%target, error = %chain(&e), "connection closed with an error");
            }
        });
    }

    /// The server's Unix-domain socket (`dir/.s.PGSQL.port`, the file libpq
    /// connects to), when the settings name one host, a socket directory,
    /// as the embedded cluster's do, and do not require TLS.
    pub fn unix_socket(&self) -> Option<PathBuf> {
        let [Host::Unix(dir)] = self.config.get_hosts() else {
            return None;
        };
        if self.wants_tls() {
            return None;
        }
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        Some(dir.join(format!(".s.PGSQL.{port}")))
    }

    /// Opens one session over the server's Unix-domain socket
    /// ([`Endpoint::unix_socket`]), through `wrap` (a stream that sees
    /// every byte of the session); cancellable like
    /// [`Endpoint::connect_cancellable`]. `None` when the server is not
    /// reached through such a socket.
    pub async fn connect_unix<S>(
        &self,
        wrap: impl FnOnce(UnixStream) -> S,
    ) -> Result<Option<(Client, super::cancel::Registration)>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Some(path) = self.unix_socket() else {
            return Ok(None);
        };
        let after = self.connect_timeout();
        let connect = async {
            let socket = UnixStream::connect(&path)
                .await
                .map_err(|e| Error::Unreachable {
                    target: self.describe(),
                    reason: e.to_string(),
                })?;
            self.config
                .connect_raw(wrap(socket), NoTls)
                .await
                .map_err(|e| self.connect_error(e))
        };
        let (client, conn) = tokio::time::timeout(after, connect)
            .await
            .map_err(|_| self.timeout_error(after))??;
        self.drive(conn);
        self.check_version(&client).await?;
        let route = super::cancel::Route::Unix(path);
        let reg = super::cancel::register(client.cancel_token(), route);
        Ok(Some((client, reg)))
    }

    /// Opens one connection whose running statement [`super::cancel_all`]
    /// cancels on Ctrl-C, for as long as the registration lives.
    pub async fn connect_cancellable(&self) -> Result<(Client, super::cancel::Registration)> {
        let client = self.connect().await?;
        let route = super::cancel::Route::Settings(self.tls.clone());
        let reg = super::cancel::register(client.cancel_token(), route);
        Ok((client, reg))
    }

    /// A pool of up to `size` connections. Checks one connection out first,
    /// so a bad URL fails here with a clear error rather than later.
    pub async fn pool(&self, size: usize) -> Result<Pool> {
        let mgr = Manager::from_config(
            self.config.clone(),
            self.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        // Only creating a connection gets a timeout: waiting for a free one
        // in a busy pool is normal, and not a connection problem.
        let pool = Pool::builder(mgr)
            .max_size(size.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(self.connect_timeout()))
            .build()
            .map_err(|e| Error::Pool { detail: chain(&e) })?;
        let first = self.checkout(&pool).await?;
        self.check_version(&**first).await?;
        drop(first);
        Ok(pool)
    }

    /// Takes a connection from a pool, classifying failures like `connect`.
    pub async fn checkout(&self, pool: &Pool) -> Result<deadpool_postgres::Object> {
        pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => self.connect_error(e),
            PoolError::Timeout(TimeoutType::Create) => self.timeout_error(self.connect_timeout()),
            other => Error::Unreachable {
                target: self.describe(),
                reason: other.to_string(),
            },
        })
    }

    /// The error for a connection attempt that took longer than `after`.
    fn timeout_error(&self, after: Duration) -> Error {
        Error::ConnectTimeout {
            target: self.describe(),
            after,
        }
    }

    /// Turns a failed connection attempt into the error a user can act on:
    /// the server's own reason, with the hint that fits its code.
    pub fn connect_error(&self, e: tokio_postgres::Error) -> Error {
        let target = self.describe();
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                return Error::Auth {
                    user: self.user(),
                    target,
                    server: conninfo::redact_reason(db.message()),
                    hint: self.auth_hint(code),
                };
            }
            if *code == SqlState::INVALID_CATALOG_NAME {
                return Error::NoDatabase {
                    db: self.dbname(),
                    target,
                };
            }
        }
        // The client's own refusal: the server asked for a password the
        // URL does not hold.
        if e.as_db_error().is_none() && e.to_string().contains("password missing") {
            return Error::Auth {
                user: self.user(),
                target,
                server: "it asks for a password, and the URL gives none".into(),
                hint:
                    "add the password to the URL (postgres://user:password@host/db) or to ~/.pgpass"
                        .into(),
            };
        }
        Error::Unreachable {
            target,
            reason: conninfo::redact_reason(&chain(&e)),
        }
    }

    /// What to do about a refused login: a wrong password (28P01) is the
    /// URL's; a rule of `pg_hba.conf` (28000) may want encryption, which
    /// `sslmode=disable` over TCP never offers.
    fn auth_hint(&self, code: &SqlState) -> String {
        let tcp = self
            .config
            .get_hosts()
            .iter()
            .any(|h| matches!(h, tokio_postgres::config::Host::Tcp(_)));
        let no_tls = matches!(self.config.get_ssl_mode(), SslMode::Disable);
        if *code == SqlState::INVALID_PASSWORD {
            "check the user name and password in the URL".into()
        } else if tcp && no_tls {
            "the server may accept only encrypted connections from this host: try sslmode=require in the URL; else check that the user exists and that pg_hba.conf admits this host, user and database".into()
        } else {
            "check that the user exists and that pg_hba.conf admits this host, user and database"
                .into()
        }
    }

    /// Wraps a query failure: a dropped connection becomes `ConnectionLost`.
    pub fn query_error(&self, doing: impl Into<String>, e: tokio_postgres::Error) -> Error {
        let doing = doing.into();
        let shutdown = e.code().is_some_and(|c| {
            *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        });
        if shutdown || e.is_closed() || (e.as_db_error().is_none() && e.code().is_none()) {
            return Error::ConnectionLost {
                target: self.describe(),
                doing,
                reason: chain(&e),
            };
        }
        e.wrap(doing)
    }
}

/// A TLS connector with libpq's `sslmode=require` meaning: encrypt, but do not
/// verify the certificate. tokio-postgres only uses it when the connection
/// string asks for TLS (`require`) or allows it (`prefer`, the default).
fn tls_connector() -> Result<MakeTlsConnector> {
    let connector = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .map_err(|e| Error::Tls { detail: chain(&e) })?;
    Ok(MakeTlsConnector::new(connector))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_login_gets_the_hint_that_fits_it() {
        let tcp_plain = Endpoint::from_url("postgres://u@db.example/app?sslmode=disable").unwrap();
        let hint = tcp_plain.auth_hint(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
        assert!(hint.contains("try sslmode=require"), "{hint}");
        let pw = tcp_plain.auth_hint(&SqlState::INVALID_PASSWORD);
        assert_eq!(pw, "check the user name and password in the URL");
        let tls = Endpoint::from_url("postgres://u@db.example/app?sslmode=require").unwrap();
        let hint = tls.auth_hint(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
        assert!(
            !hint.contains("sslmode") && hint.contains("pg_hba.conf"),
            "{hint}"
        );
        let socket = Endpoint::from_url("host=/run/postgresql user=u sslmode=disable").unwrap();
        let hint = socket.auth_hint(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
        assert!(
            !hint.contains("sslmode"),
            "no TLS over a unix socket: {hint}"
        );
    }

    #[test]
    fn only_one_socket_directory_without_required_tls_is_a_unix_socket() {
        let socket = |url: &str| Endpoint::from_url(url).unwrap().unix_socket();
        assert_eq!(
            socket("host=/run/postgresql port=5433 user=u"),
            Some(PathBuf::from("/run/postgresql/.s.PGSQL.5433"))
        );
        assert_eq!(
            socket("host=/tmp user=u"),
            Some(PathBuf::from("/tmp/.s.PGSQL.5432"))
        );
        assert_eq!(socket("postgres://u@db.example/app"), None, "TCP");
        assert_eq!(
            socket("host=/tmp user=u sslmode=require"),
            None,
            "TLS required"
        );
        assert_eq!(
            socket("host=/tmp,/run/postgresql user=u"),
            None,
            "a host list"
        );
    }

    #[test]
    fn describes_without_password() {
        let e = Endpoint::from_url("postgres://alice:s3cret@db.example:6543/app").unwrap();
        assert_eq!(e.describe(), "alice@db.example:6543/app");
        let kv =
            Endpoint::from_url("host=/run/postgresql user=bob password=hunter2 dbname=x").unwrap();
        assert_eq!(kv.describe(), "bob@/run/postgresql:5432/x");
        assert!(!format!("{kv:?}").contains("hunter2"));
    }

    #[test]
    fn tls_follows_sslmode() {
        assert!(Endpoint::from_url("postgres://a@h/db?sslmode=require")
            .unwrap()
            .wants_tls());
        assert!(!Endpoint::from_url("host=h sslmode=disable")
            .unwrap()
            .wants_tls());
    }

    #[test]
    fn malformed_url_is_a_bad_url() {
        let err = Endpoint::from_url("postgres://a@h:notaport/db").unwrap_err();
        assert!(matches!(err, Error::BadUrl { .. }), "{err}");
        let err = Endpoint::from_url("host=h password=pw bogus").unwrap_err();
        assert!(!err.to_string().contains("pw "), "{err}");
    }

    #[test]
    fn the_connect_timeout_defaults_to_ten_seconds() {
        let e = Endpoint::from_url("postgres://a@h/db").unwrap();
        assert_eq!(e.connect_timeout(), DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(DEFAULT_CONNECT_TIMEOUT, Duration::from_secs(10));
        let e = Endpoint::from_url("postgres://a@h/db?connect_timeout=3").unwrap();
        assert_eq!(e.connect_timeout(), Duration::from_secs(3));
        // Like libpq, the timeout is for each host tried.
        let e = Endpoint::from_url("host=a,b connect_timeout=2").unwrap();
        assert_eq!(e.connect_timeout(), Duration::from_secs(4));
        // Embedded endpoints set none and get the default too.
        let mut c = tokio_postgres::Config::new();
        c.host("/tmp").user("u");
        assert_eq!(
            Endpoint::embedded(c).unwrap().connect_timeout(),
            DEFAULT_CONNECT_TIMEOUT
        );
    }
}
