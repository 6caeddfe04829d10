//! The data model: every distribution the seeder draws from, with its knobs
//! in one place. Change a number here and every table follows.
//!
//! The shape is a help desk in steady state: most conversations were
//! resolved, a quarter are still with the AI, and a small queue waits for a
//! human. A few agents carry most of the load, a few sites send most of the
//! traffic, and a few customers come back again and again.

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Zipf};

/// `"Conversation".status` labels, in enum order.
pub const STATUSES: [&str; 3] = ["AI_HANDLING", "AWAITING_HUMAN_RESPONSE", "RESOLVED"];

/// Share of conversations in each status (same order as [`STATUSES`]).
pub const STATUS_SHARES: [f64; 3] = [0.25, 0.05, 0.70];

/// Share of AWAITING_HUMAN_RESPONSE conversations an agent has claimed; the
/// rest sit unassigned in the human queue.
pub const AWAITING_ASSIGNED_SHARE: f64 = 0.6;

/// Share of RESOLVED conversations a human took over (the rest the AI closed).
pub const RESOLVED_BY_HUMAN_SHARE: f64 = 0.3;

/// Zipf exponent of agents' load: the busiest agent gets the most.
pub const AGENT_ZIPF: f64 = 1.1;

/// Share of conversations that carry a `"customerEmail"`.
pub const CUSTOMER_EMAIL_SHARE: f64 = 0.85;

/// Distinct customer e-mails per conversation with an e-mail.
pub const CUSTOMERS_PER_CONVERSATION: f64 = 0.3;

/// Zipf exponent of repeat customers.
pub const CUSTOMER_ZIPF: f64 = 1.05;

/// Share of conversations started by a signed-in user (`"userId"` set).
pub const SIGNED_IN_SHARE: f64 = 0.4;

/// Number of distinct sites and widgets in `source`.
pub const SOURCES: usize = 36;

/// Zipf exponent of traffic over sources.
pub const SOURCE_ZIPF: f64 = 1.0;

/// Share of staff users that are admins.
pub const ADMIN_SHARE: f64 = 0.1;

/// Messages per conversation: log-normal with this mean and sigma (in log
/// space). Mean 10 with sigma 1.0 puts about 1 in 400 conversations past 100
/// messages. Totals are then scaled to the exact count asked for.
pub const MESSAGES_MEAN: f64 = 10.0;
pub const MESSAGES_SIGMA: f64 = 1.0;

/// Where in a human-handled conversation the handoff happens, as a share of
/// its messages.
pub const HANDOFF_AT: (f64, f64) = (0.3, 0.7);

/// Words per message by author: log-normal mean and sigma. AI answers run long.
pub const WORDS_USER: (f64, f64) = (14.0, 0.7);
pub const WORDS_ASSISTANT: (f64, f64) = (60.0, 0.6);
pub const WORDS_AGENT: (f64, f64) = (24.0, 0.6);

/// Seconds between turns, uniform in these ranges.
pub const REPLY_AI_SECS: (u64, u64) = (2, 20);
pub const REPLY_USER_SECS: (u64, u64) = (10, 300);
pub const WAIT_FOR_HUMAN_SECS: (u64, u64) = (60, 3600);
pub const REPLY_AGENT_SECS: (u64, u64) = (30, 600);

/// Conversations start over this many days before [`EPOCH_END_MS`].
pub const SPAN_DAYS: u64 = 365;

/// The fixed "now" of the data set, 2026-01-01T00:00:00Z in Unix milliseconds,
/// so the same seed gives the same timestamps on any day.
pub const EPOCH_END_MS: i64 = 1_767_225_600_000;

/// The chat models conversations ran on, with their shares.
pub const MODELS: [(&str, f64); 4] = [
    ("gpt-4o-mini", 0.55),
    ("gpt-4o", 0.25),
    ("claude-3-5-haiku", 0.15),
    ("claude-3-5-sonnet", 0.05),
];

/// Share of users with an avatar image, a password (vs. OAuth only), and a
/// verified e-mail.
pub const USER_IMAGE_SHARE: f64 = 0.3;
pub const USER_PASSWORD_SHARE: f64 = 0.6;
pub const USER_VERIFIED_SHARE: f64 = 0.8;

