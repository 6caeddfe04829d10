//! A migration read from its SQL files: the statements, and the objects they
//! create (types, columns, indexes, constraints, comments). This is the one
//! place the list of indexes under test comes from.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use super::fixtures;
use super::sql::{split, Statement};
use crate::error::{Context, Error, Result};
use crate::sql::{
    qualified, quote_ident, quote_literal, split_top_level, unquote, unquoted, QualName,
};

/// One SQL file and its statements.
#[derive(Debug, Clone)]
pub struct SqlFile {
    /// Where the text came from, for messages.
    pub label: String,
    pub text: String,
    pub statements: Vec<Statement>,
}

impl SqlFile {
    /// Wraps SQL text under a label.
    pub fn new(label: impl Into<String>, text: impl Into<String>) -> SqlFile {
        let text = text.into();
        SqlFile {
            label: label.into(),
            statements: split(&text),
            text,
        }
    }

    /// Reads a SQL file from disk.
    pub fn read(path: &Path) -> Result<SqlFile> {
        let text = std::fs::read_to_string(path).context(path.display())?;
        Ok(SqlFile::new(path.display().to_string(), text))
    }
}

/// An index a migration creates.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndexDef {
    pub name: String,
    pub table: String,
    /// The table's schema (and so the index's), when the SQL names one.
    pub schema: Option<String>,
    /// Key columns or expressions, unquoted when they are plain names.
    pub columns: Vec<String>,
    /// `INCLUDE` columns, which the index stores but does not order by.
    pub include: Vec<String>,
    /// The `WHERE` predicate of a partial index, as written.
    pub predicate: Option<String>,
    pub unique: bool,
    /// The `CREATE INDEX` statement as written in the file.
    pub sql: String,
}

impl IndexDef {
    /// The statement that builds this index, optionally `CONCURRENTLY`.
    pub fn create_sql(&self, concurrently: bool) -> String {
        if !concurrently {
            return self.sql.clone();
        }
        self.concurrent_head(false)
    }

    /// `CREATE INDEX CONCURRENTLY IF NOT EXISTS`: builds this index without
    /// blocking writes, and leaves one of the same name in place.
    pub fn create_if_missing_sql(&self) -> String {
        self.concurrent_head(true)
    }

    /// The statement as written, its head rewritten to `CONCURRENTLY`,
    /// with `IF NOT EXISTS` when written or when `if_missing`.
    fn concurrent_head(&self, if_missing: bool) -> String {
        INDEX_HEAD
            .replace(&self.sql, |c: &regex::Captures| {
                let if_not_exists = if_missing || c.get(2).is_some();
                format!(
                    "CREATE {}INDEX CONCURRENTLY {}",
                    c.get(1).map_or("", |m| m.as_str()),
                    if if_not_exists { "IF NOT EXISTS " } else { "" }
                )
            })
            .into_owned()
    }

    /// True when this index's key columns lead `other`'s, on the same table,
    /// so `other` can answer every lookup this one can.
    ///
    /// Only when the wider index can serve every row and column this one
    /// does: the same predicate (a partial index covers only its rows), and
    /// this one's `INCLUDE` columns among the wider one's columns. A unique
    /// index is never redundant: it enforces something.
    pub fn is_prefix_of(&self, other: &IndexDef) -> bool {
        let stores = |c: &String| other.columns.contains(c) || other.include.contains(c);
        self.name != other.name
            && self.table == other.table
            && !self.unique
            && self.columns.len() < other.columns.len()
            && other.columns.starts_with(&self.columns)
            && normalise(&self.predicate) == normalise(&other.predicate)
            && self.include.iter().all(stores)
    }

    /// The statement that drops this index.
    pub fn drop_sql(&self) -> String {
        format!("DROP INDEX IF EXISTS {}", self.name_sql())
    }

    /// The index's name as SQL, qualified by its schema when it has one.
    pub fn name_sql(&self) -> String {
        qualified(self.schema.as_deref(), &self.name)
    }

    /// Its table's name as SQL, qualified by its schema when it has one.
    pub fn table_sql(&self) -> String {
        qualified(self.schema.as_deref(), &self.table)
    }
}

