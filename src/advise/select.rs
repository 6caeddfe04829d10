//! Choosing the index set: the one that saves the most read time per hour
//! of the catalogue's traffic (weight = executions per hour), minus the
//! write time its indexes add per hour, within the size budget, with an
//! index leading with every foreign key's columns. Exhaustive over subsets
//! (a depth-first search that stops at the budget), so no greedy order can
//! hide a better pair.
//!
//! A query's saving with a set is the best saving of a chosen index that
//! helps it (the planner picks one access path); when none helps, the worst
//! slowdown one causes. The savings come from paired ratios (each candidate
//! timed against the baseline at the same moment) and count only when
//! their interval clears the noise threshold ([`crate::stats::SIGNIFICANT`]):
//! an index whose speed-up interval reaches inside 1.10× saves nothing.
//!
//! Noise decides nothing: the best set by the savings' point values is
//! compared with the runners-up by the interval of the difference of their
//! savings (only the queries where the two sets' savings come from
//! different indexes contribute, each from its ends). Every set whose
//! difference from the best holds 0 is as good as far as the measurements
//! can tell; of those, the smallest is chosen (then the fewest indexes,
//! then the first in candidate order), so two runs whose noise differs
//! still choose alike, and the others are named as alternatives within
//! noise. The chosen set is then measured as a whole; this model only
//! picks it.

/// At most this many sets within noise of the best are kept (the first
/// the search meets); the count then says this many.
const CLASS_MAX: usize = 100_000;
/// How many alternatives within noise are named.
const ALTERNATIVES: usize = 8;

/// One candidate as the selection sees it.
#[derive(Debug, Clone, Default)]
pub struct Item {
    pub size: u64,
    /// Per query (in the catalogue's order): ms saved per hour (negative:
    /// lost), at the speed-up's point and at its interval's two ends.
    pub saving: Vec<f64>,
    pub saving_low: Vec<f64>,
    pub saving_high: Vec<f64>,
    /// Write ms added per hour.
    pub write: f64,
    /// Indexes of the foreign-key requirements it meets.
    pub serves: Vec<usize>,
    /// Candidates of one group differ only in `INCLUDE` columns: a set holds
    /// at most one of them (the planner would pick one and the other would
    /// only cost writes and space).
    pub group: usize,
    /// Candidates whose keys start with this one's keys (same table and
    /// predicate): a set holds this one or those, never both.
    pub covered_by: Vec<usize>,
}

/// A set: indexes into the items, its modelled net saving per hour (point)
/// and its size.
#[derive(Debug, Clone, PartialEq)]
pub struct Set {
    pub chosen: Vec<usize>,
    pub net_ms_per_hour: f64,
    pub size: u64,
}

/// The chosen set, its modelled net saving with every saving at its
/// interval's ends, and the sets within noise of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub chosen: Vec<usize>,
    pub net_ms_per_hour: f64,
    pub net_low: f64,
    pub net_high: f64,
    pub size: u64,
    /// The smallest sets within noise of the best besides the chosen one
    /// (none that only adds indexes to another of them).
    pub alternatives: Vec<Alternative>,
    /// How many sets in all are within noise of the best, the chosen one
    /// included.
    pub within_noise: usize,
}

/// A set the measurements cannot tell from the chosen one.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub set: Set,
    /// Its net saving minus the chosen set's: point, low, high.
    pub difference: (f64, f64, f64),
}

/// Every set within the budget that meets the foreign-key requirements
/// and holds no two variants of one index, nor an index beside one whose
/// keys start with its own.
struct Sets<'a> {
    items: &'a [Item],
    budget: u64,
    fks: usize,
}

impl Sets<'_> {
    fn each(&self, visit: &mut dyn FnMut(&[usize], u64)) {
        self.dfs(0, &mut Vec::new(), 0, visit);
    }

    fn dfs(
        &self,
        i: usize,
        chosen: &mut Vec<usize>,
        size: u64,
        visit: &mut dyn FnMut(&[usize], u64),
    ) {
        if i == self.items.len() {
            let served =
                (0..self.fks).all(|f| chosen.iter().any(|&c| self.items[c].serves.contains(&f)));
            if served {
                visit(chosen, size);
            }
            return;
        }
        let item = &self.items[i];
        let twin = chosen.iter().any(|&c| {
            self.items[c].group == item.group
                || self.items[c].covered_by.contains(&i)
                || item.covered_by.contains(&c)
        });
        if size + item.size <= self.budget && !twin {
            chosen.push(i);
            self.dfs(i + 1, chosen, size + item.size, visit);
            chosen.pop();
        }
        self.dfs(i + 1, chosen, size, visit);
    }
}

