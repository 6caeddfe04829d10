//! Plan agreement: each read of the query catalogue explained (`EXPLAIN`,
//! never `ANALYZE`: nothing runs) on the source and on the target with the
//! same parameter rows (up to [`ROWS`]), sampled from the target (the source's rows are not
//! read); a value standing in for one of the source's most common values is
//! that value when explained on the source. Two plans agree when they use the same scan types on the same
//! relations through the same indexes. A query that cannot be planned on
//! the source (its tables are not there) is left out, and counted.

use std::collections::BTreeMap;
use std::fmt;

use tokio_postgres::{Client, SimpleQueryMessage};

use crate::cluster::Endpoint;
use crate::error::{Context, Result};
use crate::explain::{Plan, PlanSummary};
use crate::queries::{Catalogue, ParamPool, Query};
use crate::sql::quote_literal;

/// Parameter rows explained per read.
pub const ROWS: usize = 5;

/// One read's access paths on both sides, for one parameter row.
#[derive(Debug, Clone)]
pub struct QueryPlans {
    pub query: String,
    pub source: Vec<String>,
    pub target: Vec<String>,
}

impl QueryPlans {
    pub fn agree(&self) -> bool {
        sorted(&self.source, str::to_string) == sorted(&self.target, str::to_string)
    }

    /// The same relations through the same indexes, whatever the scan
    /// types: an Index Scan where the source has a Bitmap Heap Scan on the
    /// same index.
    pub fn same_indexes(&self) -> bool {
        sorted(&self.source, through) == sorted(&self.target, through)
    }
}

fn sorted(paths: &[String], key: fn(&str) -> String) -> Vec<String> {
    let mut v: Vec<String> = paths.iter().map(|p| key(p)).collect();
    v.sort();
    v
}

/// An access path through an index without its scan type ("using INDEX on
/// RELATION"); a path without an index whole ("Seq Scan on RELATION").
fn through(path: &str) -> String {
    match path.find(" using ") {
        Some(i) => path[i..].to_string(),
        None => path.to_string(),
    }
}

/// Every read compared, and how many could not be planned on the source.
#[derive(Debug, Clone, Default)]
pub struct Agreement {
    pub queries: Vec<QueryPlans>,
    pub skipped: usize,
}

impl Agreement {
    /// Reads whose plans agree, and all compared.
    pub fn agreeing(&self) -> (usize, usize) {
        let ok = self.queries.iter().filter(|q| q.agree()).count();
        (ok, self.queries.len())
    }

    /// Reads whose plans differ in scan types only, on the same indexes.
    pub fn scan_types_only(&self) -> usize {
        self.queries
            .iter()
            .filter(|q| !q.agree() && q.same_indexes())
            .count()
    }
}

/// Explains every read of `catalogue` on `source` and `target`; a
/// parameter that is a stand-in of a source value ([`super::plan::stand_ins`])
/// is that value on the source.
pub async fn compare(
    source: &Endpoint,
    target: &Endpoint,
    catalogue: &Catalogue,
    stand_ins: &BTreeMap<String, String>,
) -> Result<Agreement> {
    let (s, t) = (source.connect().await?, target.connect().await?);
    let mut out = Agreement::default();
    for q in catalogue.reads() {
        let Ok(pool) = ParamPool::sample(&t, q).await else {
            out.skipped += 1;
            continue;
        };
        for (k, row) in pool.rows.iter().take(ROWS).enumerate() {
            let on_source: Vec<Option<String>> = row
                .iter()
                .map(|v| v.as_ref().map(|v| stand_ins.get(v).unwrap_or(v).clone()))
                .collect();
            match (paths(&s, q, &on_source).await, paths(&t, q, row).await) {
                (Ok(source), Ok(target)) => out.queries.push(QueryPlans {
                    query: format!("{} (row {})", q.name, k + 1),
                    source,
                    target,
                }),
                _ => out.skipped += 1,
            }
        }
    }
    Ok(out)
}

