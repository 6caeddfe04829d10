//! `"User"` rows: staff and admins first (the help-desk agents), then
//! customers who signed up.

use std::sync::Arc;

use rand::Rng;

use super::copy::{ChunkSource, Encoder};
use super::keys::{cuid, rng, EntityRng, Stream};
use super::model;
use super::text::slug;
use super::{Context, Shape};

/// Users per chunk.
pub const CHUNK: u64 = 5_000;

/// Users sign up over the two years before the data set's "now".
const SIGNUP_SPAN_MS: i64 = 2 * 365 * 86_400_000;

/// The columns the rows fill, in encoding order.
pub fn columns(shape: Shape) -> &'static str {
    match shape {
        Shape::Base => "id, email, name, image, \"passwordHash\", \"emailVerified\", \"createdAt\", \"updatedAt\"",
        Shape::Migrated => "id, email, name, image, \"passwordHash\", \"emailVerified\", \"createdAt\", \"updatedAt\", role",
    }
}

/// The generator for the `"User"` table.
pub struct Users(pub Arc<Context>);

/// A user's id, name and e-mail, as every table that mentions the user sees them.
pub struct Identity {
    pub id: [u8; 25],
    pub name: String,
    pub email: String,
    pub created_ms: i64,
}

/// The identity of user `i`; `r` is left ready for the user's other fields.
pub fn identity(ctx: &Context, i: u64, r: &mut EntityRng) -> Identity {
    let step = SIGNUP_SPAN_MS / ctx.counts.users.max(1) as i64;
    let created_ms =
        model::EPOCH_END_MS - SIGNUP_SPAN_MS + i as i64 * step + r.gen_range(0..step.max(1));
    let (first, last) = ctx.vocab.name(r);
    let domain = if i < ctx.counts.staff {
        "helpdesk.example"
    } else {
        ctx.vocab.provider(r)
    };
    Identity {
        id: cuid(Stream::User, created_ms, i, ctx.seed),
        name: format!("{first} {last}"),
        email: format!("{}.{}{i}@{domain}", slug(first), slug(last)),
        created_ms,
    }
}

/// The role of user `i`: the first `staff` users are agents, a tenth of them admins.
pub fn role(ctx: &Context, i: u64) -> &'static str {
    let admins = ((ctx.counts.staff as f64 * model::ADMIN_SHARE).ceil() as u64).max(1);
    if i < admins.min(ctx.counts.staff) {
        "admin"
    } else if i < ctx.counts.staff {
        "staff"
    } else {
        "user"
    }
}

impl ChunkSource for Users {
    fn chunks(&self) -> usize {
        self.0.counts.users.div_ceil(CHUNK) as usize
    }

    fn encode(&self, k: usize, enc: &mut Encoder) -> u64 {
        let ctx = &self.0;
        let start = k as u64 * CHUNK;
        let end = (start + CHUNK).min(ctx.counts.users);
        let fields = if ctx.shape == Shape::Migrated { 9 } else { 8 };
        for i in start..end {
            let mut r = rng(ctx.seed, Stream::User, i);
            let who = identity(ctx, i, &mut r);
            enc.row(fields);
            enc.bytes(&who.id);
            enc.text(&who.email);
            if r.gen_bool(0.9) {
                enc.text(&who.name);
            } else {
                enc.null();
            }
            if r.gen_bool(model::USER_IMAGE_SHARE) {
                let id = std::str::from_utf8(&who.id).unwrap_or_default();
                enc.text(&format!("https://avatars.example.com/u/{id}.png"));
            } else {
                enc.null();
            }
            if r.gen_bool(model::USER_PASSWORD_SHARE) {
                enc.text(&bcrypt_like(&mut r));
            } else {
                enc.null();
            }
            let verified = r
                .gen_bool(model::USER_VERIFIED_SHARE)
                .then(|| who.created_ms + r.gen_range(60_000..86_400_000));
            enc.opt_timestamp_ms(verified);
            enc.timestamp_ms(who.created_ms);
            enc.timestamp_ms(who.created_ms + r.gen_range(0..30 * 86_400_000));
            if ctx.shape == Shape::Migrated {
                enc.text(role(ctx, i));
            }
        }
        end - start
    }
}

/// A string shaped like a bcrypt hash (`$2b$10$` and 53 characters).
fn bcrypt_like(r: &mut impl Rng) -> String {
    const ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..53)
        .map(|_| ALPHABET[r.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("$2b$10${tail}")
}
