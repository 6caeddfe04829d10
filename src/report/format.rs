//! Numbers as a reviewer reads them: always with units, rounded to what the
//! measurement can support.

/// Milliseconds, switching to µs or s where that reads better.
pub fn ms(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x < 0.1 {
        format!("{:.1} µs", x * 1e3)
    } else if x < 10.0 {
        format!("{x:.3} ms")
    } else if x < 1000.0 {
        format!("{x:.1} ms")
    } else {
        format!("{:.2} s", x / 1e3)
    }
}

/// Bytes in B, kB, MB or GB (powers of 1000).
pub fn bytes(x: f64) -> String {
    if x < 1e3 {
        format!("{x:.0} B")
    } else if x < 1e6 {
        format!("{:.0} kB", x / 1e3)
    } else if x < 1e9 {
        format!("{:.1} MB", x / 1e6)
    } else {
        format!("{:.2} GB", x / 1e9)
    }
}

/// A speed-up or slowdown factor, e.g. `12.5×`.
pub fn factor(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x >= 100.0 {
        format!("{x:.0}×")
    } else if x >= 10.0 {
        format!("{x:.1}×")
    } else {
        format!("{x:.2}×")
    }
}

/// A rate per second with thousands separators, e.g. `3,008 /s`.
pub fn rate(x: f64) -> String {
    format!("{} /s", thousands(x.round() as u64))
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share as a percentage, e.g. `66.7%`.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_always_shown() {
        assert_eq!(ms(0.085), "85.0 µs");
        assert_eq!(ms(7.874), "7.874 ms");
        assert_eq!(ms(239.5), "239.5 ms");
        assert_eq!(ms(2513.8), "2.51 s");
        assert_eq!(bytes(720_896.0), "721 kB");
        assert_eq!(bytes(22_544_384.0), "22.5 MB");
        assert_eq!(factor(2682.1), "2682×");
        assert_eq!(factor(2.78), "2.78×");
        assert_eq!(rate(3008.4), "3,008 /s");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(pct(0.6667), "66.7%");
    }
}