/// A column a migration adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub table: String,
    /// The table's schema, when the SQL names one.
    pub schema: Option<String>,
    pub column: String,
    /// The column definition after its name, e.g. `"UserRole" NOT NULL DEFAULT 'user'`.
    pub definition: String,
}

/// A column comment a migration sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentDef {
    pub table: String,
    /// The table's schema, when the SQL names one.
    pub schema: Option<String>,
    pub column: String,
    pub text: String,
}

/// A value a migration adds to an enum type (`ALTER TYPE ... ADD VALUE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumValueDef {
    pub type_name: String,
    pub label: String,
    /// `BEFORE 'x'` or `AFTER 'x'`, as written.
    pub position: Option<String>,
}

impl EnumValueDef {
    /// `ALTER TYPE ... ADD VALUE IF NOT EXISTS ...`: adds the value unless
    /// the type has it.
    pub fn add_if_missing_sql(&self) -> String {
        let mut sql = format!(
            "ALTER TYPE {} ADD VALUE IF NOT EXISTS {}",
            quote_ident(&self.type_name),
            quote_literal(&self.label)
        );
        if let Some(p) = &self.position {
            sql.push(' ');
            sql.push_str(p);
        }
        sql
    }
}

/// An enum type a migration creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeDef {
    pub name: String,
    /// The type's schema, when the SQL names one.
    pub schema: Option<String>,
    pub labels: Vec<String>,
}

/// A constraint added with `ALTER TABLE ... ADD CONSTRAINT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstraintDef {
    pub table: String,
    /// The table's schema, when the SQL names one.
    pub schema: Option<String>,
    pub name: String,
    pub kind: ConstraintKind,
    pub sql: String,
}

/// What a constraint enforces, from the keywords after its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    ForeignKey,
    /// `CHECK`, `EXCLUDE` and anything else.
    Other,
}

impl ConstraintKind {
    fn from_keywords(words: Option<&str>) -> ConstraintKind {
        let words: Vec<String> = words
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_ascii_uppercase)
            .collect();
        match words.join(" ").as_str() {
            "PRIMARY KEY" => ConstraintKind::PrimaryKey,
            "UNIQUE" => ConstraintKind::Unique,
            "FOREIGN KEY" => ConstraintKind::ForeignKey,
            _ => ConstraintKind::Other,
        }
    }
}

/// What one statement of a SQL file does, as read from the objects it
/// creates. A loader orders DDL by it (tables, then keys, then indexes, then
/// foreign keys), as pg_dump lays a schema out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// `BEGIN`, `COMMIT` and the like.
    TransactionControl,
    CreateTable,
    CreateType,
    /// `ALTER TABLE ... ADD COLUMN`, with no key among its actions.
    AddColumns,
    CreateIndex {
        unique: bool,
    },
    AddPrimaryKey,
    AddUnique,
    /// Any `ALTER TABLE` that adds a foreign key, whatever else it adds.
    AddForeignKey,
    CommentOnColumn,
    /// Anything this parser does not recognise (`DO` blocks, `UPDATE`, ...).
    Other,
}

impl StatementKind {
    /// Classifies a statement by parsing what it creates.
    pub fn of(st: &Statement) -> StatementKind {
        if st.is_transaction_control() {
            return StatementKind::TransactionControl;
        }
        let mut o = Objects::default();
        o.add(&st.sql);
        let adds = |kind| o.constraints.iter().any(|c| c.kind == kind);
        if let Some(ix) = o.indexes.first() {
            StatementKind::CreateIndex { unique: ix.unique }
        } else if !o.tables.is_empty() {
            StatementKind::CreateTable
        } else if adds(ConstraintKind::ForeignKey) {
            StatementKind::AddForeignKey
        } else if adds(ConstraintKind::PrimaryKey) {
            StatementKind::AddPrimaryKey
        } else if adds(ConstraintKind::Unique) {
            StatementKind::AddUnique
        } else if !o.columns.is_empty() {
            StatementKind::AddColumns
        } else if !o.types.is_empty() {
            StatementKind::CreateType
        } else if !o.comments.is_empty() {
            StatementKind::CommentOnColumn
        } else {
            StatementKind::Other
        }
    }
}

