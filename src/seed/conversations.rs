//! `"Conversation"` rows, and the plan of each conversation that the
//! messages follow: its status, who handles it, when the handoff happens,
//! and how many messages it has.

use std::sync::Arc;

use rand::Rng;

use super::copy::{ChunkSource, Encoder};
use super::keys::{cuid, rng, EntityRng, Stream};
use super::model::{self, Ranked, Role};
use super::{Context, Shape};

/// Conversations per chunk (about 5,000 messages, under 2 MB encoded).
pub const CHUNK: u64 = 500;

/// The columns the rows fill, in encoding order.
pub fn columns(shape: Shape) -> &'static str {
    match shape {
        Shape::Base => "id, \"userId\", title, model, \"createdAt\", \"updatedAt\"",
        Shape::Migrated => "id, \"userId\", title, model, \"createdAt\", \"updatedAt\", status, \"customerEmail\", source, \"assignedTo\"",
    }
}

/// Who is on the other side of a conversation.
pub enum Customer {
    /// A signed-in user (index); their e-mail is the customer e-mail.
    User(u64),
    /// An anonymous visitor who left an e-mail (customer rank).
    Email(u64),
    /// An anonymous visitor who left none.
    Anonymous,
}

/// Everything about a conversation that its row and its messages share.
pub struct Plan {
    pub index: u64,
    pub id: [u8; 25],
    pub created_ms: i64,
    pub status: usize,
    /// Agent (user index) handling it, if a human took it.
    pub assigned: Option<u64>,
    /// Index of the customer's message asking for a human, if any.
    pub handoff: Option<u32>,
    pub messages: u32,
    pub customer: Customer,
    pub source: u64,
    pub model: usize,
    /// The rest of this conversation's own random stream (title).
    pub rng: EntityRng,
}

impl Plan {
    /// The plan of conversation `i`.
    pub fn new(ctx: &Context, i: u64) -> Plan {
        let c = &ctx.counts;
        let mut r = rng(ctx.seed, Stream::Conversation, i);
        let span = model::SPAN_DAYS as i64 * 86_400_000;
        let step = (span / c.conversations.max(1) as i64).max(1);
        let created_ms = model::EPOCH_END_MS - span + i as i64 * step + r.gen_range(0..step);
        let messages = ctx.message_counts[i as usize];
        let migrated = ctx.shape == Shape::Migrated;
        // Before 012 there was no human takeover: every conversation stayed with the AI.
        let status = if migrated {
            model::pick(&mut r, model::STATUS_SHARES)
        } else {
            0
        };
        let human = match model::STATUSES[status] {
            "AWAITING_HUMAN_RESPONSE" => true,
            "RESOLVED" => r.gen_bool(model::RESOLVED_BY_HUMAN_SHARE),
            _ => false,
        };
        let assigned_now = match model::STATUSES[status] {
            "AWAITING_HUMAN_RESPONSE" => r.gen_bool(model::AWAITING_ASSIGNED_SHARE),
            _ => human,
        };
        let agent = ctx.agents.sample(&mut r);
        let handoff = (human && messages >= 2).then(|| {
            let at = r.gen_range(model::HANDOFF_AT.0..model::HANDOFF_AT.1);
            ((messages as f64 * at) as u32).clamp(1, messages - 1)
        });
        let customer = if r.gen_bool(model::SIGNED_IN_SHARE) && c.users > c.staff {
            Customer::User(r.gen_range(c.staff..c.users))
        } else if r.gen_bool(model::CUSTOMER_EMAIL_SHARE) {
            Customer::Email(ctx.customers.sample(&mut r))
        } else {
            Customer::Anonymous
        };
        let source = ctx.sources.sample(&mut r);
        let model = model::pick(&mut r, model::MODELS.iter().map(|m| m.1));
        Plan {
            index: i,
            id: cuid(Stream::Conversation, created_ms, i, ctx.seed),
            created_ms,
            status,
            assigned: (assigned_now && c.staff > 0).then_some(agent),
            handoff,
            messages,
            customer,
            source,
            model,
            rng: r,
        }
    }

    /// The author of message `j`: user and assistant alternate until the
    /// handoff; then the customer and, if one took it, a human agent.
    pub fn role(&self, j: u32) -> Role {
        match self.handoff {
            Some(h) if j > h => {
                if self.assigned.is_some() && (j - h) % 2 == 1 {
                    Role::Agent
                } else {
                    Role::User
                }
            }
            Some(h) if j == h => Role::User,
            _ if j % 2 == 0 => Role::User,
            _ => Role::Assistant,
        }
    }

    /// The milliseconds between message `j - 1` and message `j`.
    pub fn gap_ms(&self, j: u32, r: &mut impl Rng) -> i64 {
        let (lo, hi) = match self.role(j) {
            Role::Assistant => model::REPLY_AI_SECS,
            Role::User => model::REPLY_USER_SECS,
            Role::Agent if Some(j - 1) == self.handoff => model::WAIT_FOR_HUMAN_SECS,
            Role::Agent => model::REPLY_AGENT_SECS,
        };
        r.gen_range(lo * 1000..=hi * 1000) as i64
    }

