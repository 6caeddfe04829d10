//! Physical order from `correlation`. `ANALYZE` computes a column's
//! correlation between the rows' physical positions and their ranks in
//! sorted order, ties broken by position: so a column of a few values in
//! random order already has a correlation of about the sum of its squared
//! shares. A column whose rows take their place in the value order from
//! their position for a share `p` of rows (the others at random) has the
//! correlation [`expected`]; [`positional_share`] inverts it.

/// The correlation `ANALYZE` finds when classes of `shares` (in value
/// order, summing to 1) are placed by position for a share `p` of rows,
/// ascending or `descending`, and at random for the others.
pub fn expected(shares: &[f64], p: f64, descending: bool) -> f64 {
    let (sq, cu) = (|x: f64| x * x, |x: f64| x * x * x);
    let mut e = 0.0;
    let mut start = 0.0;
    for &s in shares {
        let a = if descending { 1.0 - start - s } else { start };
        let whole = start / 2.0
            + s * (1.0 - p) / 3.0
            + p * (a * sq(s) / 2.0 + cu(s) / 3.0 + s * (1.0 - sq(a + s)) / 2.0);
        let (d2, d3) = ((sq(a + s) - sq(a)) / 2.0, (cu(a + s) - cu(a)) / 3.0);
        let inside = start * d2 + s * (1.0 - p) * d3 + p * (d3 - a * d2);
        e += (1.0 - p) * s * whole + p * inside;
        start += s;
    }
    12.0 * e - 3.0
}

/// The signed share of rows to place by position (negative: descending)
/// for `ANALYZE` to find `correlation`, given the classes' `shares`.
pub fn positional_share(shares: &[f64], correlation: f64) -> f64 {
    let total: f64 = shares.iter().sum();
    if total <= 0.0 || !correlation.is_finite() {
        return 0.0;
    }
    let shares: Vec<f64> = shares.iter().map(|s| s / total).collect();
    let descending = correlation < expected(&shares, 0.0, false);
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        let c = expected(&shares, mid, descending);
        let below = if descending {
            c > correlation
        } else {
            c < correlation
        };
        if below {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if descending {
        -lo
    } else {
        lo
    }
}

/// The shares of a column's classes: the most common values' (as shares
/// of all rows), then the rest split evenly over up to `rest_classes`.
pub fn classes(mcf: &[f64], rest_classes: u64) -> Vec<f64> {
    let mut out: Vec<f64> = mcf.to_vec();
    let in_mcv: f64 = mcf.iter().sum();
    let k = rest_classes.clamp(1, 1000);
    if in_mcv < 1.0 {
        out.extend(std::iter::repeat_n((1.0 - in_mcv) / k as f64, k as usize));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_order_of_few_values_has_the_sum_of_squared_shares_and_the_inverse_holds() {
        let shares = [0.5, 0.45, 0.05];
        let c0 = expected(&shares, 0.0, false);
        assert!((c0 - (0.25 + 0.2025 + 0.0025)).abs() < 1e-9, "{c0}");
        assert!((expected(&shares, 1.0, false) - 1.0).abs() < 1e-9);
        let many = vec![0.001; 1000];
        assert!((expected(&many, 0.3, false) - 0.3).abs() < 0.01);
        for c in [0.6, 0.9, 0.1, -0.5] {
            let p = positional_share(&shares, c);
            let got = expected(&shares, p.abs(), p < 0.0);
            assert!(
                (got - c).abs() < 1e-6 || p.abs() > 0.999,
                "{c}: {p} gives {got}"
            );
        }
    }
}
