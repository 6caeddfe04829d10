//! `"Message"` rows: each conversation's dialogue, in time order, following
//! the conversation's plan.

use std::sync::Arc;

use super::conversations::{chunk_range, Plan, CHUNK};
use super::copy::{ChunkSource, Encoder};
use super::keys::{cuid, rng, Stream};
use super::Context;

/// The columns the rows fill, in encoding order.
pub const COLUMNS: &str = "id, \"conversationId\", role, content, \"tokenCount\", \"createdAt\"";

/// The generator for the `"Message"` table; chunks follow conversation chunks.
pub struct Messages(pub Arc<Context>);

impl ChunkSource for Messages {
    fn chunks(&self) -> usize {
        self.0.counts.conversations.div_ceil(CHUNK) as usize
    }

    fn encode(&self, k: usize, enc: &mut Encoder) -> u64 {
        let ctx = &self.0;
        let (start, end) = chunk_range(k, ctx.counts.conversations);
        let mut index = ctx.chunk_offsets[k];
        let first = index;
        for i in start..end {
            let plan = Plan::new(ctx, i);
            let mut r = rng(ctx.seed, Stream::Messages, i);
            for (j, at) in plan.timeline(ctx).enumerate() {
                let role = plan.role(j as u32);
                enc.row(6);
                enc.bytes(&cuid(Stream::Messages, at, index, ctx.seed));
                enc.bytes(&plan.id);
                enc.text(role.label());
                let field = enc.begin_field();
                let words = ctx.vocab.write_message(&mut r, role, &mut enc.buf);
                enc.end_field(field);
                enc.int4((words as f64 * 1.33) as i32);
                enc.timestamp_ms(at);
                index += 1;
            }
        }
        index - first
    }
}