/// A table, column or type a migration creates: what a query written for
/// the schema after it may need, and a database before it lacks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Created {
    Table(QualName),
    Column { table: QualName, column: String },
    Type(QualName),
}

impl Created {
    /// The name a query would write: the table's, column's or type's.
    pub fn name(&self) -> &str {
        match self {
            Created::Table(t) | Created::Type(t) => &t.name,
            Created::Column { column, .. } => column,
        }
    }

    /// True when the database has it now.
    pub async fn exists(&self, client: &tokio_postgres::Client) -> Result<bool> {
        let (sql, args): (&str, Vec<String>) = match self {
            Created::Table(t) => ("SELECT to_regclass($1) IS NOT NULL", vec![t.sql()]),
            Created::Type(t) => ("SELECT to_regtype($1) IS NOT NULL", vec![t.sql()]),
            Created::Column { table, column } => (
                "SELECT EXISTS (SELECT 1 FROM pg_attribute \
                  WHERE attrelid = to_regclass($1) AND attname = $2 \
                    AND attnum > 0 AND NOT attisdropped)",
                vec![table.sql(), column.clone()],
            ),
        };
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = args
            .iter()
            .map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        Ok(client
            .query_one(sql, &params)
            .await
            .context(format!("looking for {} in the catalog", self.name()))?
            .get(0))
    }
}

/// Everything a SQL file creates, as parsed from its statements.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub tables: Vec<QualName>,
    pub types: Vec<TypeDef>,
    /// Values added to enum types with `ALTER TYPE ... ADD VALUE`.
    pub enum_values: Vec<EnumValueDef>,
    pub columns: Vec<ColumnDef>,
    pub indexes: Vec<IndexDef>,
    pub constraints: Vec<ConstraintDef>,
    pub comments: Vec<CommentDef>,
    /// Indexes removed with `DROP INDEX`, by name, in file order.
    pub dropped_indexes: Vec<QualName>,
    /// `ALTER TABLE` actions other than `ADD COLUMN` and `ADD CONSTRAINT`
    /// (`ALTER COLUMN`, `DROP COLUMN`, ...), as written: this parser does
    /// not read what they do.
    pub other_actions: Vec<String>,
}

impl Objects {
    /// Parses the objects created by these statements.
    pub fn parse(statements: &[Statement]) -> Objects {
        let mut o = Objects::default();
        for st in statements {
            o.add(&st.sql);
        }
        o
    }

    /// Adds the objects one statement creates.
    fn add(&mut self, sql: &str) {
        if let Some(c) = TABLE.captures(sql) {
            self.tables.push(QualName::parse(&c[1]));
        }
        if let Some(c) = ENUM_TYPE.captures(sql) {
            let labels = c[2]
                .split(',')
                .map(|l| l.trim().trim_matches('\'').replace("''", "'"))
                .collect();
            let t = QualName::parse(&c[1]);
            self.types.push(TypeDef {
                name: t.name,
                schema: t.schema,
                labels,
            });
        }
        if let Some(c) = ENUM_VALUE.captures(sql) {
            self.enum_values.push(EnumValueDef {
                type_name: unquote(&c[1]),
                label: c[2].replace("''", "'"),
                position: c.get(3).map(|m| m.as_str().trim().to_string()),
            });
        }
        if let Some(c) = INDEX.captures(sql) {
            let (keys, include, predicate) = index_tail(&c[4]);
            let table = QualName::parse(&c[3]);
            self.indexes.push(IndexDef {
                unique: c.get(1).is_some(),
                name: QualName::parse(&c[2]).name,
                table: table.name,
                schema: table.schema,
                columns: split_columns(keys),
                include: include.map(split_columns).unwrap_or_default(),
                predicate,
                sql: sql.to_string(),
            });
        }
        if let Some(c) = ALTER_TABLE.captures(sql) {
            let table = QualName::parse(&c[1]);
            for part in split_top_level(&c[2]) {
                self.add_alter_part(&table, part.trim());
            }
        }
        if let Some(c) = DROP_INDEX.captures(sql) {
            self.dropped_indexes
                .extend(split_top_level(&c[1]).into_iter().map(QualName::parse));
        }
        if let Some(c) = COLUMN_COMMENT.captures(sql) {
            let table = QualName::parse(&c[1]);
            self.comments.push(CommentDef {
                table: table.name,
                schema: table.schema,
                column: unquote(&c[2]),
                text: c[3].replace("''", "'"),
            });
        }
    }