    /// When message `j` was written, replaying the timeline from the start.
    pub fn timeline(&self, ctx: &Context) -> impl Iterator<Item = i64> + '_ {
        let mut r = rng(ctx.seed, Stream::Timeline, self.index);
        let mut t = self.created_ms + 1000;
        (0..self.messages).map(move |j| {
            if j > 0 {
                t += self.gap_ms(j, &mut r);
            }
            t
        })
    }
}

/// The conversations of chunk `k`, as a half-open index range.
pub fn chunk_range(k: usize, conversations: u64) -> (u64, u64) {
    let start = k as u64 * CHUNK;
    (start, (start + CHUNK).min(conversations))
}

/// Splits `total` messages over `conversations`: every conversation gets at
/// least one, the rest follow the model's log-normal shares exactly.
pub fn allocate_messages(seed: u64, conversations: u64, total: u64) -> Vec<u32> {
    use rand_distr::Distribution;
    let d = model::lognormal(model::MESSAGES_MEAN, model::MESSAGES_SIGMA);
    let weights: Vec<f64> = (0..conversations)
        .map(|i| (d.sample(&mut rng(seed, Stream::MessageCount, i)) - 1.0).max(0.0))
        .collect();
    let sum: f64 = weights.iter().sum();
    let extra = total.saturating_sub(conversations);
    let mut acc = 0.0;
    let mut given = 0u64;
    weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            acc += if sum > 0.0 { *w } else { 1.0 };
            let denom = if sum > 0.0 { sum } else { conversations as f64 };
            let upto = if i as u64 + 1 == conversations {
                extra
            } else {
                ((extra as f64) * acc / denom).floor() as u64
            };
            let n = upto - given;
            given = upto;
            1 + n as u32
        })
        .collect()
}

/// The generator for the `"Conversation"` table.
pub struct Conversations(pub Arc<Context>);

impl ChunkSource for Conversations {
    fn chunks(&self) -> usize {
        self.0.counts.conversations.div_ceil(CHUNK) as usize
    }

    fn encode(&self, k: usize, enc: &mut Encoder) -> u64 {
        let ctx = &self.0;
        let (start, end) = chunk_range(k, ctx.counts.conversations);
        let migrated = ctx.shape == Shape::Migrated;
        for i in start..end {
            let mut plan = Plan::new(ctx, i);
            let last = plan.timeline(ctx).last().unwrap_or(plan.created_ms);
            let title = plan
                .rng
                .gen_bool(0.9)
                .then(|| ctx.vocab.title(&mut plan.rng));
            enc.row(if migrated { 10 } else { 6 });
            enc.bytes(&plan.id);
            match plan.customer {
                Customer::User(u) => enc.bytes(&ctx.user_ids[u as usize]),
                _ => enc.null(),
            }
            enc.opt_text(title);
            enc.text(model::MODELS[plan.model].0);
            enc.timestamp_ms(plan.created_ms);
            enc.timestamp_ms(last);
            if migrated {
                enc.text(model::STATUSES[plan.status]);
                match plan.customer {
                    Customer::User(u) => enc.text(&ctx.user_emails[u as usize]),
                    Customer::Email(rank) => {
                        let at = enc.begin_field();
                        write_customer_email(ctx, rank, &mut enc.buf);
                        enc.end_field(at);
                    }
                    Customer::Anonymous => enc.null(),
                }
                enc.text(&ctx.vocab.sources[plan.source as usize]);
                match plan.assigned {
                    Some(a) => enc.bytes(&ctx.user_ids[a as usize]),
                    None => enc.null(),
                }
            }
        }
        end - start
    }
}

/// Appends the e-mail of anonymous customer `rank` (rank 0 comes back most often).
pub fn write_customer_email(ctx: &Context, rank: u64, out: &mut bytes::BytesMut) {
    use std::fmt::Write;
    let mut r = rng(ctx.seed, Stream::Customer, rank);
    let (first, last) = ctx.vocab.slugged_name(&mut r);
    let domain = ctx.vocab.provider(&mut r);
    let _ = write!(out, "{first}{last}{rank}@{domain}");
}

/// The customer-rank distribution for a number of conversations.
pub fn customers(conversations: u64) -> Ranked {
    let n = (conversations as f64 * model::CUSTOMERS_PER_CONVERSATION).ceil() as u64;
    Ranked::new(n.max(1), model::CUSTOMER_ZIPF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_exact_and_at_least_one_each() {
        let counts = allocate_messages(3, 10_000, 100_000);
        assert_eq!(counts.iter().map(|&c| c as u64).sum::<u64>(), 100_000);
        assert!(counts.iter().all(|&c| c >= 1));
        assert!(counts.iter().any(|&c| c > 100), "no long tail");
        let again = allocate_messages(3, 10_000, 100_000);
        assert_eq!(counts, again);
        assert_eq!(allocate_messages(1, 5, 5), vec![1; 5]);
    }
}
