//! The traffic mix: which catalogue queries `load` runs, and a weighted
//! random choice among them, one per request, by their catalogue `weight`
//! (executions per hour in a typical help desk).

use rand::distributions::{Distribution, WeightedIndex};
use rand::Rng;

use crate::error::{Error, Result};
use crate::queries::{Catalogue, Kind, Query};
use crate::results::MixEntry;

/// The queries in the mix, each with its weight, every weight above 0.
#[derive(Debug, Clone)]
pub struct Mix {
    pub queries: Vec<Query>,
    pub weights: Vec<f64>,
    /// Queries given with weight 0 beside weighted ones: never picked, so
    /// left out of the mix, by name.
    pub left_out: Vec<String>,
    dist: WeightedIndex<f64>,
}

/// The queries a load run would send: `only` alone (whatever its weight),
/// else every query with a weight above 0. Writes stay out unless
/// `writes` allows them; those left out are returned by name.
pub fn select<'a>(
    catalogue: &'a Catalogue,
    only: Option<&str>,
    writes: bool,
) -> Result<(Vec<&'a Query>, Vec<String>)> {
    if let Some(name) = only {
        let q = catalogue.get(name)?;
        if q.kind == Kind::Write && !writes {
            return Err(Error::BadInput(format!(
                "query {name} writes; on your database writes run only with {}, and are committed into your tables",
                crate::permission::COMMIT_WRITES.how()
            )));
        }
        return Ok((vec![q], Vec::new()));
    }
    let weighted = catalogue.queries.iter().filter(|q| q.weight > 0.0);
    let (chosen, left): (Vec<&Query>, Vec<&Query>) =
        weighted.partition(|q| writes || q.kind == Kind::Read);
    if chosen.is_empty() {
        return Err(Error::BadInput(format!(
            "no query of {} has a weight above 0; give some a `weight` (executions per hour) or name one with --query",
            catalogue.source
        )));
    }
    Ok((chosen, left.iter().map(|q| q.name.clone()).collect()))
}

impl Mix {
    /// A mix of `queries` in proportion to their weights; a single query
    /// is the whole mix whatever its weight. Of several, those of weight 0
    /// are left out ([`Mix::left_out`]): a share of 0 is never sent.
    pub fn new(queries: Vec<Query>) -> Result<Mix> {
        let (queries, left): (Vec<Query>, Vec<Query>) = match queries.len() {
            1 => (queries, Vec::new()),
            _ => queries.into_iter().partition(|q| q.weight > 0.0),
        };
        let weights: Vec<f64> = match queries.as_slice() {
            [_] => vec![1.0],
            many => many.iter().map(|q| q.weight).collect(),
        };
        let dist = WeightedIndex::new(&weights).map_err(|_| {
            Error::BadInput(
                "no query of the mix has a weight above 0; give some a `weight` (executions per hour) in the catalogue".into(),
            )
        })?;
        Ok(Mix {
            queries,
            weights,
            left_out: left.into_iter().map(|q| q.name).collect(),
            dist,
        })
    }

