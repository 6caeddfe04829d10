//! Deterministic randomness and ids. Every entity (a user, a conversation, a
//! customer) draws from its own generator, seeded from the run's seed, a
//! stream tag and the entity's index, so content never depends on how the
//! work was split into chunks or over how many jobs.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator type every entity uses.
pub type EntityRng = Xoshiro256PlusPlus;

/// Separate streams, so a user and a conversation with the same index draw
/// unrelated numbers.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Stream {
    User = 1,
    Conversation = 2,
    MessageCount = 3,
    Messages = 4,
    Customer = 5,
    Vocabulary = 6,
    Timeline = 7,
}

/// The generator for one entity.
pub fn rng(seed: u64, stream: Stream, index: u64) -> EntityRng {
    EntityRng::seed_from_u64(mix(mix(seed ^ ((stream as u64) << 56)) ^ index))
}

/// SplitMix64's finaliser: a bijective scramble of 64 bits.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A 25-character cuid-style id, like Prisma's `@default(cuid())`: `c`, the
/// creation time, the entity's index (which makes ids unique per table), and
/// eight characters of noise.
pub fn cuid(stream: Stream, unix_ms: i64, index: u64, seed: u64) -> [u8; 25] {
    let mut id = [b'0'; 25];
    id[0] = b'c';
    base36(&mut id[1..9], unix_ms.max(0) as u64);
    base36(&mut id[9..17], index);
    base36(&mut id[17..25], mix(seed ^ index ^ ((stream as u64) << 48)));
    id
}

/// Writes `v` in base 36 into `out`, right-aligned, keeping the low digits.
fn base36(out: &mut [u8], mut v: u64) {
    for slot in out.iter_mut().rev() {
        *slot = BASE36[(v % 36) as usize];
        v /= 36;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn ids_are_unique_per_index_and_25_chars() {
        let a = cuid(Stream::Messages, 1_700_000_000_000, 7, 42);
        let b = cuid(Stream::Messages, 1_700_000_000_000, 8, 42);
        assert_ne!(a, b);
        assert_eq!(a.len(), 25);
        assert_eq!(a[0], b'c');
        assert!(a.iter().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn streams_and_indexes_draw_different_numbers() {
        let x = rng(1, Stream::User, 5).next_u64();
        assert_eq!(x, rng(1, Stream::User, 5).next_u64());
        assert_ne!(x, rng(1, Stream::Conversation, 5).next_u64());
        assert_ne!(x, rng(1, Stream::User, 6).next_u64());
        assert_ne!(x, rng(2, Stream::User, 5).next_u64());
    }
}
