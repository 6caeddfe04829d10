//! Values and their making: a counter-based random stream (the same value
//! for the same seed, column and row, whatever the thread), generated text
//! in a format class, the histogram's inverse, and each value's binary
//! COPY form.

use std::sync::OnceLock;

use crate::seed::Encoder;

use super::privacy::Format;
use super::stats::Kind;

/// One generated value, before encoding for its column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// Numbers, and times as Unix seconds.
    Num(f64),
    Text(String),
    Uuid([u8; 16]),
}

impl Value {
    /// Its text form, as a query parameter: numbers whole when whole.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Num(x) if x.fract() == 0.0 => Some(format!("{}", *x as i64)),
            Value::Num(x) => Some(x.to_string()),
            Value::Text(t) => Some(t.clone()),
            Value::Uuid(b) => Some(uuid_text(b)),
        }
    }
}

/// SplitMix64's finaliser: a well-mixed 64-bit function of `x`.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A number in [0, 1) from 64 random bits.
pub fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Slot `i` of `0..n` sent to a place spread over `0..n`: a bijection for
/// `i < n` (multiplication by a large prime that `n` does not divide).
pub fn spread(i: u64, n: u64) -> u64 {
    const P: u128 = 2_654_435_761;
    if n == 0 {
        return 0;
    }
    let p = if (n as u128) % P == 0 { 1 } else { P };
    (((i % n) as u128 * p) % n as u128) as u64
}

/// A low-discrepancy (Weyl) sequence: row `i`'s place in `[0, 1)` is
/// `frac(offset + i·α)`, with `α` the fractional part of the square root
/// of a non-square picked by the salt, chosen badly approximable (small
/// continued-fraction terms). Any run of rows covers `[0, 1)` evenly, so
/// shares come out as asked rather than as a random draw's, and streams of
/// different `α` are independent of each other.
#[derive(Debug, Clone, Copy)]
pub struct Weyl {
    alpha: f64,
    offset: f64,
}

impl Weyl {
    pub fn new(salt: u64) -> Weyl {
        let mut q = 2 + mix(salt) % 999_983;
        loop {
            let alpha = (q as f64).sqrt().fract();
            if alpha > 0.0 && small_terms(alpha) {
                let offset = unit(mix(salt ^ 0x2545_f491_4f6c_dd1d));
                return Weyl { alpha, offset };
            }
            q += 1;
        }
    }

    /// True when `a·α + b·β` is within 0.01 of a whole number for some
    /// small `a`, `b` (up to 6), `β` being `other`'s step.
    pub fn related(&self, other: &Weyl) -> bool {
        (-6i32..=6).any(|a| {
            (1i32..=6).any(|b| {
                let x = a as f64 * self.alpha + b as f64 * other.alpha;
                (x - x.round()).abs() < 0.01
            })
        })
    }

    pub fn at(&self, i: u64) -> f64 {
        (self.offset + i as f64 * self.alpha).fract()
    }
}

/// True when every continued-fraction term of `x` is at most 6 until the
/// convergents' denominators pass 10^8: no rational with a denominator up
/// to there is close to `x`, so no run of up to that many rows clumps.
fn small_terms(mut x: f64) -> bool {
    let (mut q0, mut q1) = (0.0f64, 1.0f64);
    while q1 < 1e8 {
        if x < 1e-12 {
            return false;
        }
        let inv = 1.0 / x;
        let a = inv.floor();
        if a > 6.0 {
            return false;
        }
        (q0, q1) = (q1, a * q1 + q0);
        x = inv.fract();
    }
    true
}

/// The random stream of one cell.
pub struct Rng(u64);

