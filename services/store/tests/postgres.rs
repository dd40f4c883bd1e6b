//! The store conformance suite on PostgreSQL (`TRIBUTARY_TEST_POSTGRES_URL`).

mod conformance;

conformance_suite!(tributary_store::testing::postgres);

/// PostgreSQL checks entity and edge references per statement (migrations 0006, 0008): what the
/// store never writes, raw SQL cannot write either.
#[tokio::test]
async fn references_are_enforced_per_statement() {
    use sqlx::Connection;

    let Some(scratch) = tributary_store::testing::postgres().await else {
        return;
    };
    let store = scratch.store.as_ref();
    conformance::service(store, "hive").await;
    let hive = store
        .get_entity(&conformance::fqn("hive"))
        .await
        .unwrap()
        .id;
    let mut conn = sqlx::PgConnection::connect(&scratch.url).await.unwrap();
    let missing = uuid::Uuid::now_v7();
    let refused = [
        format!(
            "INSERT INTO entities (id, kind, fqn, name, parent_id, source, created_at, updated_at) \
             VALUES ('{}', 'database', 'hive.dwh', 'dwh', '{missing}', 't', now(), now())",
            uuid::Uuid::now_v7()
        ),
        format!(
            "INSERT INTO entities (id, kind, fqn, name, owner, source, created_at, updated_at) \
             VALUES ('{}', 'service', 'other', 'other', 'no-such-team', 't', now(), now())",
            uuid::Uuid::now_v7()
        ),
        format!("UPDATE entities SET parent_id = '{missing}' WHERE id = '{hive}'"),
        format!(
            "INSERT INTO edges (id, from_id, to_id, source, created_at, updated_at) \
             SELECT '{}', '{hive}', '{missing}', 't', now(), now()",
            uuid::Uuid::now_v7()
        ),
        format!(
            "INSERT INTO edges (id, from_id, to_id, source, created_at, updated_at) \
             SELECT '{}', '{missing}', '{hive}', 't', now(), now()",
            uuid::Uuid::now_v7()
        ),
    ];
    for sql in refused {
        refused_as_dangling(&mut conn, &sql).await;
    }
    // References are checked per distinct parent and team, not per row: a dangling row
    // among good ones sharing theirs is still refused, and the error names it.
    let message = refused_as_dangling(
        &mut conn,
        &format!(
            "INSERT INTO entities (id, kind, fqn, name, parent_id, owner, source, created_at, updated_at) \
             VALUES ('{}', 'database', 'hive.good', 'good', '{hive}', NULL, 't', now(), now()), \
                    ('{}', 'database', 'hive.also_good', 'also_good', '{hive}', NULL, 't', now(), now()), \
                    ('{}', 'database', 'hive.orphan', 'orphan', '{missing}', NULL, 't', now(), now())",
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7()
        ),
    )
    .await;
    assert!(message.contains("hive.orphan"), "{message}");
    // A referred-to entity cannot be deleted outright, nor can an edge's end.
    let (child, other) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    for sql in [
        format!(
            "INSERT INTO entities (id, kind, fqn, name, parent_id, source, created_at, updated_at) \
             VALUES ('{child}', 'database', 'hive.dwh', 'dwh', '{hive}', 't', now(), now())"
        ),
        format!(
            "INSERT INTO entities (id, kind, fqn, name, source, created_at, updated_at) \
             VALUES ('{other}', 'service', 'other', 'other', 't', now(), now())"
        ),
        format!(
            "INSERT INTO edges (id, from_id, to_id, source, created_at, updated_at) \
             VALUES ('{}', '{child}', '{other}', 't', now(), now())",
            uuid::Uuid::now_v7()
        ),
    ] {
        run(&mut conn, &sql).await;
    }
    for referred in [hive, child, other] {
        refused_as_dangling(
            &mut conn,
            &format!("DELETE FROM entities WHERE id = '{referred}'"),
        )
        .await;
    }
    // What nothing refers to can go.
    run(&mut conn, "DELETE FROM edges WHERE source = 't'").await;
    run(
        &mut conn,
        &format!("DELETE FROM entities WHERE id = '{child}'"),
    )
    .await;
}

async fn run(conn: &mut sqlx::PgConnection, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// `sql` fails as a foreign-key violation would; the error's message.
async fn refused_as_dangling(conn: &mut sqlx::PgConnection, sql: &str) -> String {
    let err = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .unwrap_err();
    let db = err
        .as_database_error()
        .unwrap_or_else(|| panic!("{sql}: {err}"));
    assert!(db.is_foreign_key_violation(), "{sql}: {err}");
    db.message().to_owned()
}
