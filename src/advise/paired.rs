//! Two index states of the scratch copy measured as a pair, at the same
//! moment: every read is timed in rounds that alternate the states (A B,
//! then B A, then A B, …), each round on the same parameter rows in both
//! states, so every timing in one state has a partner in the other taken
//! seconds apart on the same row. A change in the machine's load falls on
//! both sides alike (the A B B A order cancels a steady drift exactly), and
//! the ratio's interval comes from resampling the pairs together, not each
//! side on its own.
//!
//! The states are entered without building anything: every index of both is
//! built beforehand, and a state hides the ones it lacks with `DROP INDEX`
//! inside a transaction that is rolled back after its timings. The planner
//! never sees a dropped index (its plans and planning time are those of a
//! database without it), and the rollback brings it back as it was, pages
//! still cached, in milliseconds rather than a rebuild. Both states run
//! inside such a transaction, so neither pays a commit the other does not.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tokio_postgres::Client;

use super::reads::{drop_index, plan_row, Read, Timed};
use super::Options;
use crate::cluster::{transaction, Begin, End};
use crate::error::Result;
use crate::schema::IndexDef;
use crate::stats::{median, median_interval, Interval, SEED};

/// Bootstrap resamples of the paired intervals the selection compares:
/// fewer than [`crate::stats::RESAMPLES`] because the selection computes
/// one for each of hundreds of candidate sets; the intervals shown for the
/// chosen set come from the same function, with the same seed
/// ([`crate::stats::SEED`]), so the same samples always give the same
/// interval.
const RESAMPLES: usize = 2_000;

/// One read timed in both states.
pub struct Pair {
    pub a: Timed,
    pub b: Timed,
    /// `median(b) / median(a)` over the pairs, with its paired bootstrap
    /// interval ([`paired_ratio`]): above 1, the read is faster in state A.
    pub speedup: Interval,
    /// Pairs per round (the samples hold the rounds one after another).
    pub per_round: usize,
}

/// What one state hides, and what to call it in errors.
pub struct State<'a> {
    pub label: &'a str,
    pub hide: &'a [IndexDef],
}

/// Times `reads` in states `a` and `b` (every index either needs already
/// built) over `o.rounds` alternating rounds. In the first round the first
/// state's timings stop at the time budget's share of a round, the second
/// state's at the same count or its own budget, whichever is fewer; every
/// later round runs that many on both sides, so the samples pair up.
pub async fn compare(
    client: &Client,
    reads: &[&Read],
    a: &State<'_>,
    b: &State<'_>,
    o: &Options,
) -> Result<Vec<Pair>> {
    let rounds = o.read_rounds.max(2);
    let cap = o.runs.div_ceil(rounds).max(3);
    let budget = o.budget / rounds as u32;
    let mut t = Tally {
        n: vec![None; reads.len()],
        samples: [vec![Vec::new(); reads.len()], vec![Vec::new(); reads.len()]],
        plans: [Vec::new(), Vec::new()],
    };
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for (slot, side) in order.into_iter().enumerate() {
            let state = if side == 0 { a } else { b };
            let last = round + 1 == rounds;
            let ctx = RoundCtx {
                reads,
                round,
                cap,
                budget,
                first_of_first: round == 0 && slot == 0,
                last,
            };
            let doing = format!("timing the reads with {}", state.label);
            transaction(client, Begin::Plain, End::RollBack, &doing, async |c| {
                for ix in state.hide {
                    drop_index(c, ix).await?;
                }
                time_side(c, &ctx, &mut t, side).await
            })
            .await?;
        }
    }
    let [pa, pb] = t.plans;
    let [sa, sb] = t.samples;
    Ok(pa
        .into_iter()
        .zip(pb)
        .zip(sa.into_iter().zip(sb))
        .zip(t.n)
        .map(|(((ra, rb), (xa, xb)), n)| {
            let per_round = n.unwrap_or(xa.len()).max(1);
            let speedup = paired_ratio(&xb, &xa, per_round);
            let timed = |mut row: crate::results::AdviceQuery, s: Vec<f64>| {
                row.median = median_interval(&s);
                Timed { row, samples: s }
            };
            Pair {
                a: timed(ra, xa),
                b: timed(rb, xb),
                speedup,
                per_round,
            }
        })
        .collect())
}

/// What the rounds have gathered: each read's count per round once fixed,
/// samples per state and read, and each state's plans (last round).
struct Tally {
    n: Vec<Option<usize>>,
    samples: [Vec<Vec<f64>>; 2],
    plans: [Vec<crate::results::AdviceQuery>; 2],
}

struct RoundCtx<'a> {
    reads: &'a [&'a Read],
    round: usize,
    cap: usize,
    budget: Duration,
    /// The very first side timed: its count is provisional.
    first_of_first: bool,
    last: bool,
}

