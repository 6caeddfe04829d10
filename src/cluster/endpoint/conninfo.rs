//! Reading a libpq connection string, a `postgres://` URL or key=value
//! pairs, into tokio-postgres settings. A string that can't be read gets an
//! error that keeps the parser's reason and the next step, and never echoes
//! anything that could be part of a password.

use std::str::FromStr;
use std::sync::OnceLock;

use regex::Regex;

use crate::error::{Error, Result};

/// The next step for a connection string that is wrong in shape.
const USAGE: &str =
    "use postgres://user@host:5432/db or key=value form such as `host=/run/postgresql dbname=db`";

/// The `sslmode` values tokio-postgres accepts, as a next step.
const SSLMODES: &str = "use sslmode=disable, prefer or require (require encrypts but does not verify the server certificate)";

/// Parses `url` (already trimmed), refusing user info that can't be split.
pub(super) fn parse(url: &str) -> Result<tokio_postgres::Config> {
    if ambiguous_userinfo(url) {
        return Err(Error::BadUrl {
            reason: "the user info and host hold more than one `@`, so the password cannot be told apart from the host".into(),
            next: "percent-encode each `@` in the user name or password as `%40`",
        });
    }
    let config = tokio_postgres::Config::from_str(url).map_err(|e| parse_error(url, &e))?;
    if config.get_hosts().is_empty() {
        return Err(Error::BadUrl {
            reason: "no host given".into(),
            next: USAGE,
        });
    }
    Ok(config)
}

/// True for a URL whose host part, as tokio-postgres splits it (user info up
/// to the first `@`, host up to the next `/` or `?`), holds another `@`: an
/// unencoded `@` in the password, whose tail would otherwise be printed as
/// part of the host.
fn ambiguous_userinfo(url: &str) -> bool {
    let Some(rest) = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
    else {
        return false;
    };
    let Some(at) = rest.find('@') else {
        return false;
    };
    let after = &rest[at + 1..];
    let host = after.split(['/', '?']).next().unwrap_or(after);
    host.contains('@')
}

/// A `password=` parameter, in key=value or URL query form.
fn password_param() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?:^|[\s?&])password\s*=").expect("valid pattern"))
}

/// The value of an `sslmode` parameter, in key=value or URL query form.
fn sslmode_param() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?:^|[\s?&])sslmode\s*=\s*'?([A-Za-z-]*)").expect("valid pattern")
    })
}

/// Turns tokio-postgres's parse failure into a `BadUrl` that keeps the
/// parser's reason (its `source()`; its own text is only "invalid connection
/// string") and echoes nothing that could be part of a password.
fn parse_error(url: &str, e: &tokio_postgres::Error) -> Error {
    let reason = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_else(|| "it could not be parsed".into());
    let quoted = |prefix: &str| {
        reason
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix('`'))
            .map(str::to_string)
    };
    if let Some(option) = quoted("invalid value for option `") {
        return invalid_value(url, &option, reason.clone());
    }
    if let Some(name) = quoted("unknown option `") {
        let identifier = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if identifier && !password_param().is_match(url) {
            return Error::BadUrl {
                reason,
                next: "remove it or correct its spelling",
            };
        }
        // The name may be a piece of an unquoted password or a mistyped
        // URL scheme with the user info in it: don't print it.
        return Error::BadUrl {
            reason: "unknown option (its name is not shown, as it may hold part of a password)".into(),
            next: "start a URL with postgres:// or postgresql://, quote key=value values that contain spaces as password='...', and check the option names",
        };
    }
    // "unexpected character at byte 9: expected `=` but got `x`": the
    // character may come from a password; the position is enough.
    let reason = match reason.find(" but got") {
        Some(i) if reason.starts_with("unexpected character") => reason[..i].to_string(),
        _ => reason,
    };
    Error::BadUrl {
        reason: redact_reason(&reason),
        next: USAGE,
    }
}