impl Rng {
    pub fn new(salt: u64, row: u64) -> Rng {
        Rng(mix(salt ^ mix(row)))
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
}

/// The value at quantile `q` of an equi-depth histogram: piecewise uniform
/// between its bounds.
pub fn inverse(bounds: &[f64], q: f64) -> f64 {
    match bounds.len() {
        0 => 0.0,
        1 => bounds[0],
        n => {
            let x = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let b = (x as usize).min(n - 2);
            bounds[b] + (bounds[b + 1] - bounds[b]) * (x - b as f64)
        }
    }
}

/// A uuid from `salt` and `i`; unique over `i` when `unique` (the row
/// number fills its last eight bytes).
pub fn uuid(salt: u64, i: u64, unique: bool) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&mix(salt ^ mix(i)).to_be_bytes());
    let tail = if unique {
        i
    } else {
        mix(salt.rotate_left(17) ^ i)
    };
    b[8..].copy_from_slice(&tail.to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Random letters and digits.
fn token(r: &mut Symbols, len: usize, out: &mut String) {
    for _ in 0..len {
        out.push(ALNUM_OF[r.byte()] as char);
    }
}

/// A byte's symbol among `alphabet`: `alphabet[b % len]`, looked up.
const fn symbols(alphabet: &[u8]) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = alphabet[b % alphabet.len()];
        b += 1;
    }
    t
}

const ALNUM_OF: [u8; 256] = symbols(ALNUM);
const LETTER_OF: [u8; 256] = symbols(ALNUM.split_at(26).0);

/// Random bytes, eight from each 64-bit draw, each a symbol through a
/// table: a draw and a division per character made text the generator's
/// largest cost.
struct Symbols {
    state: u64,
    bits: u64,
    left: u32,
}

impl Symbols {
    fn new(state: u64) -> Symbols {
        Symbols {
            state,
            bits: 0,
            left: 0,
        }
    }

    fn byte(&mut self) -> usize {
        if self.left == 0 {
            self.state = mix(self.state);
            (self.bits, self.left) = (self.state, 8);
        }
        let b = self.bits as u8;
        self.bits >>= 8;
        self.left -= 1;
        b as usize
    }
}

/// The 4,096 pseudo-words generated words are drawn from, of 2 to 8
/// letters each, made once, each as 8 bytes (its letters, then spaces) and
/// its length: a message body is then a few dozen 8-byte copies rather
/// than a draw per letter.
fn vocabulary() -> &'static [([u8; 8], u8)] {
    static WORDS: OnceLock<Vec<([u8; 8], u8)>> = OnceLock::new();
    WORDS.get_or_init(|| {
        (0..4096u64)
            .map(|k| {
                let mut r = Symbols::new(mix(k ^ 0x776f_7264));
                let n = 2 + r.byte() % 7;
                let mut word = [b' '; 8];
                for b in &mut word[..n] {
                    *b = LETTER_OF[r.byte()];
                }
                (word, n as u8)
            })
            .collect()
    })
}

/// Words from the vocabulary, separated by spaces, until at least `len`
/// bytes, appended to `s`.
fn words_into(r: &mut Symbols, len: usize, s: &mut String) {
    let mut stack = [b' '; 1024];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if len + 8 <= stack.len() {
        &mut stack
    } else {
        heap.resize(len + 8, b' ');
        &mut heap
    };
    let words = vocabulary();
    let mut end = 0;
    while end < len {
        let start = if end == 0 { 0 } else { end + 1 };
        let (word, n) = &words[r.byte() | (r.byte() & 0x0f) << 8];
        // The 8 bytes' trailing spaces separate it from the next word.
        buf[start..start + 8].copy_from_slice(word);
        end = start + *n as usize;
    }
    s.push_str(std::str::from_utf8(&buf[..end]).unwrap_or_default());
}

/// A text value of `format` about `width` bytes long, from `salt` and `i`.
pub fn text(format: Format, width: usize, salt: u64, i: u64) -> String {
    let mut s = String::with_capacity(width + 16);
    text_into(format, width, salt, i, &mut s);
    s
}