/// Every parameter above, one `NAME=value` line each. Seeded data made under
/// other parameters differs, so cache keys hash this.
pub fn parameters() -> String {
    let params: [(&str, &dyn std::fmt::Debug); 28] = [
        ("STATUSES", &STATUSES),
        ("STATUS_SHARES", &STATUS_SHARES),
        ("AWAITING_ASSIGNED_SHARE", &AWAITING_ASSIGNED_SHARE),
        ("RESOLVED_BY_HUMAN_SHARE", &RESOLVED_BY_HUMAN_SHARE),
        ("AGENT_ZIPF", &AGENT_ZIPF),
        ("CUSTOMER_EMAIL_SHARE", &CUSTOMER_EMAIL_SHARE),
        ("CUSTOMERS_PER_CONVERSATION", &CUSTOMERS_PER_CONVERSATION),
        ("CUSTOMER_ZIPF", &CUSTOMER_ZIPF),
        ("SIGNED_IN_SHARE", &SIGNED_IN_SHARE),
        ("SOURCES", &SOURCES),
        ("SOURCE_ZIPF", &SOURCE_ZIPF),
        ("ADMIN_SHARE", &ADMIN_SHARE),
        ("MESSAGES_MEAN", &MESSAGES_MEAN),
        ("MESSAGES_SIGMA", &MESSAGES_SIGMA),
        ("HANDOFF_AT", &HANDOFF_AT),
        ("WORDS_USER", &WORDS_USER),
        ("WORDS_ASSISTANT", &WORDS_ASSISTANT),
        ("WORDS_AGENT", &WORDS_AGENT),
        ("REPLY_AI_SECS", &REPLY_AI_SECS),
        ("REPLY_USER_SECS", &REPLY_USER_SECS),
        ("WAIT_FOR_HUMAN_SECS", &WAIT_FOR_HUMAN_SECS),
        ("REPLY_AGENT_SECS", &REPLY_AGENT_SECS),
        ("SPAN_DAYS", &SPAN_DAYS),
        ("EPOCH_END_MS", &EPOCH_END_MS),
        ("MODELS", &MODELS),
        ("USER_IMAGE_SHARE", &USER_IMAGE_SHARE),
        ("USER_PASSWORD_SHARE", &USER_PASSWORD_SHARE),
        ("USER_VERIFIED_SHARE", &USER_VERIFIED_SHARE),
    ];
    params.iter().map(|(n, v)| format!("{n}={v:?}\n")).collect()
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    Agent,
}

impl Role {
    /// The `"Message".role` text.
    pub fn label(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Agent => "agent",
        }
    }

    /// Word-count distribution for this author.
    pub fn words(self) -> (f64, f64) {
        match self {
            Role::User => WORDS_USER,
            Role::Assistant => WORDS_ASSISTANT,
            Role::Agent => WORDS_AGENT,
        }
    }
}

/// A log-normal with the given mean (not median) and log-space sigma.
pub fn lognormal(mean: f64, sigma: f64) -> LogNormal<f64> {
    let mu = mean.ln() - sigma * sigma / 2.0;
    LogNormal::new(mu, sigma).expect("valid log-normal parameters")
}

/// A Zipf distribution over `1..=n` returning a 0-based rank.
#[derive(Debug, Clone, Copy)]
pub struct Ranked(Zipf<f64>);

impl Ranked {
    pub fn new(n: u64, exponent: f64) -> Ranked {
        Ranked(Zipf::new(n.max(1), exponent).expect("valid Zipf parameters"))
    }

    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        self.0.sample(rng) as u64 - 1
    }
}

/// Picks an index by cumulative shares.
pub fn pick(rng: &mut impl Rng, shares: impl IntoIterator<Item = f64>) -> usize {
    let x: f64 = rng.gen();
    let mut acc = 0.0;
    let mut last = 0;
    for (i, s) in shares.into_iter().enumerate() {
        acc += s;
        last = i;
        if x < acc {
            return i;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parameters_list_every_constant_of_the_model() {
        let listed = parameters();
        for line in include_str!("model.rs").lines() {
            if let Some(rest) = line.strip_prefix("pub const ") {
                let name = rest.split(':').next().unwrap();
                // Unlisted, a change to it would not refresh the seeded-data cache.
                let listed_here = listed.lines().any(|l| l.starts_with(&format!("{name}=")));
                assert!(listed_here, "{name} is missing from parameters()");
            }
        }
        assert!(
            listed.contains("STATUS_SHARES=[0.25, 0.05, 0.7]\n"),
            "{listed}"
        );
    }

    #[test]
    fn shares_sum_to_one() {
        assert!((STATUS_SHARES.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!((MODELS.iter().map(|m| m.1).sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn lognormal_has_the_asked_mean_and_a_long_tail() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let d = lognormal(MESSAGES_MEAN, MESSAGES_SIGMA);
        let xs: Vec<f64> = (0..200_000).map(|_| d.sample(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 10.0).abs() < 0.3, "mean {mean}");
        assert!(xs.iter().any(|&x| x > 200.0));
    }

    #[test]
    fn zipf_rank_zero_is_the_most_common() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let z = Ranked::new(100, AGENT_ZIPF);
        let mut counts = [0u32; 100];
        for _ in 0..100_000 {
            counts[z.sample(&mut rng) as usize] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[10]);
        assert!(counts[0] as f64 / 100_000.0 > 0.15);
    }
}
