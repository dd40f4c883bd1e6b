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
        let err = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
            .unwrap_err();
        let db = err
            .as_database_error()
            .unwrap_or_else(|| panic!("{sql}: {err}"));
        assert!(db.is_foreign_key_violation(), "{sql}: {err}");
    }
    // A referred-to entity cannot be deleted outright.
    let child = uuid::Uuid::now_v7();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO entities (id, kind, fqn, name, parent_id, source, created_at, updated_at) \
         VALUES ('{child}', 'database', 'hive.dwh', 'dwh', '{hive}', 't', now(), now())"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    let err = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM entities WHERE id = '{hive}'"
    )))
    .execute(&mut conn)
    .await
    .unwrap_err();
    assert!(
        err.as_database_error().unwrap().is_foreign_key_violation(),
        "{err}"
    );
    // Nor can an edge's end.
    let other = uuid::Uuid::now_v7();
    for sql in [
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
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    for end in [child, other] {
        let err = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM entities WHERE id = '{end}'"
        )))
        .execute(&mut conn)
        .await
        .unwrap_err();
        assert!(
            err.as_database_error().unwrap().is_foreign_key_violation(),
            "{err}"
        );
    }
    sqlx::query("DELETE FROM edges WHERE source = 't'")
        .execute(&mut conn)
        .await
        .unwrap();
    // What nothing refers to can go.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM entities WHERE id = '{child}'"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
}
