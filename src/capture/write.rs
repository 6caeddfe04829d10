//! The captured catalogue as text, in the format `src/queries` parses
//! (`fixtures/queries.toml`), with comments saying where each weight and
//! parameter came from; and `--merge`, which updates an existing
//! catalogue's weights and keeps what a person wrote in it.

use super::shape::normalised;
use crate::error::{Error, Result};
use crate::queries::{Catalogue, Kind};

/// One query to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub screen: String,
    pub sql: String,
    pub sample: Option<String>,
    pub expect_index: Vec<String>,
    pub kind: Kind,
    pub miss: Vec<String>,
    pub weight: f64,
    pub traffic: bool,
    /// Comment lines written above the entry.
    pub comments: Vec<String>,
}

/// The whole file: `header` lines as comments, then each entry. The text
/// is parsed back before it is returned, so a file that would not load is
/// never written.
pub fn render(header: &[String], entries: &[Entry]) -> Result<String> {
    let mut s = String::new();
    for h in header {
        s.push_str(&format!("# {h}\n"));
    }
    for e in entries {
        s.push_str("\n[[query]]\n");
        for c in &e.comments {
            s.push_str(&format!("# {c}\n"));
        }
        s.push_str(&format!("name = {}\n", string(&e.name)));
        s.push_str(&format!("weight = {}\n", round(e.weight)));
        s.push_str(&format!("screen = {}\n", string(&e.screen)));
        if e.kind == Kind::Write {
            s.push_str("kind = \"write\"\n");
        }
        if e.traffic {
            s.push_str("traffic = true\n");
        }
        s.push_str(&format!("sql = {}\n", multiline(&e.sql)));
        if let Some(sample) = &e.sample {
            s.push_str(&format!("sample = {}\n", multiline(sample)));
        }
        if !e.expect_index.is_empty() {
            s.push_str(&format!("expect_index = {}\n", array(&e.expect_index)));
        }
        if !e.miss.is_empty() {
            s.push_str(&format!("miss = {}\n", array(&e.miss)));
        }
    }
    Catalogue::parse_text("the captured catalogue", &s).map_err(|e| {
        Error::BadInput(format!(
            "{e}; this is a bug in helpdesk-bench's catalogue writer, please report it"
        ))
    })?;
    Ok(s)
}

/// A weight with three significant digits at most, never 0 for a
/// statement that ran.
fn round(w: f64) -> String {
    if w >= 100.0 {
        format!("{}", w.round())
    } else {
        format!("{:.3}", w.max(0.001))
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn array(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| string(s)).collect();
    format!("[{}]", items.join(", "))
}

/// A literal multi-line string where the text allows one, else a basic
/// string.
fn multiline(s: &str) -> String {
    if s.contains("'''") || s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        string(s)
    } else {
        format!("'''\n{}\n'''", s.trim())
    }
}

/// `existing` updated by `captured`: a recognised query (same
/// [`normalised`] SQL) keeps its name, screen, SQL, sample, expect_index,
/// miss and traffic, and takes the captured weight; new statements are
/// added after, renamed where their name is taken; queries not captured
/// are kept as they were. Returns the entries and how many were updated.
pub fn merge(existing: &Catalogue, captured: Vec<Entry>) -> (Vec<Entry>, usize) {
    let mut out: Vec<Entry> = existing
        .queries
        .iter()
        .map(|q| Entry {
            name: q.name.clone(),
            screen: q.screen.clone(),
            sql: q.sql.clone(),
            sample: q.sample.clone(),
            expect_index: q.expect_index.clone(),
            kind: q.kind,
            miss: q.miss.clone(),
            weight: q.weight,
            traffic: q.traffic,
            comments: vec![],
        })
        .collect();
    let kept = out.len();
    let mut recognised = vec![false; kept];
    for c in captured {
        let shape = normalised(&c.sql);
        if let Some(i) = (0..kept).find(|&i| normalised(&out[i].sql) == shape) {
            // Statements of one shape (constants apart) add up.
            if !recognised[i] {
                out[i].comments = vec![format!(
                    "weight updated by catalogue --merge (was {})",
                    round(out[i].weight)
                )];
                out[i].weight = 0.0;
                recognised[i] = true;
            }
            out[i].weight += c.weight;
            continue;
        }
        let mut c = c;
        let taken: Vec<String> = out.iter().map(|e| e.name.clone()).collect();
        if taken.contains(&c.name) {
            c.name = (2..)
                .map(|n| format!("{}_{n}", c.name))
                .find(|n| !taken.contains(n))
                .expect("an unused suffix");
        }
        out.push(c);
    }
    let updated = recognised.iter().filter(|r| **r).count();
    (out, updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_catalogue_parses_and_merge_keeps_hand_written_fields() {
        let entry = |name: &str, sql: &str, weight: f64| Entry {
            name: name.into(),
            screen: "captured".into(),
            sql: sql.into(),
            sample: Some("SELECT 1".into()),
            expect_index: vec![],
            kind: Kind::Read,
            miss: vec![],
            weight,
            traffic: false,
            comments: vec!["$1 is unresolved".into()],
        };
        let mine = render(
            &[],
            &[entry("mine", "SELECT a FROM t WHERE b = $1::int", 5.0)],
        )
        .unwrap();
        let existing = Catalogue::parse_text("c.toml", &mine).unwrap();
        let (merged, updated) = merge(
            &existing,
            vec![
                entry("t_by_b", "SELECT a FROM t WHERE b = $1", 120.0),
                entry("mine", "SELECT c FROM t WHERE b = $1", 7.5),
            ],
        );
        assert_eq!(updated, 1);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].name, "mine");
        assert_eq!(merged[0].sql, "SELECT a FROM t WHERE b = $1::int");
        assert_eq!(merged[0].weight, 120.0);
        assert_eq!(merged[1].name, "mine_2");
        let text = render(&["header".into()], &merged).unwrap();
        assert!(text.starts_with("# header\n"), "{text}");
    }
}
