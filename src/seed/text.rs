//! Text for the seeded rows, drawn once per seed from `fake` into pools
//! (sentences, names, sites) so each row costs a few random picks and a copy.
//! Messages are a random run of sentences long enough for the word count
//! the model asks for, so no two are likely to repeat.

use bytes::{BufMut, BytesMut};
use fake::faker::company::en::{Bs, CompanyName};
use fake::faker::internet::en::FreeEmailProvider;
use fake::faker::lorem::en::Sentence;
use fake::faker::name::en::{FirstName, LastName};
use fake::Fake;
use rand::Rng;
use rand_distr::Distribution;

use super::keys::{rng, Stream};
use super::model::{self, Role};

/// Pool sizes: large enough that content does not visibly repeat.
const SENTENCES: usize = 8192;
const NAMES: usize = 1024;
const PROVIDERS: usize = 16;
const PAGES: [&str; 6] = ["help", "pricing", "docs", "checkout", "account", "widget"];

/// The pools one seed draws from.
#[derive(Debug)]
pub struct Vocabulary {
    sentences: Vec<(String, u32)>,
    first: Vec<String>,
    last: Vec<String>,
    /// The same names, lower-case letters only, for e-mail addresses.
    first_slug: Vec<String>,
    last_slug: Vec<String>,
    providers: Vec<String>,
    /// Sites and widgets for `source`, most-trafficked first.
    pub sources: Vec<String>,
}

impl Vocabulary {
    /// Builds the pools for a seed.
    pub fn new(seed: u64) -> Vocabulary {
        let mut r = rng(seed, Stream::Vocabulary, 0);
        let sentences = (0..SENTENCES)
            .map(|i| {
                let s: String = if i % 4 == 0 {
                    let bs: String = Bs().fake_with_rng(&mut r);
                    format!("We need to {bs}.")
                } else {
                    Sentence(4..16).fake_with_rng(&mut r)
                };
                let words = s.split_whitespace().count() as u32;
                (s, words)
            })
            .collect();
        let first: Vec<String> = (0..NAMES)
            .map(|_| FirstName().fake_with_rng(&mut r))
            .collect();
        let last: Vec<String> = (0..NAMES)
            .map(|_| LastName().fake_with_rng(&mut r))
            .collect();
        let providers = (0..PROVIDERS)
            .map(|_| FreeEmailProvider().fake_with_rng(&mut r))
            .collect();
        let sources = (0..model::SOURCES)
            .map(|i| {
                let company: String = CompanyName().fake_with_rng(&mut r);
                format!("https://{}.com/{}", slug(&company), PAGES[i % PAGES.len()])
            })
            .collect();
        Vocabulary {
            sentences,
            first_slug: first.iter().map(|n| slug(n)).collect(),
            last_slug: last.iter().map(|n| slug(n)).collect(),
            first,
            last,
            providers,
            sources,
        }
    }

    /// A person's first and last name.
    pub fn name(&self, r: &mut impl Rng) -> (&str, &str) {
        (
            &self.first[r.gen_range(0..self.first.len())],
            &self.last[r.gen_range(0..self.last.len())],
        )
    }

    /// A first and last name as they appear in e-mail addresses; draws the
    /// same numbers as [`Vocabulary::name`].
    pub fn slugged_name(&self, r: &mut impl Rng) -> (&str, &str) {
        (
            &self.first_slug[r.gen_range(0..self.first_slug.len())],
            &self.last_slug[r.gen_range(0..self.last_slug.len())],
        )
    }

    /// A free-mail domain.
    pub fn provider(&self, r: &mut impl Rng) -> &str {
        &self.providers[r.gen_range(0..self.providers.len())]
    }

    /// Appends a message body by `role` and returns its word count.
    pub fn write_message(&self, r: &mut impl Rng, role: Role, out: &mut BytesMut) -> u32 {
        let (mean, sigma) = role.words();
        let target = model::lognormal(mean, sigma).sample(r).max(1.0) as u32;
        let mut words = 0;
        while words < target {
            let (s, n) = &self.sentences[r.gen_range(0..self.sentences.len())];
            if words > 0 {
                out.put_u8(b' ');
            }
            out.put_slice(s.as_bytes());
            words += n;
        }
        words
    }

    /// A conversation title: the first few words of a sentence.
    pub fn title(&self, r: &mut impl Rng) -> &str {
        let (s, _) = &self.sentences[r.gen_range(0..self.sentences.len())];
        let n = r.gen_range(3..7);
        let end = s
            .match_indices(' ')
            .nth(n - 1)
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        s[..end].trim_end_matches('.')
    }
}

/// Lower-case letters and digits only, for host names and e-mail local parts.
pub fn slug(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_pools_and_messages_vary() {
        let a = Vocabulary::new(7);
        let b = Vocabulary::new(7);
        assert_eq!(a.sources, b.sources);
        assert_eq!(a.sources.len(), model::SOURCES);
        let mut r = rng(7, Stream::Messages, 0);
        let mut out = BytesMut::new();
        let w1 = a.write_message(&mut r, Role::Assistant, &mut out);
        let first = out.split().freeze();
        a.write_message(&mut r, Role::Assistant, &mut out);
        assert_ne!(first, out.split().freeze());
        assert!(w1 >= 1);
    }
}
