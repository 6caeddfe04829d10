//! What the tool and a guard say to each other over the guard's stdin and
//! stdout, one JSON object or word a line:
//!
//! 1. tool → guard: [`Orders`], the connection settings (password
//!    included: a pipe is seen by no other user, unlike a command line or
//!    the environment) and what to undo;
//! 2. guard → tool: [`Reply::Ready`] once the account file is open, or
//!    [`Reply::Refused`] with the reason;
//! 3. tool → guard: `done <what the tool verified>` ([`DONE`]) to dismiss
//!    it, `run <why the tool's own attempt failed>` ([`RUN`]) to have it
//!    undo now, or nothing: the pipe closes when the tool exits or is
//!    killed, which means `run`;
//! 4. guard → tool: [`Reply::Dismissed`], or [`Reply::Finished`] with the
//!    verdict.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::config::{ChannelBinding, Host, SslMode, TargetSessionAttrs};

use super::Undo;
use crate::cluster::Endpoint;
use crate::error::Result;

/// Bumped when the orders change shape, so that a guard binary of another
/// version refuses them instead of misreading them.
pub const PROTOCOL: u32 = 1;
/// The word dismissing a guard, followed by a note for its account.
pub const DONE: &str = "done";
/// The word asking a guard to undo now.
pub const RUN: &str = "run";

/// The first line to a guard. Not `Debug`: it holds the password.
#[derive(Serialize, Deserialize)]
pub struct Orders {
    pub protocol: u32,
    pub conn: Conn,
    pub undo: Undo,
    /// The account file to append to (absolute).
    pub account: PathBuf,
    /// `user@host:port/db`, for the account.
    pub target: String,
    /// The tool's process id, for the account.
    pub tool_pid: u32,
}

/// What a guard says back.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Ready { pid: u32 },
    Refused { reason: String },
    Dismissed,
    Finished(super::Verdict),
}

/// An endpoint's settings, to connect from another process. Not `Debug`:
/// it holds the password.
#[derive(Serialize, Deserialize)]
pub struct Conn {
    hosts: Vec<HostSpec>,
    hostaddrs: Vec<IpAddr>,
    ports: Vec<u16>,
    user: Option<String>,
    password: Option<Vec<u8>>,
    dbname: Option<String>,
    options: Option<String>,
    ssl_mode: String,
    connect_timeout_ms: Option<u64>,
    target_session_attrs: String,
    channel_binding: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum HostSpec {
    Tcp(String),
    Unix(PathBuf),
}

impl Conn {
    /// The settings of `db`.
    pub fn of(db: &Endpoint) -> Conn {
        let c = db.config();
        Conn {
            hosts: c
                .get_hosts()
                .iter()
                .map(|h| match h {
                    Host::Tcp(h) => HostSpec::Tcp(h.clone()),
                    Host::Unix(p) => HostSpec::Unix(p.clone()),
                })
                .collect(),
            hostaddrs: c.get_hostaddrs().to_vec(),
            ports: c.get_ports().to_vec(),
            user: c.get_user().map(str::to_string),
            password: c.get_password().map(<[u8]>::to_vec),
            dbname: c.get_dbname().map(str::to_string),
            options: c.get_options().map(str::to_string),
            ssl_mode: match c.get_ssl_mode() {
                SslMode::Disable => "disable",
                SslMode::Require => "require",
                _ => "prefer",
            }
            .into(),
            connect_timeout_ms: c.get_connect_timeout().map(|d| d.as_millis() as u64),
            target_session_attrs: match c.get_target_session_attrs() {
                TargetSessionAttrs::ReadWrite => "read-write",
                _ => "any",
            }
            .into(),
            channel_binding: match c.get_channel_binding() {
                ChannelBinding::Disable => "disable",
                ChannelBinding::Require => "require",
                _ => "prefer",
            }
            .into(),
        }
    }

    /// An endpoint with these settings, named `helpdesk-bench guard` in
    /// `pg_stat_activity`.
    pub fn endpoint(&self) -> Result<Endpoint> {
        let mut c = tokio_postgres::Config::new();
        for h in &self.hosts {
            match h {
                HostSpec::Tcp(h) => c.host(h),
                HostSpec::Unix(p) => c.host_path(p),
            };
        }
        for a in &self.hostaddrs {
            c.hostaddr(*a);
        }
        for p in &self.ports {
            c.port(*p);
        }
        if let Some(u) = &self.user {
            c.user(u);
        }
        if let Some(pw) = &self.password {
            c.password(pw);
        }
        if let Some(d) = &self.dbname {
            c.dbname(d);
        }
        if let Some(o) = &self.options {
            c.options(o);
        }
        c.ssl_mode(match self.ssl_mode.as_str() {
            "disable" => SslMode::Disable,
            "require" => SslMode::Require,
            _ => SslMode::Prefer,
        });
        if let Some(ms) = self.connect_timeout_ms {
            c.connect_timeout(Duration::from_millis(ms));
        }
        c.target_session_attrs(match self.target_session_attrs.as_str() {
            "read-write" => TargetSessionAttrs::ReadWrite,
            _ => TargetSessionAttrs::Any,
        });
        c.channel_binding(match self.channel_binding.as_str() {
            "disable" => ChannelBinding::Disable,
            "require" => ChannelBinding::Require,
            _ => ChannelBinding::Prefer,
        });
        c.application_name("helpdesk-bench guard");
        Endpoint::from_config(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_the_pipe() {
        let db = Endpoint::from_url(
            "postgres://alice:s3cr%40t@db.example:6543/app?sslmode=require&connect_timeout=3&options=-c%20x%3D1",
        )
        .unwrap();
        let line = serde_json::to_string(&Conn::of(&db)).unwrap();
        assert!(!line.contains('\n'), "one line");
        let back: Conn = serde_json::from_str(&line).unwrap();
        let e = back.endpoint().unwrap();
        assert_eq!(e.describe(), db.describe());
        assert_eq!(e.config().get_password(), Some(&b"s3cr@t"[..]));
        assert!(e.wants_tls());
        assert_eq!(e.connect_timeout(), Duration::from_secs(3));
        assert_eq!(e.config().get_options(), Some("-c x=1"));
        assert_eq!(
            e.config().get_application_name(),
            Some("helpdesk-bench guard")
        );
        let unix = Endpoint::from_url("host=/run/postgresql user=bob dbname=x").unwrap();
        let back: Conn =
            serde_json::from_str(&serde_json::to_string(&Conn::of(&unix)).unwrap()).unwrap();
        assert_eq!(
            back.endpoint().unwrap().describe(),
            "bob@/run/postgresql:5432/x"
        );
    }
}