/// A `BadUrl` for a value tokio-postgres rejected, with the next step for
/// that option.
fn invalid_value(url: &str, option: &str, reason: String) -> Error {
    match option {
        "sslmode" => {
            let value = sslmode_param()
                .captures(url)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str());
            // libpq modes tokio-postgres lacks; any other value stays unechoed.
            let reason = match value {
                Some(v @ ("allow" | "verify-ca" | "verify-full")) => {
                    format!("sslmode={v} is not supported by helpdesk-bench")
                }
                _ => reason,
            };
            Error::BadUrl {
                reason,
                next: SSLMODES,
            }
        }
        "port" => Error::BadUrl {
            reason,
            next: "give a port number from 1 to 65535, as in postgres://user@host:5432/db",
        },
        "connect_timeout" => Error::BadUrl {
            reason,
            next: "give a whole number of seconds, as in connect_timeout=10",
        },
        _ => Error::BadUrl {
            reason,
            next: USAGE,
        },
    }
}

/// Removes anything that looks like a password from a parser message.
pub(super) fn redact_reason(reason: &str) -> String {
    reason
        .split_whitespace()
        .map(|w| {
            if w.to_ascii_lowercase().starts_with("password=") {
                "password=***"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parse error's text, checked to be a `BadUrl` said once.
    fn bad_url(url: &str) -> String {
        let err = parse(url).unwrap_err();
        assert!(matches!(err, Error::BadUrl { .. }), "{err}");
        let text = crate::error::chain(&err);
        assert_eq!(
            text.matches("invalid connection string").count(),
            1,
            "{text}"
        );
        text
    }

    #[test]
    fn parse_errors_keep_the_parser_reason() {
        let text = bad_url("postgres://a@h/db?sslmode=bogus");
        assert!(
            text.contains("invalid value for option `sslmode`"),
            "{text}"
        );
        assert!(
            text.contains("use sslmode=disable, prefer or require"),
            "{text}"
        );
        let text = bad_url("postgres://a@h/db?frobnicate=1");
        assert!(text.contains("unknown option `frobnicate`"), "{text}");
        let text = bad_url("postgres://a@h:notaport/db");
        assert!(text.contains("invalid value for option `port`"), "{text}");
    }

    #[test]
    fn unsupported_sslmodes_name_the_supported_ones() {
        for url in [
            "postgres://a@h/db?sslmode=verify-full",
            "host=h sslmode=verify-ca",
            "host=h sslmode = 'allow'",
        ] {
            let text = bad_url(url);
            assert!(text.contains("is not supported"), "{url}: {text}");
            assert!(
                text.contains("sslmode=disable, prefer or require"),
                "{text}"
            );
        }
    }

    #[test]
    fn option_names_that_may_be_password_pieces_are_not_echoed() {
        // An unquoted password with a space: "9Tail" becomes an option name.
        let text = bad_url("host=h password=Leak 9Tail=x");
        assert!(!text.contains("9Tail"), "{text}");
        // A mistyped scheme makes the whole user info one option name.
        let text = bad_url("postgress://u:Le=ak9Tail@h/db");
        assert!(
            !text.contains("ak9Tail") && !text.contains("u:Le"),
            "{text}"
        );
        // The character the parser choked on may be from a password.
        let text = bad_url("host=h password=Le ak9Tail x");
        assert!(!text.contains("got"), "{text}");
    }

    #[test]
    fn an_unencoded_at_in_the_password_is_refused() {
        for url in [
            "postgres://bench:Xy@Leak9Tail@host/db",
            "postgresql://u:p/w@Leak9Tail@host:5432/db",
            "postgres://u:pw@Leak9Tail@host?sslmode=disable",
        ] {
            let text = bad_url(url);
            assert!(text.contains("`%40`"), "{text}");
            assert!(
                !text.contains("Leak9Tail") && !text.contains("Xy"),
                "{text}"
            );
        }
        // One `@`, and `@` in the query string, are fine.
        assert!(parse("postgres://u:p%40w@h/db").is_ok());
        assert!(parse("postgres://u@h/db?application_name=a@b").is_ok());
    }
}
