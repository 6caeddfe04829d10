//! The suggestion as files a reviewer can run: `suggested_migration.sql`
//! (drop these of the migration's indexes, create those) and its rollback,
//! each one transaction for `psql -v ON_ERROR_STOP=1 -f` on a database
//! where the migration under test is applied; and the warnings that go with
//! them.

use crate::schema::{IndexDef, Migration, PRISMA_FILE};

/// The suggestion's file name in the run folder.
pub const SUGGESTED_FILE: &str = "suggested_migration.sql";
/// Its rollback's.
pub const ROLLBACK_FILE: &str = "suggested_migration_rollback.sql";

/// What the suggestion changes on a database at the migration.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Indexes the migration created that the suggestion drops.
    pub drop: Vec<IndexDef>,
    /// Indexes the suggestion creates.
    pub create: Vec<IndexDef>,
}

/// `suggested_migration.sql`: drops, then creates, in one transaction.
pub fn forward_sql(m: &Migration, c: &Change, run_id: &str) -> String {
    let mut s = header(m, run_id, "the index set helpdesk-bench advise suggests");
    s.push_str(&format!("-- Undo with {ROLLBACK_FILE}.\n\nBEGIN;\n\n"));
    for ix in &c.drop {
        s.push_str(&format!("{};\n", ix.drop_sql()));
    }
    if !c.drop.is_empty() {
        s.push('\n');
    }
    for ix in &c.create {
        s.push_str(&format!(
            "{};\n",
            ix.create_sql(false).trim_end_matches(';')
        ));
    }
    s.push_str("\nCOMMIT;\n");
    s
}

/// `suggested_migration_rollback.sql`: back to the migration's own set.
pub fn rollback_sql(m: &Migration, c: &Change, run_id: &str) -> String {
    let mut s = header(
        m,
        run_id,
        &format!("undoes {SUGGESTED_FILE}: back to {}'s own indexes", m.name),
    );
    s.push_str("\nBEGIN;\n\n");
    for ix in &c.create {
        s.push_str(&format!("{};\n", ix.drop_sql()));
    }
    if !c.create.is_empty() {
        s.push('\n');
    }
    for ix in &c.drop {
        s.push_str(&format!(
            "{};\n",
            ix.create_sql(false).trim_end_matches(';')
        ));
    }
    s.push_str("\nCOMMIT;\n");
    s
}

fn header(m: &Migration, run_id: &str, what: &str) -> String {
    format!(
        "-- {what}, for a database where {} is applied\n\
         -- (helpdesk-bench advise, run {run_id}).\n\
         --\n\
         --   psql -v ON_ERROR_STOP=1 -d DB -f FILE\n\
         --\n\
         -- One transaction: on a failure nothing is changed. Plain CREATE INDEX\n\
         -- blocks writes to the table while it builds; on a busy table, run each\n\
         -- statement on its own with CONCURRENTLY instead.\n",
        m.name
    )
}

/// The warnings for whoever applies the suggestion.
pub fn warnings(m: &Migration, c: &Change) -> Vec<String> {
    let mut out = Vec::new();
    let prisma = m.forward.label.ends_with(PRISMA_FILE);
    let partial: Vec<&str> = c
        .create
        .iter()
        .filter(|i| i.predicate.is_some())
        .map(|i| i.name.as_str())
        .collect();
    if prisma {
        out.push(format!(
            "{} is a Prisma migration: `prisma migrate dev` drops hand-written partial indexes ({}) on its next run unless the `partialIndexes` preview feature is on (previewFeatures = [\"partialIndexes\"] in schema.prisma, with the indexes declared there)",
            m.name,
            if partial.is_empty() {
                "none in this suggestion".to_string()
            } else {
                partial.join(", ")
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_drop_and_create_and_undo_it() {
        let m = Migration::builtin().unwrap();
        let role = m.index("Message_role_idx").unwrap().clone();
        let mut new = role.clone();
        new.name = "Message_createdAt_agent_idx".into();
        new.sql = "CREATE INDEX \"Message_createdAt_agent_idx\" ON \"Message\" (\"createdAt\" DESC) WHERE \"role\" = 'agent'::text".into();
        new.predicate = Some("\"role\" = 'agent'::text".into());
        let c = Change {
            drop: vec![role],
            create: vec![new],
        };
        let f = forward_sql(&m, &c, "r1");
        assert!(f.contains("BEGIN;\n\nDROP INDEX IF EXISTS \"Message_role_idx\";\n\nCREATE INDEX \"Message_createdAt_agent_idx\""));
        assert!(f.trim_end().ends_with("COMMIT;"));
        let r = rollback_sql(&m, &c, "r1");
        assert!(r.contains("DROP INDEX IF EXISTS \"Message_createdAt_agent_idx\";\n\nCREATE INDEX \"Message_role_idx\" ON \"Message\"(\"role\");"));
        assert!(warnings(&m, &c).is_empty());
    }

    #[test]
    fn a_prisma_migration_warns_that_migrate_dev_drops_partial_indexes() {
        let dir = std::env::temp_dir().join(format!("hb-prisma-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(PRISMA_FILE),
            crate::schema::fixtures::MIGRATION_012,
        )
        .unwrap();
        let m = Migration::from_path(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut partial = m.indexes()[0].clone();
        partial.name = "Message_createdAt_agent_idx".into();
        partial.predicate = Some("\"role\" = 'agent'::text".into());
        let c = Change {
            drop: vec![],
            create: vec![partial],
        };
        let w = warnings(&m, &c);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("prisma migrate dev") && w[0].contains("partialIndexes"));
        assert!(w[0].contains("Message_createdAt_agent_idx"), "{}", w[0]);
    }
}