    /// Adds what one action of an `ALTER TABLE` creates.
    fn add_alter_part(&mut self, table: &QualName, part: &str) {
        if !ADD_COLUMN.is_match(part) && !ADD_CONSTRAINT.is_match(part) {
            self.other_actions.push(part.to_string());
        }
        if let Some(a) = ADD_COLUMN.captures(part) {
            self.columns.push(ColumnDef {
                table: table.name.clone(),
                schema: table.schema.clone(),
                column: unquote(&a[1]),
                definition: a[2].trim().to_string(),
            });
        }
        if let Some(a) = ADD_CONSTRAINT.captures(part) {
            self.constraints.push(ConstraintDef {
                table: table.name.clone(),
                schema: table.schema.clone(),
                name: unquote(&a[1]),
                kind: ConstraintKind::from_keywords(a.get(2).map(|m| m.as_str())),
                sql: format!("ALTER TABLE {} {part}", table.sql()),
            });
        }
    }

    /// The tables, columns and types it creates.
    pub fn created(&self) -> impl Iterator<Item = Created> + '_ {
        let tables = self.tables.iter().cloned().map(Created::Table);
        let columns = self.columns.iter().map(|c| Created::Column {
            table: QualName {
                schema: c.schema.clone(),
                name: c.table.clone(),
            },
            column: c.column.clone(),
        });
        let types = self.types.iter().map(|t| {
            Created::Type(QualName {
                schema: t.schema.clone(),
                name: t.name.clone(),
            })
        });
        tables.chain(columns).chain(types)
    }

    /// The tables these statements change without creating them: what a
    /// database must hold before they can run (a table that a column, index,
    /// constraint or comment names, not made by a `CREATE TABLE` here).
    pub fn referenced_tables(&self) -> Vec<QualName> {
        let q = |schema: &Option<String>, name: &str| QualName {
            schema: schema.clone(),
            name: name.to_string(),
        };
        let named = (self.columns.iter().map(|c| q(&c.schema, &c.table)))
            .chain(self.indexes.iter().map(|i| q(&i.schema, &i.table)))
            .chain(self.constraints.iter().map(|k| q(&k.schema, &k.table)))
            .chain(self.comments.iter().map(|c| q(&c.schema, &c.table)));
        let mut out: Vec<QualName> = Vec::new();
        for t in named {
            if !self.tables.contains(&t) && !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    /// How many objects there are in all.
    pub fn len(&self) -> usize {
        self.tables.len()
            + self.types.len()
            + self.enum_values.len()
            + self.columns.len()
            + self.indexes.len()
            + self.constraints.len()
            + self.comments.len()
            + self.dropped_indexes.len()
    }

    /// True when the file creates nothing this tool recognises.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A table, type, index or column name, bare or double-quoted, maybe
/// qualified by its schema (`app.orders`).
macro_rules! name {
    () => {
        r#"((?:(?:"[^"]+"|\w+)\.)?(?:"[^"]+"|\w+))"#
    };
}

/// `CREATE TABLE name`.
static TABLE: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?is)^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?",
        name!()
    ))
});

/// `CREATE TYPE name AS ENUM (labels)`.
static ENUM_TYPE: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?is)^CREATE\s+TYPE\s+",
        name!(),
        r"\s+AS\s+ENUM\s*\((.*)\)"
    ))
});

/// `ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'label' [BEFORE | AFTER 'label']`.
static ENUM_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?is)^ALTER\s+TYPE\s+",
        name!(),
        r"\s+ADD\s+VALUE\s+(?:IF\s+NOT\s+EXISTS\s+)?'((?:[^']|'')*)'",
        r"\s*((?:BEFORE|AFTER)\s+'(?:[^']|'')*')?\s*$"
    ))
});

/// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name ON table (columns)`.
static INDEX: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?is)^CREATE\s+(UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?",
        name!(),
        r"\s+ON\s+(?:ONLY\s+)?",
        name!(),
        r"\s*(?:USING\s+\w+\s*)?(\(.*)"
    ))
});

