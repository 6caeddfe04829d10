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

/// The time unit of one table column, chosen once from its largest value
/// so every cell of the column reads in the same unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Us,
    Ms,
}

impl TimeUnit {
    /// µs when every value is under 1 ms, else ms.
    pub fn for_column(values: impl IntoIterator<Item = f64>) -> TimeUnit {
        let max = values
            .into_iter()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        if max < 1.0 {
            TimeUnit::Us
        } else {
            TimeUnit::Ms
        }
    }

    /// The unit's symbol, for a column header.
    pub fn symbol(self) -> &'static str {
        match self {
            TimeUnit::Us => "µs",
            TimeUnit::Ms => "ms",
        }
    }

    /// `x` milliseconds in this unit, without the symbol.
    pub fn number(self, x: f64) -> String {
        if !x.is_finite() {
            return "n/a".into();
        }
        let v = match self {
            TimeUnit::Us => x * 1e3,
            TimeUnit::Ms => x,
        };
        if v >= 1000.0 {
            thousands(v.round() as u64)
        } else if v >= 100.0 || (self == TimeUnit::Us && v >= 10.0) {
            format!("{v:.1}")
        } else if v >= 10.0 {
            format!("{v:.2}")
        } else {
            format!("{v:.3}")
        }
    }

    /// `x` milliseconds in this unit, with the symbol.
    pub fn fmt(self, x: f64) -> String {
        format!("{} {}", self.number(x), self.symbol())
    }

    /// A 95% interval in this unit, e.g. `12.998–13.464 ms`.
    pub fn range(self, low: f64, high: f64) -> String {
        format!(
            "{}–{} {}",
            self.number(low),
            self.number(high),
            self.symbol()
        )
    }
}

/// A ratio with its 95% interval, e.g. `2.44× [2.26×–2.61×]`.
pub fn factor_range(point: f64, low: f64, high: f64) -> String {
    format!("{} [{}–{}]", factor(point), factor(low), factor(high))
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

/// A row count as a title gives it: `8,400` up to 99,999, then `1.2 M`,
/// `840 k`.
pub fn count(n: u64) -> String {
    match n {
        0..=99_999 => thousands(n),
        100_000..=999_999 => format!("{} k", n / 1000),
        _ => {
            let m = n as f64 / 1e6;
            if m < 100.0 {
                format!("{m:.1} M")
            } else {
                format!("{} M", thousands(m.round() as u64))
            }
        }
    }
}

/// A share as a percentage, e.g. `66.7%`.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_read_like_a_title() {
        assert_eq!(super::count(8_400), "8,400");
        assert_eq!(super::count(840_123), "840 k");
        assert_eq!(super::count(1_234_567), "1.2 M");
        assert_eq!(super::count(8_400_000_000), "8,400 M");
    }

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
        assert_eq!(factor_range(2.44, 2.26, 2.61), "2.44× [2.26×–2.61×]");
    }

    #[test]
    fn one_unit_per_column_chosen_by_its_largest_value() {
        let us = TimeUnit::for_column([0.112, 0.53]);
        assert_eq!(us, TimeUnit::Us);
        assert_eq!(us.fmt(0.112), "112.0 µs");
        assert_eq!(us.fmt(0.0085), "8.500 µs");
        let ms = TimeUnit::for_column([0.112, 9.03]);
        assert_eq!(ms.fmt(0.112), "0.112 ms");
        assert_eq!(ms.fmt(9.031), "9.031 ms");
        assert_eq!(ms.fmt(13.122), "13.12 ms");
        assert_eq!(ms.fmt(214.03), "214.0 ms");
        assert_eq!(ms.fmt(2513.8), "2,514 ms");
        assert_eq!(ms.range(12.998, 13.464), "13.00–13.46 ms");
    }
}