/// Picks the set within `budget` that meets all `fks` foreign-key
/// requirements: the smallest of those within noise of the best by point
/// value; `None` when no set within the budget meets them. Two passes over
/// every set: the best by point value, then every set within noise of it.
pub fn select(items: &[Item], budget: u64, fks: usize) -> Option<Choice> {
    let sets = Sets { items, budget, fks };
    let mut best: Option<Set> = None;
    sets.each(&mut |chosen, size| {
        let set = Set {
            chosen: chosen.to_vec(),
            net_ms_per_hour: net_saving(items, chosen),
            size,
        };
        if best.as_ref().is_none_or(|b| rank(&set, b).is_lt()) {
            best = Some(set);
        }
    });
    let best = best?;
    let mut class: Vec<Set> = Vec::new();
    sets.each(&mut |chosen, size| {
        if class.len() < CLASS_MAX && within_noise(difference(items, chosen, &best.chosen)) {
            class.push(Set {
                chosen: chosen.to_vec(),
                net_ms_per_hour: net_saving(items, chosen),
                size,
            });
        }
    });
    class.sort_by(smaller);
    let pick = class
        .first()
        .expect("the best is within noise of itself")
        .clone();
    // A set that only adds an index to another of the class adds nothing
    // measurable: not named.
    let members: std::collections::HashSet<&[usize]> =
        class.iter().map(|t| t.chosen.as_slice()).collect();
    let minimal = |t: &Set| {
        (0..t.chosen.len()).all(|k| {
            let mut less = t.chosen.clone();
            less.remove(k);
            !members.contains(less.as_slice())
        })
    };
    // Named: those the measurements cannot tell from the selected set
    // itself (the class is within noise of the best, and the selected set
    // is its smallest, so a member may still differ from it).
    let alternatives = class
        .iter()
        .skip(1)
        .filter(|t| minimal(t))
        .map(|t| Alternative {
            set: t.clone(),
            difference: difference(items, &t.chosen, &pick.chosen),
        })
        .filter(|a| within_noise(a.difference))
        .take(ALTERNATIVES)
        .collect();
    let (net_low, net_high) = net_range(items, &pick.chosen);
    Some(Choice {
        chosen: pick.chosen,
        net_ms_per_hour: pick.net_ms_per_hour,
        net_low,
        net_high,
        size: pick.size,
        alternatives,
        within_noise: class.len(),
    })
}

/// Best first: the larger saving, then the smaller size, then the first in
/// candidate order.
fn rank(a: &Set, b: &Set) -> std::cmp::Ordering {
    b.net_ms_per_hour
        .total_cmp(&a.net_ms_per_hour)
        .then(a.size.cmp(&b.size))
        .then_with(|| a.chosen.cmp(&b.chosen))
}

/// Smallest first: size, then fewer indexes, then the first in candidate
/// order; all three deterministic for the same data.
fn smaller(a: &Set, b: &Set) -> std::cmp::Ordering {
    (a.size, a.chosen.len(), &a.chosen).cmp(&(b.size, b.chosen.len(), &b.chosen))
}

/// Which item's saving counts for query `q` in a set: the best positive
/// one, else the worst loss, else none.
fn counted(items: &[Item], chosen: &[usize], q: usize) -> Option<usize> {
    let best = chosen
        .iter()
        .copied()
        .filter(|&i| items[i].saving[q] > 0.0)
        .max_by(|&a, &b| items[a].saving[q].total_cmp(&items[b].saving[q]));
    best.or_else(|| {
        chosen
            .iter()
            .copied()
            .filter(|&i| items[i].saving[q] < 0.0)
            .min_by(|&a, &b| items[a].saving[q].total_cmp(&items[b].saving[q]))
    })
}

fn queries(items: &[Item]) -> usize {
    items.first().map_or(0, |i| i.saving.len())
}

fn writes(items: &[Item], chosen: &[usize]) -> f64 {
    chosen.iter().map(|&i| items[i].write).sum()
}

/// The modelled net saving per hour of a set.
pub fn net_saving(items: &[Item], chosen: &[usize]) -> f64 {
    (0..queries(items))
        .filter_map(|q| counted(items, chosen, q).map(|i| items[i].saving[q]))
        .sum::<f64>()
        - writes(items, chosen)
}

