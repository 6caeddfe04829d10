//! Choosing the index set: the one that saves the most read time per hour
//! of the catalogue's traffic (weight = executions per hour), minus the
//! write time its indexes add per hour, within the size budget, with an
//! index leading with every foreign key's columns. Exhaustive over subsets
//! (a depth-first search that stops at the budget), so no greedy order can
//! hide a better pair.
//!
//! A query's saving with a set is the best saving of a chosen index that
//! helps it (the planner picks one access path); when none helps, the worst
//! slowdown one causes. Savings and slowdowns count only when their
//! interval says so: an index whose speed-up interval holds 1 saves
//! nothing. The chosen set is then measured as a whole; this model only
//! picks it.

/// One candidate as the selection sees it.
#[derive(Debug, Clone, Default)]
pub struct Item {
    pub size: u64,
    /// Per query (in the catalogue's order): ms saved per hour (negative: lost).
    pub saving: Vec<f64>,
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

/// The best set: indexes into `items`, and its modelled net saving per hour.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub chosen: Vec<usize>,
    pub net_ms_per_hour: f64,
    pub size: u64,
}

struct Search<'a> {
    items: &'a [Item],
    budget: u64,
    fks: usize,
    best: Option<Choice>,
}

/// Picks the set with the largest net saving within `budget` that meets
/// all `fks` foreign-key requirements; `None` when no set within the budget
/// meets them. Ties go to the smaller set.
pub fn select(items: &[Item], budget: u64, fks: usize) -> Option<Choice> {
    let mut s = Search {
        items,
        budget,
        fks,
        best: None,
    };
    let mut chosen = Vec::new();
    s.dfs(0, &mut chosen, 0);
    s.best
}

impl Search<'_> {
    fn dfs(&mut self, i: usize, chosen: &mut Vec<usize>, size: u64) {
        if i == self.items.len() {
            self.consider(chosen, size);
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
            self.dfs(i + 1, chosen, size + item.size);
            chosen.pop();
        }
        self.dfs(i + 1, chosen, size);
    }

    fn consider(&mut self, chosen: &[usize], size: u64) {
        let served =
            (0..self.fks).all(|f| chosen.iter().any(|&i| self.items[i].serves.contains(&f)));
        if !served {
            return;
        }
        let net = net_saving(self.items, chosen);
        let better = match &self.best {
            None => true,
            Some(b) => {
                net > b.net_ms_per_hour + 1e-9
                    || ((net - b.net_ms_per_hour).abs() <= 1e-9 && size < b.size)
            }
        };
        if better {
            self.best = Some(Choice {
                chosen: chosen.to_vec(),
                net_ms_per_hour: net,
                size,
            });
        }
    }
}

/// The modelled net saving per hour of a set.
pub fn net_saving(items: &[Item], chosen: &[usize]) -> f64 {
    let queries = items.first().map_or(0, |i| i.saving.len());
    let mut total = 0.0;
    for q in 0..queries {
        let values = chosen.iter().map(|&i| items[i].saving[q]);
        let best = values.clone().fold(0.0f64, f64::max);
        total += if best > 0.0 {
            best
        } else {
            values.fold(0.0f64, f64::min)
        };
    }
    total - chosen.iter().map(|&i| items[i].write).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(size: u64, saving: &[f64], write: f64, serves: &[usize]) -> Item {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        Item {
            size,
            saving: saving.to_vec(),
            write,
            serves: serves.to_vec(),
            group: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            covered_by: Vec::new(),
        }
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
