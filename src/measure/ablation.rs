//! Leave-one-out: drop each index alone, keep the others, and see which
//! queries slow down. Only queries whose plan with every index used the
//! dropped one are timed: a plan that did not use an index cannot change
//! when it goes. The others are recorded as unaffected.
//!
//! Each timed cell is measured paired with its own baseline. In each of
//! [`ROUNDS`] rounds the query runs on the same [`PER_ROUND`] parameter rows
//! with every index and with the one left out, in alternating order (with
//! first, then without first, …), each side in a transaction that is
//! rolled back, the drop with it ([`rolled_back_without`], as the insert
//! rounds of index costs do): nothing is rebuilt, and no ANALYZE resamples
//! the statistics between the sides. The slowdown is the ratio of the two
//! sides' medians over all rounds; its interval resamples whole rounds,
//! each with both sides ([`paired_ratio_interval`]), so a busy moment of
//! the machine or a slow parameter row weighs on both sides alike.

use tokio_postgres::Client;

use super::costs::rolled_back_without;
use super::timing::Samples;
use crate::error::Result;
use crate::explain::{capture, Plan, PlanSummary};
use crate::queries::{Catalogue, ParamPool, Prepared};
use crate::results::AblationCell;
use crate::schema::{set_state, IndexDef, IndexState, Migration};
use crate::stats::{median, paired_ratio_interval};

/// Paired rounds per cell. Simulated with no true change (3 runs a side
/// per round, lognormal noise σ 0.3, a shared per-round factor σ 0.2), the
/// interval over rounds excluded 1 in 10–12% of trials with 4 rounds, 6–8%
/// with 5 or 6, and 4–6% with 7 or more: 10 leaves a margin, and is the
/// most whose every resample is enumerated (an exact interval).
pub const ROUNDS: usize = 10;
/// Timed runs per side and round, each on its own parameter row.
pub const PER_ROUND: usize = 3;
/// Untimed runs before each side of a round: the first run after the drop
/// (or its rollback) plans the prepared statement again.
const WARMUP: usize = 1;

/// The ablation grid.
pub async fn ablation(
    client: &Client,
    m: &Migration,
    catalogue: &Catalogue,
) -> Result<Vec<AblationCell>> {
    set_state(client, m, &IndexState::With).await?;
    let mut base = Vec::new();
    for q in catalogue.reads() {
        let pool = ParamPool::sample(client, q).await?;
        let plan = PlanSummary::of(&Plan::from_json(&capture(client, q, pool.first()).await?)?);
        base.push((Prepared::new(client, q, pool).await?, plan));
    }
    let mut cells = Vec::new();
    for ix in m.indexes() {
        for (p, plan) in &base {
            let cell = match plan.indexes_used.contains(&ix.name) {
                true => paired_cell(client, p, plan, ix).await?,
                false => AblationCell::unaffected(&p.query.name, &ix.name),
            };
            cells.push(cell);
        }
    }
    Ok(cells)
}

/// `p` with every index and without `ix`, over paired rounds.
async fn paired_cell(
    client: &Client,
    p: &Prepared,
    plan: &PlanSummary,
    ix: &IndexDef,
) -> Result<AblationCell> {
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let mut plan_changed = false;
    let doing = format!("timing {} without {}", p.query.name, ix.name);
    for round in 0..ROUNDS {
        let rows = round_rows(&p.pool, round);
        for drop in sides(round) {
            let dropped = if drop { vec![ix] } else { vec![] };
            let first = drop && round == 0;
            let s = rolled_back_without(client, &dropped, &doing, async |c| {
                if first {
                    let now = PlanSummary::of(&Plan::from_json(
                        &capture(c, &p.query, p.pool.first()).await?,
                    )?);
                    plan_changed =
                        now.indexes_used != plan.indexes_used || now.top_node != plan.top_node;
                }
                Samples::take_rows(c, p, WARMUP, &rows).await
            })
            .await?;
            match drop {
                true => without.push(s.0),
                false => with.push(s.0),
            }
        }
    }
    let all = |side: &[Vec<f64>]| median(&side.concat());
    let ci = paired_ratio_interval(&without, &with);
    Ok(AblationCell {
        query: p.query.name.clone(),
        dropped: ix.name.clone(),
        median_ms: all(&without),
        with_all_ms: all(&with),
        slowdown: ci.point,
        slowdown_ci: Some(ci),
        used: true,
        plan_changed,
        rounds: ROUNDS,
    })
}

/// Which side of `round` goes first: `false` is with every index, `true`
/// without the one; with first in even rounds, without first in odd ones,
/// so neither side always runs on the cache the other warmed.
fn sides(round: usize) -> [bool; 2] {
    let without_first = round % 2 == 1;
    [without_first, !without_first]
}

/// The parameter rows of `round`: the next [`PER_ROUND`] of the pool, in
/// rotation, the same for both sides of the round.
fn round_rows(pool: &ParamPool, round: usize) -> Vec<Vec<Option<String>>> {
    (0..PER_ROUND)
        .map(|i| pool.rows[(round * PER_ROUND + i) % pool.rows.len()].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_side_that_goes_first_alternates_and_each_round_has_both() {
        assert_eq!(sides(0), [false, true], "with every index first");
        assert_eq!(sides(1), [true, false], "then without first");
        let firsts = (0..ROUNDS).filter(|r| sides(*r)[0]).count();
        assert_eq!(firsts * 2, ROUNDS, "each order in half the rounds");
    }

    #[test]
    fn both_sides_of_a_round_get_its_rows_and_rounds_move_through_the_pool() {
        let pool = ParamPool::from_rows((0..7).map(|i| vec![Some(i.to_string())]).collect());
        let names = |r: usize| -> Vec<String> {
            round_rows(&pool, r)
                .into_iter()
                .map(|row| row[0].clone().unwrap())
                .collect()
        };
        assert_eq!(names(0), ["0", "1", "2"]);
        assert_eq!(names(1), ["3", "4", "5"]);
        assert_eq!(names(2), ["6", "0", "1"], "in rotation");
        assert_eq!(round_rows(&pool, 3), round_rows(&pool, 3));
    }
}