/// The access paths of `q`'s custom plan for `row`.
async fn paths(client: &Client, q: &Query, row: &[Option<String>]) -> Result<Vec<String>> {
    let sql = q.statements.first().unwrap_or(&q.sql);
    let types = vec!["text"; q.params].join(", ");
    let args: Vec<String> = row
        .iter()
        .take(q.params)
        .map(|p| p.as_deref().map_or("NULL".into(), quote_literal))
        .collect();
    let prepare = match q.params {
        0 => format!("PREPARE helpdesk_bench_like AS {sql}"),
        _ => format!("PREPARE helpdesk_bench_like ({types}) AS {sql}"),
    };
    let execute = match q.params {
        0 => "EXPLAIN (FORMAT JSON) EXECUTE helpdesk_bench_like".to_string(),
        _ => format!(
            "EXPLAIN (FORMAT JSON) EXECUTE helpdesk_bench_like({})",
            args.join(", ")
        ),
    };
    let doing = format!("explaining {}", q.name);
    client.batch_execute(&prepare).await.context(&doing)?;
    let explained = client.simple_query(&execute).await.context(&doing);
    client
        .batch_execute("DEALLOCATE helpdesk_bench_like")
        .await
        .context(&doing)?;
    let json = explained?
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap_or_default();
    Ok(PlanSummary::of(&Plan::from_json(&json)?).access_paths())
}

impl fmt::Display for Agreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for q in self.queries.iter().filter(|q| !q.agree()) {
            writeln!(
                f,
                "  {}: source {} / target {}",
                q.query,
                q.source.join("; "),
                q.target.join("; ")
            )?;
        }
        let (ok, all) = self.agreeing();
        if all == 0 {
            return write!(
                f,
                "no plan compared: no catalogue read could be planned on both ({} left out: reads naming tables or columns the source lacks); pass --catalogue with the source's own queries (catalogue --from SOURCE writes one)",
                self.skipped
            );
        }
        write!(
            f,
            "{:.0}% of plans agree ({ok} of {all}: catalogue reads with up to {ROWS} parameter rows each, sampled from the target; same scan types and indexes; EXPLAIN without ANALYZE{}{})",
            ok as f64 * 100.0 / all.max(1) as f64,
            match self.skipped {
                0 => String::new(),
                n => format!("; {n} could not be planned on both and are left out"),
            },
            match self.scan_types_only() {
                0 => String::new(),
                n => format!(
                    "; {n} of the {} that differ use the same indexes with another scan type, which the planner weighs by the table's size and the rows it expects per value, both moved by a scale factor other than 1",
                    all - ok
                ),
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans(source: &[&str], target: &[&str]) -> QueryPlans {
        QueryPlans {
            query: "q (row 1)".into(),
            source: source.iter().map(|s| s.to_string()).collect(),
            target: target.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn plans_on_the_same_indexes_with_other_scan_types_are_told_apart() {
        let bitmap = "Bitmap Heap Scan using C_email_idx on C";
        let index = "Index Scan using C_email_idx on C";
        let other = "Index Only Scan using C_status_assignedTo_idx on C";
        let agreement = Agreement {
            queries: vec![
                plans(&[bitmap], &[bitmap]),
                plans(&[bitmap], &[index]),
                plans(&["Index Only Scan using C_status_idx on C"], &[other]),
                plans(&["Seq Scan on M"], &["Index Scan using M_created_idx on M"]),
            ],
            skipped: 0,
        };
        assert_eq!(agreement.agreeing(), (1, 4));
        assert_eq!(agreement.scan_types_only(), 1);
        let text = agreement.to_string();
        assert!(text.contains("25% of plans agree (1 of 4"), "{text}");
        assert!(
            text.contains("; 1 of the 3 that differ use the same indexes with another scan type"),
            "{text}"
        );
        let same = Agreement {
            queries: vec![plans(&[bitmap], &[bitmap])],
            skipped: 0,
        };
        assert!(!same.to_string().contains("that differ"), "{same}");
    }
}