/// The net saving with every counted saving at its interval's low end,
/// and at its high end.
fn net_range(items: &[Item], chosen: &[usize]) -> (f64, f64) {
    let (mut low, mut high) = (0.0, 0.0);
    for q in 0..queries(items) {
        if let Some(i) = counted(items, chosen, q) {
            low += items[i].saving_low[q];
            high += items[i].saving_high[q];
        }
    }
    let w = writes(items, chosen);
    (low - w, high - w)
}

/// `net(a) − net(b)`: point, low, high. A query whose saving comes from the
/// same index in both sets (or from none) adds nothing, its noise included;
/// one where they differ adds the widest difference its intervals allow.
/// Write costs are the medians' (their noise is far below the reads').
pub fn difference(items: &[Item], a: &[usize], b: &[usize]) -> (f64, f64, f64) {
    let (mut point, mut low, mut high) = (0.0, 0.0, 0.0);
    let end =
        |i: Option<usize>, q: usize, v: fn(&Item) -> &Vec<f64>| i.map_or(0.0, |i| v(&items[i])[q]);
    for q in 0..queries(items) {
        let (ia, ib) = (counted(items, a, q), counted(items, b, q));
        if ia == ib {
            continue;
        }
        point += end(ia, q, |i| &i.saving) - end(ib, q, |i| &i.saving);
        low += end(ia, q, |i| &i.saving_low) - end(ib, q, |i| &i.saving_high);
        high += end(ia, q, |i| &i.saving_high) - end(ib, q, |i| &i.saving_low);
    }
    let w = writes(items, a) - writes(items, b);
    (point - w, low - w, high - w)
}

