//! Running catalogue queries: statements prepared once per connection with
//! text parameters, then executed with rotating parameters, fetching every
//! row as the application would.

use tokio_postgres::types::Type;
use tokio_postgres::{Client, Statement};

use super::catalogue::{Kind, Query};
use super::failure::read_error;
use super::params::{as_sql, ParamPool};
use crate::cluster::{transaction, Begin, End};
use crate::error::{Context, Result};

/// A query prepared on one connection, with its parameter pool.
pub struct Prepared {
    pub query: Query,
    pub pool: ParamPool,
    statements: Vec<Statement>,
    /// Whether writes run inside an open transaction (a rolled-back index
    /// state), so each execution is a savepoint rather than a transaction.
    nested: bool,
}

impl Prepared {
    /// Prepares `q` on `client` with parameters from `pool`.
    pub async fn new(client: &Client, q: &Query, pool: ParamPool) -> Result<Prepared> {
        let types = vec![Type::TEXT; q.params];
        let mut statements = Vec::new();
        for sql in &q.statements {
            statements.push(
                client
                    .prepare_typed(sql, &types)
                    .await
                    .context(format!("preparing query {}", q.name))?,
            );
        }
        Ok(Prepared {
            query: q.clone(),
            pool,
            statements,
            nested: false,
        })
    }

    /// Runs writes as savepoints of the transaction already open on the
    /// connection, instead of transactions of their own.
    pub fn nested(mut self, nested: bool) -> Prepared {
        self.nested = nested;
        self
    }

    /// Runs once with the next parameters; returns rows fetched or changed.
    pub async fn run_next(&self, client: &Client) -> Result<u64> {
        let row = self.pool.next().to_vec();
        self.run_with(client, &row).await
    }

    /// Runs once with the given parameters. Writes run in one transaction.
    pub async fn run_with(&self, client: &Client, row: &[Option<String>]) -> Result<u64> {
        match self.query.kind {
            Kind::Read => {
                let params = as_sql(row, self.query.params);
                let rows = client
                    .query(&self.statements[0], &params)
                    .await
                    .map_err(|e| read_error(&self.query.name, self.doing(), e))?;
                Ok(rows.len() as u64)
            }
            Kind::Write => self.write(client, row).await,
        }
    }

    /// Runs once like [`Prepared::run_with`], the same request and the same
    /// answer read to its end, but a read's rows are not decoded: each is
    /// dropped as it arrives, and they are counted by the server's command
    /// tag (`SELECT 50`). For `load`, which needs only the answer: building
    /// and freeing each row cost the client more CPU than the rest of the
    /// request, CPU the server on the same machine then lacked.
    pub async fn run_counted(&self, client: &Client, row: &[Option<String>]) -> Result<u64> {
        match self.query.kind {
            Kind::Read => client
                .execute_raw(&self.statements[0], row.iter().take(self.query.params))
                .await
                .map_err(|e| read_error(&self.query.name, self.doing(), e)),
            Kind::Write => self.write(client, row).await,
        }
    }

    /// Runs the write's statements in one transaction (or savepoint, when
    /// nested); returns the rows they changed.
    async fn write(&self, client: &Client, row: &[Option<String>]) -> Result<u64> {
        let params = as_sql(row, self.query.params);
        let doing = self.doing();
        // READ WRITE, so a write also runs on a session whose default is
        // read-only (`load`'s, which keeps reads so).
        let begin = match self.nested {
            true => Begin::Savepoint,
            false => Begin::ReadWrite,
        };
        transaction(client, begin, End::Commit, &doing, async |c| {
            let mut n = 0;
            for st in &self.statements {
                n += c.execute(st, &params).await.context(&doing)?;
            }
            Ok(n)
        })
        .await
    }

    fn doing(&self) -> String {
        format!("running query {}", self.query.name)
    }
}