/// [`text`], appended to `s`.
fn text_into(format: Format, width: usize, salt: u64, i: u64, s: &mut String) {
    let r = mix(salt ^ mix(i ^ 0x5bd1_e995));
    let len = match format {
        Format::Words | Format::Email => {
            (width / 2 + (mix(r) % (width as u64 + 1)) as usize).max(1)
        }
        _ => width.max(1),
    };
    let mut r = Symbols::new(r);
    match format {
        Format::Email => {
            token(&mut r, len.saturating_sub(13).max(3), s);
            s.push_str("@example.test");
        }
        Format::UuidText => s.push_str(&uuid_text(&uuid(salt, i, false))),
        Format::Token => token(&mut r, len, s),
        Format::Words => words_into(&mut r, len, s),
    }
}

/// A text value unique over `i`, ascending with it: a fixed-width base-36
/// number, then filler to the width.
pub fn unique_text(format: Format, width: usize, salt: u64, i: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    match format {
        Format::UuidText => return uuid_text(&uuid(salt, i, true)),
        Format::Email => {
            return format!(
                "u{i:09}.{}",
                text(Format::Email, width.saturating_sub(11), salt, i)
            )
        }
        _ => {}
    }
    let mut s = String::from("k");
    let mut digits = [b'0'; 9];
    let mut v = i;
    for d in digits.iter_mut().rev() {
        *d = DIGITS[(v % 36) as usize];
        v /= 36;
    }
    s.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    let mut r = Symbols::new(mix(salt ^ i));
    token(&mut r, width.saturating_sub(10).min(64), &mut s);
    s
}

