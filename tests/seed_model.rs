//! The seeded rows against the data model (`seed::model`), one property per
//! test, so that one failure does not hide the rest. Each test reads its own
//! clone of the tiny data set, seeded once per test process.

pub mod common;

use common::{scalar, seeded_tiny, TestDb};
use helpdesk_bench::seed::model::{self, Role};
use helpdesk_bench::seed::Scale;

/// A clone of the tiny data set and a connection to it.
async fn tiny_db(prefix: &str) -> (TestDb, tokio_postgres::Client) {
    let db = seeded_tiny(prefix).await;
    let c = db.endpoint.connect().await.unwrap();
    (db, c)
}

/// The most conversations that share one (non-null) value of `column`.
async fn most_per(c: &tokio_postgres::Client, column: &str) -> i64 {
    let sql = format!(
        r#"SELECT max(n) FROM (SELECT count(*) AS n FROM "Conversation"
                               WHERE "{column}" IS NOT NULL GROUP BY "{column}") s"#
    );
    scalar(c, &sql).await
}

#[tokio::test]
async fn foreign_keys_are_validated_and_nothing_is_orphaned() {
    let (_db, c) = tiny_db("keys").await;
    for fk in [
        "Message_conversationId_fkey",
        "Conversation_userId_fkey",
        "Conversation_assignedTo_fkey",
    ] {
        let n = scalar(
            &c,
            &format!("SELECT count(*) FROM pg_constraint WHERE conname = '{fk}' AND convalidated"),
        )
        .await;
        assert_eq!(n, 1, "{fk}");
    }
    let orphans = scalar(&c, r#"
        SELECT (SELECT count(*) FROM "Message" m LEFT JOIN "Conversation" c ON c.id = m."conversationId" WHERE c.id IS NULL)
             + (SELECT count(*) FROM "Conversation" c LEFT JOIN "User" u ON u.id = c."userId" WHERE c."userId" IS NOT NULL AND u.id IS NULL)
             + (SELECT count(*) FROM "Conversation" c LEFT JOIN "User" u ON u.id = c."assignedTo" WHERE c."assignedTo" IS NOT NULL AND u.id IS NULL)"#).await;
    assert_eq!(orphans, 0);
}

#[tokio::test]
async fn status_shares_follow_the_model() {
    let (_db, c) = tiny_db("statuses").await;
    let rows = c
        .query(
            r#"SELECT status::text, count(*) FROM "Conversation" GROUP BY 1"#,
            &[],
        )
        .await
        .unwrap();
    let conversations = Scale::Tiny.counts().conversations as f64;
    let share = |s: &str| {
        rows.iter()
            .find(|r| r.get::<_, String>(0) == s)
            .map(|r| r.get::<_, i64>(1) as f64 / conversations)
            .unwrap_or(0.0)
    };
    // 2,000 conversations: about ±3 points, ±2 for the small human queue.
    for (status, want) in model::STATUSES.into_iter().zip(model::STATUS_SHARES) {
        let tolerance = if want < 0.1 { 0.02 } else { 0.035 };
        let got = share(status);
        assert!((got - want).abs() < tolerance, "{status}: {got} vs {want}");
    }
}

#[tokio::test]
async fn messages_per_conversation_have_the_model_mean_and_a_long_tail() {
    let (_db, c) = tiny_db("messages").await;
    let row = c
        .query_one(
            r#"SELECT avg(n)::float8, max(n), percentile_cont(0.5) WITHIN GROUP (ORDER BY n),
                      stddev_pop(ln(n))::float8
                        FROM (SELECT count(*) AS n FROM "Message" GROUP BY "conversationId") s"#,
            &[],
        )
        .await
        .unwrap();
    let (mean, max, median, log_sd): (f64, i64, f64, f64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    // The mean is the totals' (scaled to the count asked for); the shape is
    // the model's: log-normal, its spread in log space the model's sigma
    // (rounding to whole messages, at least one each, narrows it a little).
    assert!(
        (log_sd - model::MESSAGES_SIGMA).abs() < 0.25,
        "sd of ln(messages per conversation) {log_sd}, model sigma {}",
        model::MESSAGES_SIGMA
    );
    assert!(
        max as f64 >= 6.0 * model::MESSAGES_MEAN,
        "no long tail: max {max}"
    );
    assert!(median < mean, "median {median}");
}

#[tokio::test]
async fn timestamps_increase_and_updated_at_is_the_last_message() {
    let (_db, c) = tiny_db("timestamps").await;
    let not_increasing = scalar(&c, r#"
        SELECT count(*) FROM (
          SELECT "createdAt" <= lag("createdAt") OVER (PARTITION BY "conversationId" ORDER BY "createdAt", id) AS bad
            FROM "Message") s WHERE bad"#).await;
    assert_eq!(not_increasing, 0);
    let stale = scalar(
        &c,
        r#"
        SELECT count(*) FROM "Conversation" c
          JOIN (SELECT "conversationId", max("createdAt") AS last FROM "Message" GROUP BY 1) m
            ON m."conversationId" = c.id
         WHERE c."updatedAt" <> m.last"#,
    )
    .await;
    assert_eq!(stale, 0);
}

#[tokio::test]
async fn agents_speak_only_in_taken_conversations_after_the_customer() {
    let (_db, c) = tiny_db("roles").await;
    let (agent, user) = (Role::Agent.label(), Role::User.label());
    let stray_agents = scalar(
        &c,
        &format!(
            r#"
        SELECT count(*) FROM "Message" m JOIN "Conversation" c ON c.id = m."conversationId"
         WHERE m.role = '{agent}' AND c."assignedTo" IS NULL"#
        ),
    )
    .await;
    assert_eq!(stray_agents, 0);
    let agents = scalar(
        &c,
        &format!(r#"SELECT count(*) FROM "Message" WHERE role = '{agent}'"#),
    )
    .await;
    assert!(agents > 0);
    let first_not_user = scalar(
        &c,
        &format!(
            r#"
        SELECT count(*) FROM (SELECT DISTINCT ON ("conversationId") role FROM "Message"
                              ORDER BY "conversationId", "createdAt") f WHERE role <> '{user}'"#
        ),
    )
    .await;
    assert_eq!(first_not_user, 0);
}

#[tokio::test]
async fn only_staff_are_assigned_and_never_to_ai_handling() {
    let (_db, c) = tiny_db("assignees").await;
    let bad_assignees = scalar(
        &c,
        r#"
        SELECT count(*) FROM "Conversation" c JOIN "User" u ON u.id = c."assignedTo"
         WHERE u.role NOT IN ('staff', 'admin')"#,
    )
    .await;
    assert_eq!(bad_assignees, 0);
    let ai_assigned = scalar(&c, r#"
        SELECT count(*) FROM "Conversation" WHERE status = 'AI_HANDLING' AND "assignedTo" IS NOT NULL"#).await;
    assert_eq!(ai_assigned, 0);
}

#[tokio::test]
async fn staff_and_admins_follow_the_model() {
    let (_db, c) = tiny_db("staff").await;
    let staff = Scale::Tiny.counts().staff;
    let helpers = scalar(
        &c,
        r#"SELECT count(*) FROM "User" WHERE role IN ('staff', 'admin')"#,
    )
    .await;
    assert_eq!(helpers, staff as i64);
    let admins = scalar(&c, r#"SELECT count(*) FROM "User" WHERE role = 'admin'"#).await;
    let want = (staff as f64 * model::ADMIN_SHARE).ceil().max(1.0) as i64;
    assert_eq!(admins, want, "admins among {staff} staff");
}

#[tokio::test]
async fn the_busiest_agent_carries_far_more_than_an_even_share() {
    let (_db, c) = tiny_db("skew").await;
    let top = most_per(&c, "assignedTo").await;
    let assigned = scalar(
        &c,
        r#"SELECT count(*) FROM "Conversation" WHERE "assignedTo" IS NOT NULL"#,
    )
    .await;
    let even = assigned as f64 / Scale::Tiny.counts().staff as f64;
    assert!(top as f64 > 3.0 * even, "top {top} of {assigned}");
}

#[tokio::test]
async fn customers_come_back() {
    let (_db, c) = tiny_db("customers").await;
    let repeat = most_per(&c, "customerEmail").await;
    assert!(repeat >= 10, "top customer has {repeat}");
}

#[tokio::test]
async fn traffic_comes_from_a_few_dozen_of_the_models_sources() {
    let (_db, c) = tiny_db("sources").await;
    let sources = scalar(&c, r#"SELECT count(DISTINCT source) FROM "Conversation""#).await;
    assert!(
        (20..=model::SOURCES as i64).contains(&sources),
        "{sources} sources"
    );
}

#[tokio::test]
async fn message_bodies_are_varied() {
    let (_db, c) = tiny_db("bodies").await;
    let distinct_content = scalar(&c, r#"SELECT count(DISTINCT content) FROM "Message""#).await;
    // Short customer turns may repeat a single pool sentence, as real ones do.
    assert!(
        distinct_content as f64 > 0.9 * Scale::Tiny.counts().messages as f64,
        "{distinct_content} distinct bodies"
    );
}
