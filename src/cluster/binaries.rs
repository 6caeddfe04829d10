//! Finding the PostgreSQL server binaries on this machine.
//!
//! Search order: `HELPDESK_BENCH_PG_BIN`, then `pg_config --bindir`, then
//! `PATH`, then the usual package locations (Debian, RPM, Homebrew), taking the
//! highest version found there.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::version;
use crate::error::{Context, Error, Result};

/// Environment variable that names the directory holding `initdb` and `postgres`.
pub const PG_BIN_ENV: &str = "HELPDESK_BENCH_PG_BIN";

/// Glob-like roots searched last: each `*` is one directory level whose name
/// carries the version.
const PACKAGE_ROOTS: &[(&str, &str)] = &[
    ("/usr/lib/postgresql", "bin"),
    ("/usr", "bin"), // /usr/pgsql-*/bin
    ("/opt/homebrew/opt", "bin"),
    ("/usr/local/opt", "bin"),
];

/// A directory of PostgreSQL server binaries and the version they report.
#[derive(Debug, Clone)]
pub struct PgBin {
    pub dir: PathBuf,
    /// The first line of `postgres --version`, e.g. `postgres (PostgreSQL) 15.18`.
    pub version: String,
}

impl PgBin {
    /// Finds the server binaries, or says where it looked.
    pub fn discover() -> Result<PgBin> {
        let mut searched = Vec::new();
        if let Some(dir) = std::env::var_os(PG_BIN_ENV) {
            let dir = PathBuf::from(dir);
            if has_server(&dir) {
                return PgBin::at(dir);
            }
            return Err(Error::NoPostgres {
                searched: format!("{PG_BIN_ENV}={}", dir.display()),
            });
        }
        searched.push("pg_config --bindir".to_string());
        if let Some(dir) = pg_config_bindir().filter(|d| has_server(d)) {
            return PgBin::at(dir);
        }
        searched.push("PATH".to_string());
        if let Some(dir) = std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .find(|d| has_server(d))
        {
            return PgBin::at(dir);
        }
        let mut candidates = package_dirs();
        searched.push("/usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, Homebrew".to_string());
        candidates.sort_by_key(|d| version_key(d));
        match candidates.pop() {
            Some(dir) => PgBin::at(dir),
            None => Err(Error::NoPostgres {
                searched: searched.join(", "),
            }),
        }
    }

    fn at(dir: PathBuf) -> Result<PgBin> {
        let postgres = dir.join("postgres");
        let out = Command::new(&postgres)
            .arg("--version")
            .output()
            .context(postgres.display())?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(PgBin { dir, version })
    }

    /// The major version, e.g. `15` for 15.18 and `9.6` for 9.6.24; the
    /// whole version line when it holds no version number.
    pub fn major(&self) -> String {
        major_version(&self.version).unwrap_or_else(|| self.version.clone())
    }

    /// The major version as a number (9 for 9.6), 0 when the version line
    /// holds none.
    pub fn major_num(&self) -> u32 {
        major_version(&self.version)
            .and_then(|m| m.split('.').next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Refuses binaries of a version the tool does not support, in one
    /// line naming the directory, the version and the supported range.
    pub fn check_supported(&self) -> Result<()> {
        let found = version_number(&self.version).unwrap_or(&self.version);
        version::check(
            &format!("the server binary {}", self.tool("postgres").display()),
            self.major_num(),
            found,
            "set HELPDESK_BENCH_PG_BIN to the bin directory of a supported PostgreSQL, or set DATABASE_URL",
        )
    }

    /// Path of one binary in this directory, such as `initdb` or `pg_dump`.
    pub fn tool(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The version in a `postgres --version` line, e.g. `15.18`.
fn version_number(line: &str) -> Option<&str> {
    line.split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
}

/// The major version in a `postgres --version` line: the first number for
/// 10 and later, the first two below 10.
fn major_version(line: &str) -> Option<String> {
    let version = version_number(line)?;
    let parts: Vec<&str> = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .collect();
    let first: u32 = parts.first()?.parse().ok()?;
    match parts.get(1) {
        Some(minor) if first < 10 => Some(format!("{first}.{minor}")),
        _ => Some(first.to_string()),
    }
}

fn has_server(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("postgres").is_file()
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Every versioned server directory under the package roots.
fn package_dirs() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for (root, bin) in PACKAGE_ROOTS {
        let Ok(entries) = std::fs::read_dir(root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let versioned = match *root {
                "/usr" => name.starts_with("pgsql-"),
                "/usr/lib/postgresql" => true,
                _ => name.starts_with("postgresql"),
            };
            let dir = entry.path().join(bin);
            if versioned && has_server(&dir) {
                found.push(dir);
            }
        }
    }
    found
}

/// The numeric version embedded in a path such as `/usr/lib/postgresql/15/bin`
/// or `/opt/homebrew/opt/postgresql@16/bin`, for ordering.
fn version_key(dir: &Path) -> Vec<u32> {
    dir.components()
        .rev()
        .find_map(|c| {
            let s = c.as_os_str().to_string_lossy();
            let digits: String = s
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            (!digits.is_empty()).then_some(digits)
        })
        .map(|v| v.split('.').filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_version_of_version_lines() {
        assert_eq!(
            major_version("postgres (PostgreSQL) 15.18").as_deref(),
            Some("15")
        );
        assert_eq!(
            major_version("postgres (PostgreSQL) 17beta2").as_deref(),
            Some("17")
        );
        assert_eq!(
            major_version("postgres (PostgreSQL) 9.6.24").as_deref(),
            Some("9.6")
        );
        assert_eq!(major_version("postgres"), None);
    }

    #[test]
    fn binaries_older_than_13_are_refused_naming_the_directory() {
        let bin = |line: &str| PgBin {
            dir: PathBuf::from("/usr/lib/postgresql/12/bin"),
            version: line.to_string(),
        };
        let e = bin("postgres (PostgreSQL) 12.22")
            .check_supported()
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(
                "the server binary /usr/lib/postgresql/12/bin/postgres is PostgreSQL 12.22,"
            ),
            "{text}"
        );
        assert!(text.contains("13 to 18"), "{text}");
        assert!(bin("postgres (PostgreSQL) 9.6.24")
            .check_supported()
            .is_err());
        assert!(bin("postgres (PostgreSQL) 13.23").check_supported().is_ok());
        assert!(bin("postgres (PostgreSQL) 18.4").check_supported().is_ok());
        assert_eq!(bin("postgres (PostgreSQL) 9.6.24").major_num(), 9);
    }

    #[test]
    fn version_key_orders_numerically() {
        let mut dirs = [
            PathBuf::from("/usr/lib/postgresql/9.6/bin"),
            PathBuf::from("/usr/lib/postgresql/16/bin"),
            PathBuf::from("/usr/lib/postgresql/15/bin"),
        ];
        dirs.sort_by_key(|d| version_key(d));
        assert_eq!(dirs[2], PathBuf::from("/usr/lib/postgresql/16/bin"));
        assert_eq!(
            version_key(Path::new("/opt/homebrew/opt/postgresql@14/bin")),
            vec![14]
        );
        assert_eq!(version_key(Path::new("/usr/pgsql-13/bin")), vec![13]);
    }
}
