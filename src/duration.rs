//! Durations: read from the command line and variables as a number and a
//! unit ([`parse`]), and written in results files as fractional
//! milliseconds, the unit a reviewer reads query latencies in.

/// A duration: a number and a unit, `ms`, `s`, `m` or `h` (10s, 500ms,
/// 2m, 1h), at most a day.
pub fn parse(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; write e.g. 10s, 500ms, 2m or 1h"))?;
    let secs = match unit.trim() {
        "ms" => n / 1e3,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "{s:?} has no unit; write e.g. 10s, 500ms, 2m or 1h"
            ))
        }
    };
    if !(secs > 0.0 && secs <= 24.0 * 3600.0) {
        return Err(format!("{s:?} must be more than 0 and at most a day"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// `#[serde(with = "crate::duration::millis")]` for `std::time::Duration`.
pub mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1e3)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Ok(Duration::from_secs_f64((ms / 1e3).max(0.0)))
    }
}