/// True when a difference's interval holds 0.
pub fn within_noise((_, low, high): (f64, f64, f64)) -> bool {
    low <= 1e-9 && high >= -1e-9
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(size: u64, saving: &[f64], write: f64, serves: &[usize]) -> Item {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        Item {
            size,
            saving: saving.to_vec(),
            saving_low: saving.to_vec(),
            saving_high: saving.to_vec(),
            write,
            serves: serves.to_vec(),
            group: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            covered_by: Vec::new(),
        }
    }

    /// An item whose savings have intervals: `(point, low, high)` per query.
    fn noisy(size: u64, savings: &[(f64, f64, f64)]) -> Item {
        let mut i = item(size, &[], 0.0, &[]);
        i.saving = savings.iter().map(|s| s.0).collect();
        i.saving_low = savings.iter().map(|s| s.1).collect();
        i.saving_high = savings.iter().map(|s| s.2).collect();
        i
    }

    #[test]
    fn sets_within_noise_go_to_the_smallest_and_the_others_are_named() {
        // Two indexes for one query: the larger saves a little more by the
        // point values, within the noise of the smaller.
        let items = [
            noisy(20, &[(110.0, 90.0, 130.0)]),
            noisy(5, &[(100.0, 80.0, 120.0)]),
        ];
        let c = select(&items, 100, 0).unwrap();
        assert_eq!(c.chosen, [1], "the smaller of two it cannot tell apart");
        assert_eq!(
            (c.net_ms_per_hour, c.net_low, c.net_high),
            (100.0, 80.0, 120.0)
        );
        assert_eq!(c.alternatives.len(), 1, "{:?}", c.alternatives);
        let alt = &c.alternatives[0];
        assert_eq!(alt.set.chosen, [0]);
        assert_eq!(alt.difference, (10.0, -30.0, 50.0));
        // Both together add nothing measurable to either: not named.
        assert!(c.alternatives.iter().all(|a| a.set.chosen.len() == 1));
    }

    #[test]
    fn a_difference_past_the_noise_is_kept_and_nothing_else_is_named() {
        let items = [
            noisy(20, &[(110.0, 100.0, 120.0)]),
            noisy(5, &[(65.0, 60.0, 70.0)]),
        ];
        let c = select(&items, 100, 0).unwrap();
        assert_eq!(c.chosen, [0]);
        assert!(c.alternatives.is_empty(), "{:?}", c.alternatives);
    }

    #[test]
    fn two_runs_whose_noise_swaps_the_order_choose_alike() {
        // Run 1 measures the large index ahead, run 2 the small one; the
        // intervals overlap both times, so both choose the small one.
        let run1 = [
            noisy(20, &[(110.0, 90.0, 130.0)]),
            noisy(5, &[(100.0, 80.0, 120.0)]),
        ];
        let run2 = [
            noisy(20, &[(98.0, 78.0, 118.0)]),
            noisy(5, &[(104.0, 84.0, 124.0)]),
        ];
        let (c1, c2) = (
            select(&run1, 100, 0).unwrap(),
            select(&run2, 100, 0).unwrap(),
        );
        assert_eq!(c1.chosen, c2.chosen);
        // By the point values alone they disagree.
        assert_ne!(
            net_saving(&run1, &[0]) > net_saving(&run1, &[1]),
            net_saving(&run2, &[0]) > net_saving(&run2, &[1])
        );
    }

    #[test]
    fn a_query_served_by_the_same_index_in_both_sets_adds_no_noise() {
        // Index 0 serves query 0 with a wide interval in both sets; they
        // differ only on query 1, by far more than its noise.
        let items = [
            noisy(1, &[(1000.0, 0.5, 2000.0), (0.0, 0.0, 0.0)]),
            noisy(1, &[(0.0, 0.0, 0.0), (50.0, 45.0, 55.0)]),
            noisy(1, &[(0.0, 0.0, 0.0), (20.0, 18.0, 22.0)]),
        ];
        assert_eq!(difference(&items, &[0, 1], &[0, 2]), (30.0, 23.0, 37.0));
        assert!(!within_noise(difference(&items, &[0, 1], &[0, 2])));
        let c = select(&items, 3, 0).unwrap();
        assert_eq!(c.chosen, [0, 1]);
    }

    #[test]
    fn an_index_is_never_chosen_beside_one_its_keys_lead() {
        // 0 = ("status"), 1 = ("status", "createdAt"). By the model the pair
        // saves most (60 + 50); the rule keeps only the longer one.
        let mut items = vec![
            item(10, &[60.0, 0.0], 1.0, &[]),
            item(30, &[40.0, 50.0], 1.0, &[]),
        ];
        assert_eq!(select(&items, 100, 0).unwrap().chosen, vec![0, 1]);
        items[0].covered_by = vec![1];
        assert_eq!(select(&items, 100, 0).unwrap().chosen, vec![1]);
    }

    #[test]
    fn picks_the_best_set_within_the_budget() {
        let items = [
            item(10, &[100.0, 0.0], 1.0, &[]),
            item(4, &[90.0, 0.0], 1.0, &[]),
            item(5, &[0.0, 50.0], 1.0, &[]),
        ];
        // 10 + 5 > 12: the smaller index for query 0 and the one for query 1.
        let c = select(&items, 12, 0).unwrap();
        assert_eq!(c.chosen, [1, 2]);
        assert!((c.net_ms_per_hour - 138.0).abs() < 1e-9);
        assert_eq!(c.size, 9);
        // With room, the better one; two for the same query count once.
        let c = select(&items, 100, 0).unwrap();
        assert_eq!(c.chosen, [0, 2]);
    }

    #[test]
    fn keeps_an_index_for_every_foreign_key_and_nothing_useless() {
        let items = [
            item(10, &[0.0], 5.0, &[0]),
            item(3, &[0.0], 0.0, &[]),
            item(2, &[20.0], 1.0, &[]),
        ];
        let c = select(&items, 100, 1).unwrap();
        assert_eq!(
            c.chosen,
            [0, 2],
            "the key's index despite its cost; not the useless one"
        );
        assert_eq!(select(&items, 5, 1), None, "the key's index does not fit");
    }

    #[test]
    fn two_variants_of_one_index_are_never_both_chosen() {
        let mut items = vec![
            item(1, &[10.0, 0.0], 0.0, &[]),
            item(2, &[9.0, 5.0], 0.0, &[]),
        ];
        items[1].group = items[0].group;
        assert_eq!(
            select(&items, 10, 0).unwrap().chosen,
            [1],
            "the variant that helps both"
        );
    }

    #[test]
    fn a_slowdown_counts_when_nothing_in_the_set_helps() {
        let items = [item(1, &[-30.0], 0.0, &[]), item(1, &[10.0], 0.0, &[])];
        assert_eq!(net_saving(&items, &[0]), -30.0);
        assert_eq!(net_saving(&items, &[0, 1]), 10.0);
        assert_eq!(select(&items, 10, 0).unwrap().chosen, [1]);
    }
}