/// `CREATE [UNIQUE] INDEX [CONCURRENTLY] ON table`: an index left for
/// PostgreSQL to name.
static UNNAMED_INDEX: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?is)^CREATE\s+(UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?ON\s"));

/// The line of the first `CREATE INDEX` in `file` that names no index.
pub fn unnamed_index(file: &SqlFile) -> Option<usize> {
    file.statements
        .iter()
        .find(|st| UNNAMED_INDEX.is_match(&st.sql))
        .map(|st| st.line)
}

/// What follows the key list of a `CREATE INDEX`.
static INDEX_REST: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?is)^\s*(?:INCLUDE\s*(\(.*?\)))?\s*(?:WITH\s*\(.*?\))?\s*(?:TABLESPACE\s+\S+)?\s*(?:WHERE\s+(.*?))?\s*;?\s*$",
    )
});

/// The head of a `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS]`,
/// where `CONCURRENTLY` goes.
static INDEX_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"(?i)^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(IF\s+NOT\s+EXISTS\s+)?")
});

/// `DROP INDEX [CONCURRENTLY] [IF EXISTS] name[, name] [CASCADE | RESTRICT]`.
static DROP_INDEX: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?is)^DROP\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?",
        r"(.*?)\s*(?:\s(?:CASCADE|RESTRICT))?\s*;?\s*$"
    ))
});

/// `ALTER TABLE [ONLY] table actions`.
static ALTER_TABLE: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?is)^ALTER\s+TABLE\s+(?:ONLY\s+)?",
        name!(),
        r"\s+(.*)$"
    ))
});

/// One `ADD COLUMN name definition` action.
static ADD_COLUMN: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?is)^ADD\s+COLUMN\s+(?:IF\s+NOT\s+EXISTS\s+)?",
        name!(),
        r"\s+(.*)$"
    ))
});

/// One `ADD CONSTRAINT name [PRIMARY KEY | UNIQUE | FOREIGN KEY] ...` action.
static ADD_CONSTRAINT: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?is)^ADD\s+CONSTRAINT\s+",
        name!(),
        r"(?:\s+(PRIMARY\s+KEY|UNIQUE|FOREIGN\s+KEY))?"
    ))
});

/// `COMMENT ON COLUMN table.column IS 'text'`.
static COLUMN_COMMENT: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?is)^COMMENT\s+ON\s+COLUMN\s+",
        name!(),
        r"\.",
        name!(),
        r"\s+IS\s+'(.*)'$"
    ))
});

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

/// A migration: forward file, rollback file, and what the forward file
/// creates and drops.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The file stem, e.g. `012_help_desk_schema_updates`, or the folder's
    /// name for a Prisma migration folder.
    pub name: String,
    pub forward: SqlFile,
    pub rollback: Option<SqlFile>,
    pub objects: Objects,
    /// The definitions of the indexes it drops, as the base schema or an
    /// earlier migration created them; filled by [`super::MigrationChain`].
    pub dropped: Vec<IndexDef>,
}

/// The file a Prisma migration folder holds.
pub const PRISMA_FILE: &str = "migration.sql";
/// The rollback a Prisma migration folder may hold (`prisma migrate diff`'s name).
pub const PRISMA_ROLLBACK: &str = "down.sql";

impl Migration {
    /// Migration 012 as compiled into the binary.
    pub fn builtin() -> Result<Migration> {
        Ok(Migration::from_sql(
            fixtures::MIGRATION_012_NAME,
            SqlFile::new(fixtures::MIGRATION_012_PATH, fixtures::MIGRATION_012),
            Some(SqlFile::new(
                fixtures::ROLLBACK_012_PATH,
                fixtures::ROLLBACK_012,
            )),
        ))
    }

    /// A migration from disk: a forward file, whose rollback is the file of
    /// the same name with `_rollback` before the extension, or a Prisma
    /// migration folder holding `migration.sql` (and maybe `down.sql`),
    /// named after the folder.
    pub fn from_path(path: &Path) -> Result<Migration> {
        if path.is_dir() {
            return Migration::from_folder(path);
        }
        let forward = SqlFile::read(path)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let rollback_path: PathBuf = path.with_file_name(format!("{stem}_rollback.sql"));
        let rollback = read_if_present(&rollback_path)?;
        Ok(Migration::from_sql(&stem, forward, rollback))
    }