fn uuid_text(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A generated value of a non-ordered column: value `i` of its kind.
pub fn generated(kind: Kind, format: Format, width: usize, salt: u64, i: u64) -> Value {
    ranked(kind, format, width, salt, i, 0.0)
}

/// [`generated`], sorting as quantile `at` does: text starts with `at` as
/// fixed-width base-36 digits, a uuid with it as its first four bytes; so a
/// generated column keeps its values' order, and with it its correlation.
pub fn ranked(kind: Kind, format: Format, width: usize, salt: u64, i: u64, at: f64) -> Value {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let at = at.clamp(0.0, 1.0 - 1e-12);
    if kind == Kind::Uuid {
        let mut b = uuid(salt, i, false);
        b[..4].copy_from_slice(&((at * 4_294_967_296.0) as u32).to_be_bytes());
        return Value::Uuid(b);
    }
    let n = (width / 3).clamp(1, 6);
    let mut v = (at * 36f64.powi(n as i32)) as u64;
    let mut prefix = vec![b'0'; n];
    for d in prefix.iter_mut().rev() {
        *d = DIGITS[(v % 36) as usize];
        v /= 36;
    }
    let prefix = std::str::from_utf8(&prefix).unwrap_or_default();
    let rest = width.saturating_sub(n).max(1);
    let mut s = String::with_capacity(width + 24);
    match (kind, format) {
        (Kind::Jsonb, _) => {
            s.push_str("{\"k\": \"");
            s.push_str(prefix);
            let w = width.saturating_sub(10 + n).max(1);
            text_into(Format::Token, w, salt, i, &mut s);
            s.push_str("\"}");
        }
        (_, Format::UuidText) => text_into(format, width, salt, i, &mut s),
        (_, Format::Words) => {
            s.push_str(prefix);
            s.push(' ');
            text_into(format, rest, salt, i, &mut s);
        }
        _ => {
            s.push_str(prefix);
            text_into(format, rest, salt, i, &mut s);
        }
    }
    Value::Text(s)
}

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_S: f64 = 946_684_800.0;

/// Writes `v` as a field of `kind`.
pub fn encode(enc: &mut Encoder, kind: Kind, scale: Option<i32>, v: &Value) {
    let num = match v {
        Value::Null => return enc.null(),
        Value::Num(x) => *x,
        Value::Text(t) => match kind {
            Kind::Bool => return enc.bytes(&[u8::from(t == "t" || t == "true")]),
            Kind::Jsonb => {
                let at = enc.begin_field();
                enc.buf.extend_from_slice(&[1]);
                enc.buf.extend_from_slice(t.as_bytes());
                return enc.end_field(at);
            }
            _ => return enc.text(t),
        },
        Value::Uuid(b) => return enc.bytes(b),
    };
    match kind {
        Kind::Bool => enc.bytes(&[u8::from(num != 0.0)]),
        Kind::Int2 => enc.bytes(&(num.round() as i16).to_be_bytes()),
        Kind::Int4 => enc.bytes(&(num.round() as i32).to_be_bytes()),
        Kind::Int8 => enc.bytes(&(num.round() as i64).to_be_bytes()),
        Kind::Float4 => enc.bytes(&(num as f32).to_be_bytes()),
        Kind::Float8 => enc.bytes(&num.to_be_bytes()),
        Kind::Numeric => enc.bytes(&numeric(num, scale.unwrap_or(2).clamp(0, 12) as usize)),
        Kind::Timestamp => {
            let us = ((num - PG_EPOCH_S) * 1e6).round() as i64;
            // The column's precision: TIMESTAMP(3) holds whole milliseconds.
            let step = 10i64.pow(6 - scale.unwrap_or(6).clamp(0, 6) as u32);
            enc.bytes(&(us - us.rem_euclid(step)).to_be_bytes())
        }
        Kind::Date => enc.bytes(&(((num - PG_EPOCH_S) / 86_400.0).floor() as i32).to_be_bytes()),
        _ => enc.text(&format!("{num}")),
    }
}

/// The binary form of `numeric` for `v` rounded to `scale` digits.
pub fn numeric(v: f64, scale: usize) -> Vec<u8> {
    let s = format!("{:.*}", scale, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let int = int.trim_start_matches('0');
    let pad_int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
    let pad_frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
    let group = |d: &str| -> Vec<i16> {
        d.as_bytes()
            .chunks(4)
            .map(|c| c.iter().fold(0i16, |a, b| a * 10 + (b - b'0') as i16))
            .collect()
    };
    let mut digits = group(&pad_int);
    let mut weight = digits.len() as i16 - 1;
    digits.extend(group(&pad_frac));
    while digits.first() == Some(&0) {
        digits.remove(0);
        weight -= 1;
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let sign: u16 = if v < 0.0 && !digits.is_empty() {
        0x4000
    } else {
        0
    };
    if digits.is_empty() {
        weight = 0;
    }
    let mut out = Vec::with_capacity(8 + digits.len() * 2);
    out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(scale as u16).to_be_bytes());
    for d in digits {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_is_base_10000_digits_with_weight_and_scale() {
        // 12345.67: digits 1, 2345, 6700; weight 1; scale 2.
        assert_eq!(
            numeric(12345.67, 2),
            [0, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1a, 0x2c]
        );
        assert_eq!(numeric(0.0, 2), [0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(numeric(-0.5, 1)[4..6], [0x40, 0]);
    }

    #[test]
    fn keys_are_unique_and_spread_is_a_bijection() {
        let keys: std::collections::BTreeSet<String> = (0..5000)
            .map(|i| unique_text(Format::Token, 24, 7, i))
            .collect();
        assert_eq!(keys.len(), 5000);
        let spread: std::collections::BTreeSet<u64> = (0..997).map(|i| spread(i, 997)).collect();
        assert_eq!(spread.len(), 997);
        assert_eq!(inverse(&[0.0, 10.0, 20.0], 0.75), 15.0);
    }
}
#[cfg(test)]
mod weyl_tests {
    use super::*;

    #[test]
    fn weyl_shares_are_exact_to_a_few_rows() {
        for salt in 0..50u64 {
            let w = Weyl::new(salt);
            let p = Weyl::new(salt ^ 99);
            let n = (0..2000u64)
                .filter(|i| p.at(*i) >= 0.03 && (0.3..0.364).contains(&w.at(*i)))
                .count();
            assert!(
                (n as f64 - 0.064 * 0.97 * 2000.0).abs() < 10.0,
                "salt {salt}: {n} {:?}",
                w
            );
        }
    }
}