    /// The index of the query the next request runs.
    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        self.dist.sample(rng)
    }

    /// The mix as `results.json` records it: each query with its catalogue
    /// weight.
    pub fn entries(&self) -> Vec<MixEntry> {
        self.queries
            .iter()
            .map(|q| MixEntry {
                query: q.name.clone(),
                weight: q.weight,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    const CATALOGUE: &str = r#"
[[query]]
name = "inbox"
screen = "s"
sql = "SELECT 1"
weight = 3000
[[query]]
name = "feed"
screen = "s"
sql = "SELECT 2"
weight = 1000
[[query]]
name = "rare"
screen = "s"
sql = "SELECT 3"
[[query]]
name = "open_chat"
screen = "s"
sql = "INSERT INTO t VALUES (1)"
kind = "write"
weight = 500
"#;

    fn catalogue() -> Catalogue {
        Catalogue::parse_text("q.toml", CATALOGUE).unwrap()
    }

    fn names(qs: &[&Query]) -> Vec<String> {
        qs.iter().map(|q| q.name.clone()).collect()
    }

    #[test]
    fn requests_follow_the_weights_and_a_zero_weight_never_runs() {
        let c = catalogue();
        let (qs, _) = select(&c, None, true).unwrap();
        let mix = Mix::new(qs.into_iter().cloned().collect()).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let n = 90_000;
        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[mix.pick(&mut rng)] += 1;
        }
        // inbox 3000, feed 1000, open_chat 500 of 4500 executions an hour.
        let share = |i: usize| counts[i] as f64 / n as f64;
        assert!((share(0) - 3000.0 / 4500.0).abs() < 0.01, "{counts:?}");
        assert!((share(1) - 1000.0 / 4500.0).abs() < 0.01, "{counts:?}");
        assert!((share(2) - 500.0 / 4500.0).abs() < 0.01, "{counts:?}");
        assert!(!mix.entries().iter().any(|e| e.query == "rare"));
    }

    #[test]
    fn the_same_seed_sends_the_same_requests() {
        let c = catalogue();
        let (qs, _) = select(&c, None, true).unwrap();
        let mix = Mix::new(qs.into_iter().cloned().collect()).unwrap();
        let draw = |seed| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            (0..200).map(|_| mix.pick(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn writes_stay_out_unless_allowed_and_are_named() {
        let c = catalogue();
        let (qs, left) = select(&c, None, false).unwrap();
        assert_eq!(names(&qs), ["inbox", "feed"]);
        assert_eq!(left, ["open_chat"]);
        let err = select(&c, Some("open_chat"), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--commit-writes"), "{err}");
    }

    #[test]
    fn query_selects_one_query_even_without_a_weight() {
        let c = catalogue();
        let (qs, _) = select(&c, Some("rare"), false).unwrap();
        assert_eq!(names(&qs), ["rare"]);
        let mix = Mix::new(qs.into_iter().cloned().collect()).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        assert!((0..100).all(|_| mix.pick(&mut rng) == 0));
        assert!(select(&c, Some("typo"), false).is_err());
    }

    #[test]
    fn a_catalogue_without_weights_is_refused_with_the_fix() {
        let c = Catalogue::parse_text(
            "q.toml",
            "[[query]]\nname = \"a\"\nscreen = \"s\"\nsql = \"SELECT 1\"\n",
        )
        .unwrap();
        let err = select(&c, None, true).unwrap_err().to_string();
        assert!(err.contains("give some a `weight`"), "{err}");
    }

    #[test]
    fn a_negative_weight_is_refused() {
        let err = Catalogue::parse_text(
            "q.toml",
            "[[query]]\nname = \"a\"\nscreen = \"s\"\nsql = \"SELECT 1\"\nweight = -1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("weight -1 must be"), "{err}");
    }

    #[test]
    fn a_zero_weight_beside_weighted_queries_is_left_out_never_a_zero_share() {
        let c = Catalogue::parse_text(
            "q.toml",
            "[[query]]\nname = \"a\"\nscreen = \"s\"\nsql = \"SELECT 1\"\nweight = 5\n\
             [[query]]\nname = \"b\"\nscreen = \"s\"\nsql = \"SELECT 2\"\n",
        )
        .unwrap();
        let mix = Mix::new(c.queries.clone()).unwrap();
        assert_eq!(mix.weights, [1.0]);
        assert_eq!(names(&mix.queries.iter().collect::<Vec<_>>()), ["a"]);
        assert_eq!(mix.left_out, ["b"]);
        let none = Mix::new(vec![c.queries[1].clone(), c.queries[1].clone()])
            .unwrap_err()
            .to_string();
        assert!(
            none.contains("no query of the mix has a weight above 0"),
            "{none}"
        );
    }
}