    /// Same as [`Migration::from_path`], kept for callers that name a file.
    pub fn from_file(path: &Path) -> Result<Migration> {
        Migration::from_path(path)
    }

    /// A Prisma migration folder: `DIR/migration.sql`, named `DIR`'s name.
    fn from_folder(dir: &Path) -> Result<Migration> {
        let file = dir.join(PRISMA_FILE);
        if !file.is_file() {
            return Err(Error::BadInput(format!(
                "{} is a folder without {PRISMA_FILE}; pass a migration file, or a Prisma migration folder holding {PRISMA_FILE}",
                dir.display()
            )));
        }
        let name = dir
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let rollback = read_if_present(&dir.join(PRISMA_ROLLBACK))?;
        Ok(Migration::from_sql(&name, SqlFile::read(&file)?, rollback))
    }

    /// The builtin migration, or the one in `path` when given.
    pub fn load(path: Option<&Path>) -> Result<Migration> {
        match path {
            Some(p) => Migration::from_path(p),
            None => Migration::builtin(),
        }
    }

    pub(crate) fn from_sql(name: &str, forward: SqlFile, rollback: Option<SqlFile>) -> Migration {
        Migration {
            name: name.to_string(),
            objects: Objects::parse(&forward.statements),
            forward,
            rollback,
            dropped: Vec::new(),
        }
    }

    /// The indexes it creates, in file order: the ones leave-one-out drops.
    pub fn indexes(&self) -> &[IndexDef] {
        &self.objects.indexes
    }

    /// Every index whose presence the migration changes: those it creates,
    /// then those it drops. The two index states switch exactly these.
    pub fn index_changes(&self) -> impl Iterator<Item = &IndexDef> {
        self.objects.indexes.iter().chain(&self.dropped)
    }

    /// Looks up an index it creates, by name.
    pub fn index(&self, name: &str) -> Option<&IndexDef> {
        self.objects.indexes.iter().find(|i| i.name == name)
    }

    /// True when it drops the index `name`.
    pub fn drops(&self, name: &str) -> bool {
        self.objects.dropped_indexes.iter().any(|d| d.name == name)
    }
}

fn read_if_present(path: &Path) -> Result<Option<SqlFile>> {
    path.is_file().then(|| SqlFile::read(path)).transpose()
}

/// Splits an index's column list at top-level commas.
/// Splits `(keys) [INCLUDE (cols)] [WITH (...)] [WHERE predicate]` into the
/// key list, the include list (both without their parentheses) and the
/// predicate.
fn index_tail(tail: &str) -> (&str, Option<&str>, Option<String>) {
    let close = group_end(tail).unwrap_or(tail.len());
    let keys = tail.get(1..close.saturating_sub(1)).unwrap_or("");
    let rest = &tail[close.min(tail.len())..];
    match INDEX_REST.captures(rest) {
        Some(c) => (
            keys,
            c.get(1)
                .map(|m| m.as_str().trim_start_matches('(').trim_end_matches(')')),
            c.get(2).map(|m| m.as_str().trim().to_string()),
        ),
        None => (keys, None, None),
    }
}

/// The byte after the parenthesised group `s` starts with.
fn group_end(s: &str) -> Option<usize> {
    unquoted(s)
        .find(|&(_, c, depth)| c == ')' && depth == 0)
        .map(|(i, _, _)| i + 1)
}

/// A predicate compared without case, spaces or outer parentheses.
fn normalise(p: &Option<String>) -> Option<String> {
    p.as_ref().map(|p| {
        p.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .to_lowercase()
    })
}

fn split_columns(list: &str) -> Vec<String> {
    split_top_level(list)
        .into_iter()
        .map(|c| unquote(c.trim()))
        .collect()
}