/// One state's timings of every read in one round, inside its transaction.
async fn time_side(c: &Client, x: &RoundCtx<'_>, t: &mut Tally, side: usize) -> Result<()> {
    for (i, r) in x.reads.iter().enumerate() {
        let rows = &r.prepared.pool.rows;
        let offset = x.round * x.cap;
        let row = |j: usize| {
            rows.get((offset + j) % rows.len().max(1))
                .map_or(&[][..], Vec::as_slice)
        };
        // One untimed run: the first after the state changed plans afresh.
        r.prepared.run_with(c, row(0)).await?;
        let (limit, bounded) = match t.n[i] {
            Some(n) => (n, false),
            // Round 0: the first side sets a provisional count, the second
            // stops at it or at its own budget.
            None if x.first_of_first => (x.cap, true),
            None => (t.samples[1 - side][i].len(), true),
        };
        let started = Instant::now();
        let mut v = Vec::with_capacity(limit);
        while v.len() < limit && (!bounded || v.len() < 3 || started.elapsed() < x.budget) {
            let s = Instant::now();
            r.prepared.run_with(c, row(v.len())).await?;
            v.push(s.elapsed().as_secs_f64() * 1e3);
        }
        if t.n[i].is_none() && !x.first_of_first {
            // The second side of round 0 fixes the count: the first side
            // keeps its first that many, on the same rows.
            t.n[i] = Some(v.len());
            t.samples[1 - side][i].truncate(v.len());
        }
        t.samples[side][i].extend(v);
        if x.last {
            t.plans[side].push(plan_row(c, r).await?);
        }
    }
    Ok(())
}

/// `median(num) / median(den)` where `num[i]` and `den[i]` are a pair and
/// the pairs come in rounds of `per_round`, with its 95% bootstrap
/// interval. Each resample draws rounds, then pairs within each drawn
/// round: both sides get the same parameter rows and moments, and a round
/// whose moment favoured one side (a neighbour's build starting) weighs in
/// the interval as the one draw it is, not as `per_round` independent ones.
pub fn paired_ratio(num: &[f64], den: &[f64], per_round: usize) -> Interval {
    paired_geomean(&[(num, den, per_round)])
}

/// The geometric mean over reads of [`paired_ratio`], with its interval
/// (each read resampled as there, reads independently).
pub fn paired_geomean(reads: &[(&[f64], &[f64], usize)]) -> Interval {
    let geo = |ratios: &mut dyn Iterator<Item = f64>| {
        let (mut sum, mut n) = (0.0, 0.0);
        for r in ratios {
            sum += r.max(1e-12).ln();
            n += 1.0;
        }
        (sum / f64::max(n, 1.0)).exp()
    };
    let ratio = |a: &[f64], b: &[f64]| median(a) / median(b).max(1e-12);
    let point = geo(&mut reads.iter().map(|(a, b, _)| ratio(a, b)));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let mut stats = Vec::with_capacity(RESAMPLES);
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    for _ in 0..RESAMPLES {
        let mut ratios = Vec::with_capacity(reads.len());
        for (a, b, per) in reads {
            let n = a.len().min(b.len());
            let per = (*per).clamp(1, n.max(1));
            let rounds = n / per;
            ra.clear();
            rb.clear();
            for _ in 0..rounds {
                let start = rng.gen_range(0..rounds) * per;
                for _ in 0..per {
                    let k = start + rng.gen_range(0..per);
                    ra.push(a[k]);
                    rb.push(b[k]);
                }
            }
            ratios.push(ratio(&ra, &rb));
        }
        stats.push(geo(&mut ratios.into_iter()));
    }
    stats.sort_by(f64::total_cmp);
    let at = |q: f64| stats[((stats.len() - 1) as f64 * q).round() as usize];
    Interval {
        point,
        low: at(0.025),
        high: at(0.975),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_removes_what_both_sides_share() {
        // Parameter rows that differ tenfold, and a machine whose load
        // drifts: each pair shares both, and B is always 1.3 times A.
        let a: Vec<f64> = (0..40)
            .map(|i| (1.0 + 9.0 * ((i * 7) % 5) as f64 / 4.0) * (1.0 + i as f64 * 0.01))
            .collect();
        let b: Vec<f64> = a.iter().map(|x| x * 1.3).collect();
        let p = paired_ratio(&b, &a, 5);
        assert!((p.point - 1.3).abs() < 1e-9, "{p:?}");
        assert!(p.low > 1.29 && p.high < 1.31, "paired: {p:?}");
        let unpaired = crate::stats::ratio_interval(&b, &a);
        assert!(
            unpaired.low < 1.0,
            "resampled apart, the rows' spread swamps it: {unpaired:?}"
        );
        assert_eq!(p.verdict(), crate::stats::Verdict::Higher);
    }

    #[test]
    fn a_round_that_favoured_one_side_widens_the_interval() {
        // Eight rounds of five pairs: the same on both sides, except one
        // round where B ran at a busy moment, 1.6 times slower throughout.
        let a: Vec<f64> = (0..40).map(|i| 1.0 + ((i * 3) % 5) as f64 * 0.01).collect();
        let mut b = a.clone();
        for x in &mut b[10..15] {
            *x *= 1.6;
        }
        let blocks = paired_ratio(&b, &a, 5);
        let pairs = paired_ratio(&b, &a, 1);
        assert!(
            blocks.high - blocks.low > pairs.high - pairs.low,
            "rounds {blocks:?}, pairs as if independent {pairs:?}"
        );
        assert_eq!(blocks.verdict(), crate::stats::Verdict::WithinNoise);
    }

    #[test]
    fn the_geometric_mean_of_paired_ratios() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let b2: Vec<f64> = a.iter().map(|x| x * 2.0).collect();
        let b8: Vec<f64> = a.iter().map(|x| x * 8.0).collect();
        let g = paired_geomean(&[(&b2, &a, 2), (&b8, &a, 2)]);
        assert!(
            (g.point - 4.0).abs() < 1e-9 && (g.low - 4.0).abs() < 1e-9,
            "{g:?}"
        );
    }
}