/// The base schema's tables, parsed from the fixture.
pub fn base_objects() -> Objects {
    Objects::parse(&split(fixtures::BASE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(sql: &str) -> IndexDef {
        let mut o = Objects::default();
        o.add(sql);
        o.indexes.remove(0)
    }

    #[test]
    fn prefix_redundancy_respects_predicates_include_and_uniqueness() {
        let status = index(r#"CREATE INDEX "a" ON "Conversation"("status")"#);
        let wide = index(r#"CREATE INDEX "b" ON "Conversation"("status", "assignedTo")"#);
        assert!(status.is_prefix_of(&wide));
        assert!(!wide.is_prefix_of(&status));

        let partial =
            index(r#"CREATE INDEX "p" ON "Conversation"("status") WHERE "assignedTo" IS NULL"#);
        assert_eq!(partial.columns, ["status"]);
        assert_eq!(
            partial.predicate.as_deref(),
            Some(r#""assignedTo" IS NULL"#)
        );
        assert!(
            !partial.is_prefix_of(&wide),
            "the wide index is not partial"
        );
        let partial_wide = index(
            r#"CREATE INDEX "pw" ON "Conversation" USING btree ("status", "createdAt") WHERE ("assignedTo" IS NULL)"#,
        );
        assert!(partial.is_prefix_of(&partial_wide), "same predicate");

        let covering =
            index(r#"CREATE INDEX "c" ON "Conversation"("status") INCLUDE ("customerEmail")"#);
        assert_eq!(covering.include, ["customerEmail"]);
        assert!(
            !covering.is_prefix_of(&wide),
            "the wide index lacks customerEmail"
        );
        let with_email = index(
            r#"CREATE INDEX "e" ON "Conversation"("status", "assignedTo") INCLUDE ("customerEmail") WITH (fillfactor = 90)"#,
        );
        assert!(covering.is_prefix_of(&with_email));

        let unique = index(r#"CREATE UNIQUE INDEX "u" ON "Conversation"("status")"#);
        assert!(
            !unique.is_prefix_of(&wide),
            "a unique index enforces something"
        );
    }

    #[test]
    fn builtin_012_lists_the_spec_indexes() {
        let m = Migration::builtin().unwrap();
        let names: Vec<&str> = m.indexes().iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Conversation_status_idx",
                "Conversation_assignedTo_idx",
                "Conversation_status_assignedTo_idx",
                "Conversation_customerEmail_idx",
                "Message_conversationId_idx",
                "Message_role_idx",
                "Message_createdAt_idx",
            ]
        );
        let composite = m.index("Conversation_status_assignedTo_idx").unwrap();
        assert_eq!(composite.columns, ["status", "assignedTo"]);
        assert_eq!(composite.table, "Conversation");
        assert!(composite
            .create_sql(true)
            .starts_with("CREATE INDEX CONCURRENTLY \"Conversation_status_assignedTo_idx\""));
    }

    #[test]
    fn builtin_012_objects() {
        let o = Migration::builtin().unwrap().objects;
        let cols: Vec<String> = o
            .columns
            .iter()
            .map(|c| format!("{}.{}", c.table, c.column))
            .collect();
        assert_eq!(
            cols,
            [
                "User.role",
                "Conversation.status",
                "Conversation.customerEmail",
                "Conversation.source",
                "Conversation.assignedTo"
            ]
        );
        assert_eq!(o.types[0].labels, ["user", "staff", "admin"]);
        assert_eq!(
            o.types[1].labels,
            ["AI_HANDLING", "AWAITING_HUMAN_RESPONSE", "RESOLVED"]
        );
        assert_eq!(o.constraints[0].name, "Conversation_assignedTo_fkey");
        assert_eq!(o.comments[0].text, "user | assistant | agent");
    }

    #[test]
    fn concurrently_keeps_unique_and_the_rest_of_the_statement() {
        let o = Objects::parse(&split(
            "CREATE UNIQUE INDEX \"U_idx\" ON \"User\" USING btree (lower(email), \"id\")",
        ));
        let ix = &o.indexes[0];
        assert!(ix.unique);
        assert_eq!(ix.columns, ["lower(email)", "id"]);
        let sql = ix.create_sql(true);
        assert!(
            sql.starts_with("CREATE UNIQUE INDEX CONCURRENTLY \"U_idx\" ON \"User\""),
            "{sql}"
        );
        assert!(sql.ends_with("(lower(email), \"id\")"), "{sql}");
    }

    #[test]
    fn an_index_written_concurrently_is_not_doubled() {
        let o = Objects::parse(&split(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_idx ON t (a);\n\
             CREATE UNIQUE INDEX \"B\" ON t (b)",
        ));
        assert_eq!(
            o.indexes[0].create_sql(true),
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_idx ON t (a)"
        );
        assert_eq!(
            o.indexes[1].create_if_missing_sql(),
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"B\" ON t (b)"
        );
        assert_eq!(
            o.indexes[1].create_sql(true),
            "CREATE UNIQUE INDEX CONCURRENTLY \"B\" ON t (b)"
        );
    }

    #[test]
    fn enum_values_and_unread_actions() {
        let o = Objects::parse(&split(concat!(
            "ALTER TYPE \"Status\" ADD VALUE 'it''s' BEFORE 'DONE';\n",
            "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'ok';\n",
            "ALTER TABLE t ADD COLUMN a int, ALTER COLUMN b SET NOT NULL"
        )));
        let v = &o.enum_values[0];
        assert_eq!((v.type_name.as_str(), v.label.as_str()), ("Status", "it's"));
        assert_eq!(
            v.add_if_missing_sql(),
            "ALTER TYPE \"Status\" ADD VALUE IF NOT EXISTS 'it''s' BEFORE 'DONE'"
        );
        assert_eq!(
            o.enum_values[1].add_if_missing_sql(),
            "ALTER TYPE \"mood\" ADD VALUE IF NOT EXISTS 'ok'"
        );
        assert_eq!(o.columns.len(), 1);
        assert_eq!(o.other_actions, ["ALTER COLUMN b SET NOT NULL"]);
        let m = Migration::builtin().unwrap();
        assert!(m.objects.other_actions.is_empty() && m.objects.enum_values.is_empty());
    }

    #[test]
    fn drops_are_read_by_name() {
        let o = Objects::parse(&split(concat!(
            "DROP INDEX \"Conversation_status_idx\";\n",
            "DROP INDEX CONCURRENTLY IF EXISTS public.\"A_idx\", b_idx CASCADE;"
        )));
        let dropped: Vec<String> = o.dropped_indexes.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            dropped,
            ["Conversation_status_idx", "public.A_idx", "b_idx"]
        );
    }

    #[test]
    fn statements_are_classified_by_what_they_create() {
        let kinds: Vec<StatementKind> = split(fixtures::BASE)
            .iter()
            .map(StatementKind::of)
            .collect();
        use StatementKind::*;
        assert_eq!(
            kinds,
            [
                TransactionControl,
                CreateTable,
                CreateTable,
                CreateTable,
                CommentOnColumn,
                AddPrimaryKey,
                AddPrimaryKey,
                AddPrimaryKey,
                CreateIndex { unique: true },
                CreateIndex { unique: false },
                AddForeignKey,
                AddForeignKey,
                TransactionControl,
            ]
        );
        let of = |sql: &str| StatementKind::of(&split(sql)[0]);
        // Keywords inside a table body or a column name do not make a key.
        assert_eq!(
            of("CREATE TABLE t (id int PRIMARY KEY, u int REFERENCES x)"),
            CreateTable
        );
        assert_eq!(
            of("ALTER TABLE t ADD COLUMN \"FOREIGN KEY\" int"),
            AddColumns
        );
        assert_eq!(
            of(concat!(
                "ALTER TABLE t ADD COLUMN a int, ",
                "ADD CONSTRAINT t_a_fkey FOREIGN KEY (a) REFERENCES x(id)"
            )),
            AddForeignKey
        );
        assert_eq!(
            of("ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE (a)"),
            AddUnique
        );
        assert_eq!(of("CREATE TYPE e AS ENUM ('a')"), CreateType);
        assert_eq!(of("DO $$ BEGIN NULL; END $$"), Other);
    }

    #[test]
    fn base_schema_objects() {
        let o = Objects::parse(&split(fixtures::BASE));
        let tables: Vec<&str> = o.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(tables, ["User", "Conversation", "Message"]);
        assert_eq!(o.constraints.len(), 5);
        assert_eq!(o.indexes.len(), 2);
        assert_eq!(o.comments[0].text, "user | assistant");
    }
}
