//! The store conformance suite: every test runs against each backend through
//! `conformance_suite!`, so SQLite and PostgreSQL are held to the same behaviour.

use serde_json::json;
use tributary_catalog::{
    ColumnMapping, ConnectionConfig, EdgeDraft, EdgeKey, EntityDraft, EntityKind, Fqn, Role,
    TeamDraft,
};
use tributary_store::{EntityTree, ListQuery, NewToken, Store, StoreError};

pub fn fqn(text: &str) -> Fqn {
    Fqn::parse(text).unwrap()
}

fn draft(kind: EntityKind, text: &str) -> EntityDraft {
    EntityDraft::bare(kind, fqn(text), "test")
}

fn column(table: &str, name: &str, data_type: &str) -> EntityDraft {
    let mut d = EntityDraft::bare(EntityKind::Column, fqn(table).child(name).unwrap(), "test");
    d.attrs = json!({ "data_type": data_type });
    d
}

pub async fn service(store: &dyn Store, name: &str) {
    store
        .put_service(
            "test",
            draft(EntityKind::Service, name),
            ConnectionConfig::default(),
        )
        .await
        .unwrap();
}

async fn table(store: &dyn Store, table: &str, columns: &[&str]) -> tributary_store::TreeWritten {
    let tree = EntityTree {
        root: draft(EntityKind::Table, table),
        children: Some(columns.iter().map(|c| column(table, c, "int")).collect()),
    };
    store.put_entity_tree("test", tree).await.unwrap()
}

async fn log_len(store: &dyn Store) -> i64 {
    store.last_change_seq().await.unwrap()
}

pub async fn ready_after_open(store: &dyn Store) {
    store.readiness().await.unwrap();
}

pub async fn table_put_creates_implied_parents_and_columns(store: &dyn Store) {
    service(store, "hive").await;
    let written = table(store, "hive.dwh.marts.daily", &["a", "b"]).await;
    assert!(written.root_created);
    assert_eq!(
        written.counts.created, 5,
        "database, schema, table and two columns"
    );
    let schema = store.get_entity(&fqn("hive.dwh.marts")).await.unwrap();
    assert_eq!(schema.kind, EntityKind::Schema);
    assert_eq!(written.root.parent_id, Some(schema.id));
    let columns = store.children(written.root.id).await.unwrap();
    assert_eq!(
        columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(columns[0].attrs["data_type"], "int");
}

pub async fn repeated_put_writes_nothing(store: &dyn Store) {
    service(store, "hive").await;
    table(store, "hive.dwh.marts.daily", &["a", "b"]).await;
    let before = log_len(store).await;
    let again = table(store, "hive.dwh.marts.daily", &["a", "b"]).await;
    assert_eq!(
        again.counts.created + again.counts.updated + again.counts.deleted,
        0
    );
    assert_eq!(again.counts.unchanged, 3);
    assert_eq!(
        log_len(store).await,
        before,
        "a no-op write leaves no change-log rows"
    );
}

pub async fn columns_left_out_are_soft_deleted_and_come_back(store: &dyn Store) {
    service(store, "hive").await;
    let first = table(store, "hive.dwh.marts.daily", &["a", "b"]).await;
    let b_id = store
        .get_entity(&fqn("hive.dwh.marts.daily.b"))
        .await
        .unwrap()
        .id;
    let second = table(store, "hive.dwh.marts.daily", &["a"]).await;
    assert_eq!(second.counts.deleted, 1);
    assert!(matches!(
        store.get_entity(&fqn("hive.dwh.marts.daily.b")).await,
        Err(StoreError::NotFound { .. })
    ));
    let third = table(store, "hive.dwh.marts.daily", &["a", "b"]).await;
    assert_eq!(third.counts.updated, 1, "b is restored, not created again");
    assert_eq!(third.root.id, first.root.id);
    let b = store
        .get_entity(&fqn("hive.dwh.marts.daily.b"))
        .await
        .unwrap();
    assert_eq!(b.id, b_id, "a restored entity keeps its id");
    assert!(b.version > 1);
}

pub async fn changed_column_is_updated_and_logged(store: &dyn Store) {
    service(store, "hive").await;
    table(store, "hive.dwh.marts.daily", &["a"]).await;
    let before = log_len(store).await;
    let tree = EntityTree {
        root: draft(EntityKind::Table, "hive.dwh.marts.daily"),
        children: Some(vec![column("hive.dwh.marts.daily", "a", "bigint")]),
    };
    let written = store.put_entity_tree("alice", tree).await.unwrap();
    assert_eq!(written.counts.updated, 1);
    let changes = store.changes_after(before, 10).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].op, "entity.updated");
    assert_eq!(changes[0].actor, "alice");
    assert_eq!(changes[0].fqn.as_deref(), Some("hive.dwh.marts.daily.a"));
}

pub async fn missing_service_and_unknown_owner_write_nothing(store: &dyn Store) {
    let before = log_len(store).await;
    let tree = EntityTree {
        root: draft(EntityKind::Table, "nowhere.db.s.t"),
        children: Some(vec![column("nowhere.db.s.t", "a", "int")]),
    };
    match store.put_entity_tree("test", tree).await {
        Err(StoreError::References(problems)) => assert_eq!(problems[0].reference, "nowhere"),
        other => panic!("expected a reference problem, got {other:?}"),
    }
    assert_eq!(log_len(store).await, before);
    service(store, "hive").await;
    let before_owner = log_len(store).await;
    let mut root = draft(EntityKind::Table, "hive.db.s.t");
    root.owner = Some("ghosts".into());
    let err = store
        .put_entity_tree(
            "test",
            EntityTree {
                root,
                children: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::References(ref p) if p[0].reference == "ghosts"));
    assert_eq!(log_len(store).await, before_owner);
    assert!(
        store.get_entity(&fqn("hive.db")).await.is_err(),
        "no implied parent left behind"
    );
}

pub async fn an_fqn_keeps_its_kind(store: &dyn Store) {
    service(store, "bi").await;
    store
        .put_entity_tree(
            "test",
            EntityTree {
                root: draft(EntityKind::Dashboard, "bi.churn"),
                children: None,
            },
        )
        .await
        .unwrap();
    let err = store
        .put_entity_tree(
            "test",
            EntityTree {
                root: draft(EntityKind::MlModel, "bi.churn"),
                children: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
}

pub async fn models_with_features_and_owners(store: &dyn Store) {
    service(store, "mlflow").await;
    store
        .put_team(
            "test",
            TeamDraft {
                name: "growth".into(),
                display_name: Some("Growth".into()),
                description: None,
                contact: Some("#growth".into()),
                webhook_url: None,
            },
        )
        .await
        .unwrap();
    let mut root = draft(EntityKind::MlModel, "mlflow.churn");
    root.owner = Some("growth".into());
    root.attrs = json!({"algorithm": "xgboost", "hyperparameters": {"depth": "6"}});
    let features = ["avg_check_30d", "calls_7d"]
        .iter()
        .map(|f| {
            EntityDraft::bare(
                EntityKind::Feature,
                fqn("mlflow.churn").child(f).unwrap(),
                "test",
            )
        })
        .collect();
    let written = store
        .put_entity_tree(
            "test",
            EntityTree {
                root,
                children: Some(features),
            },
        )
        .await
        .unwrap();
    assert_eq!(written.root.owner.as_deref(), Some("growth"));
    let counts = store.child_counts(written.root.id).await.unwrap();
    assert_eq!(counts[0].kind, EntityKind::Feature);
    assert_eq!(counts[0].count, 2);
    let page = store
        .list_entities(&ListQuery {
            kind: EntityKind::MlModel,
            within: None,
            owner: Some("growth".into()),
            after: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
}

pub async fn listing_pages_by_fqn_within_a_prefix(store: &dyn Store) {
    service(store, "hive").await;
    service(store, "hive2").await;
    for t in ["t1", "t2", "\"t.3\"", "t4", "t5"] {
        table(store, &format!("hive.db.s.{t}"), &["c"]).await;
    }
    table(store, "hive2.db.s.other", &["c"]).await;
    table(store, "hive.db2.s.elsewhere", &["c"]).await;
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_entities(&ListQuery {
                kind: EntityKind::Table,
                within: Some(fqn("hive.db")),
                owner: None,
                after: after.clone(),
                limit: 2,
            })
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|e| e.name.clone()));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["t.3", "t1", "t2", "t4", "t5"]);
}

pub async fn deleting_a_table_deletes_its_columns(store: &dyn Store) {
    service(store, "hive").await;
    table(store, "hive.db.s.t", &["a", "b"]).await;
    table(store, "hive.db.s.t2", &["a"]).await;
    let n = store
        .delete_entity("test", EntityKind::Table, &fqn("hive.db.s.t"))
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert!(store.get_entity(&fqn("hive.db.s.t.a")).await.is_err());
    assert!(
        store.get_entity(&fqn("hive.db.s.t2.a")).await.is_ok(),
        "a sibling survives"
    );
    let again = store
        .delete_entity("test", EntityKind::Table, &fqn("hive.db.s.t"))
        .await;
    assert!(matches!(again, Err(StoreError::NotFound { .. })));
    let wrong_kind = store
        .delete_entity("test", EntityKind::MlModel, &fqn("hive.db.s.t2"))
        .await;
    assert!(matches!(wrong_kind, Err(StoreError::NotFound { .. })));
}

pub async fn service_connections_keep_secrets(store: &dyn Store) {
    let config: ConnectionConfig =
        serde_json::from_value(json!({"host": "meta", "password": "hunter2"})).unwrap();
    store
        .put_service("test", draft(EntityKind::Service, "hive"), config)
        .await
        .unwrap();
    let update: ConnectionConfig =
        serde_json::from_value(json!({"host": "meta2", "password": "***"})).unwrap();
    store
        .put_service("test", draft(EntityKind::Service, "hive"), update)
        .await
        .unwrap();
    let stored = store.service_connection(&fqn("hive")).await.unwrap();
    assert_eq!(stored.0["password"], "hunter2");
    assert_eq!(stored.0["host"], "meta2");
    let log = store.changes_after(0, 100).await.unwrap();
    assert!(!serde_json::to_string(&log).unwrap().contains("hunter2"));
}

pub async fn edges_upsert_by_key_and_validate_endpoints(store: &dyn Store) {
    service(store, "hive").await;
    table(store, "hive.db.s.src", &["a"]).await;
    table(store, "hive.db.s.dst", &["a"]).await;
    let edge = |source: &str, function: Option<&str>| EdgeDraft {
        key: EdgeKey {
            from: fqn("hive.db.s.src"),
            to: fqn("hive.db.s.dst"),
            source: source.into(),
        },
        columns: vec![ColumnMapping {
            from: vec![fqn("hive.db.s.src.a")],
            to: fqn("hive.db.s.dst.a"),
            function: function.map(Into::into),
        }],
        transform: None,
    };
    let first = store
        .put_edges("test", vec![edge("api", None), edge("yaml:x", None)])
        .await
        .unwrap();
    assert_eq!(first.created, 2);
    let before = log_len(store).await;
    let same = store
        .put_edges("test", vec![edge("api", None)])
        .await
        .unwrap();
    assert_eq!(same.unchanged, 1);
    assert_eq!(log_len(store).await, before);
    let changed = store
        .put_edges("test", vec![edge("api", Some("sum(a)"))])
        .await
        .unwrap();
    assert_eq!(changed.updated, 1);
    let src = store.get_entity(&fqn("hive.db.s.src")).await.unwrap();
    let (up, down) = store.edges_of(src.id, 10).await.unwrap();
    assert!(up.is_empty());
    assert_eq!(down.len(), 2);
    assert_eq!(down[0].columns[0].function.as_deref(), Some("sum(a)"));

    let bad = EdgeDraft {
        key: EdgeKey {
            from: fqn("hive.db.s.src"),
            to: fqn("hive.db.s.nope"),
            source: "api".into(),
        },
        columns: vec![],
        transform: None,
    };
    let to_schema = EdgeDraft {
        key: EdgeKey {
            from: fqn("hive.db.s.src"),
            to: fqn("hive.db.s"),
            source: "api".into(),
        },
        columns: vec![],
        transform: None,
    };
    let before = log_len(store).await;
    match store
        .put_edges("test", vec![edge("new", None), bad, to_schema])
        .await
    {
        Err(StoreError::References(problems)) => {
            let refs: Vec<_> = problems.iter().map(|p| p.reference.as_str()).collect();
            assert_eq!(refs, ["hive.db.s", "hive.db.s.nope"]);
        }
        other => panic!("expected reference problems, got {other:?}"),
    }
    assert_eq!(
        log_len(store).await,
        before,
        "a refused batch writes nothing"
    );

    let missing = store
        .delete_edges(
            "test",
            vec![
                EdgeKey {
                    from: fqn("hive.db.s.src"),
                    to: fqn("hive.db.s.dst"),
                    source: "api".into(),
                },
                EdgeKey {
                    from: fqn("hive.db.s.src"),
                    to: fqn("hive.db.s.dst"),
                    source: "nope".into(),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].source, "nope");
    let (_, down) = store.edges_of(src.id, 10).await.unwrap();
    assert_eq!(down.len(), 1);
}

pub async fn tokens_are_found_by_hash_and_revoked(store: &dyn Store) {
    let token = |name: &str, hash: &str| NewToken {
        name: name.into(),
        role: Role::Editor,
        hash: hash.into(),
    };
    store
        .create_token("cli", token("ci-bot", "h1"))
        .await
        .unwrap();
    let dup = store.create_token("cli", token("ci-bot", "h2")).await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })));
    let found = store.token_by_hash("h1").await.unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.role), ("ci-bot", Role::Editor));
    assert!(store.token_by_hash("nope").await.unwrap().is_none());
    store.revoke_token("cli", "ci-bot").await.unwrap();
    assert!(store.token_by_hash("h1").await.unwrap().is_none());
    store
        .create_token("cli", token("ci-bot", "h3"))
        .await
        .unwrap();
    assert_eq!(store.list_tokens().await.unwrap().len(), 2);
}

pub async fn teams_round_trip(store: &dyn Store) {
    let team = TeamDraft {
        name: "risk".into(),
        display_name: Some("Risk".into()),
        description: None,
        contact: Some("risk@example.com".into()),
        webhook_url: Some("http://127.0.0.1:9/hook".into()),
    };
    let (_, created) = store.put_team("admin", team.clone()).await.unwrap();
    assert!(created);
    let before = log_len(store).await;
    let (_, created) = store.put_team("admin", team.clone()).await.unwrap();
    assert!(!created);
    assert_eq!(log_len(store).await, before);
    let got = store.get_team("risk").await.unwrap();
    assert_eq!(got.contact.as_deref(), Some("risk@example.com"));
    assert_eq!(store.list_teams().await.unwrap().len(), 1);
    assert!(matches!(
        store.get_team("nope").await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn twenty_thousand_columns_in_one_write(store: &dyn Store) {
    service(store, "hive").await;
    let names: Vec<String> = (0..20_000).map(|i| format!("col_{i:05}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let written = table(store, "hive.db.s.wide", &refs).await;
    assert_eq!(written.counts.created, 20_003);
    assert_eq!(store.children(written.root.id).await.unwrap().len(), 20_000);
    let before = log_len(store).await;
    let again = table(store, "hive.db.s.wide", &refs).await;
    assert_eq!(again.counts.unchanged, 20_001);
    assert_eq!(log_len(store).await, before);
}

pub async fn scans_page_through_live_entities_and_all_edges(store: &dyn Store) {
    service(store, "hive").await;
    table(store, "hive.db.s.a", &["x", "y"]).await;
    table(store, "hive.db.s.b", &["x"]).await;
    store
        .delete_entity("test", EntityKind::Table, &fqn("hive.db.s.b"))
        .await
        .unwrap();
    let edge = EdgeDraft {
        key: EdgeKey {
            from: fqn("hive.db.s.a.x"),
            to: fqn("hive.db.s.a.y"),
            source: "api".into(),
        },
        columns: vec![],
        transform: None,
    };
    store.put_edges("test", vec![edge]).await.unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let batch = store.scan_entities(after, 2).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = Some(last.id);
        seen.extend(batch.into_iter().map(|e| e.fqn.to_string()));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "hive",
            "hive.db",
            "hive.db.s",
            "hive.db.s.a",
            "hive.db.s.a.x",
            "hive.db.s.a.y"
        ]
    );
    let edges = store.scan_edges(None, 10).await.unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(
        store.edges_by_id(&[edges[0].id]).await.unwrap()[0]
            .to
            .as_str(),
        "hive.db.s.a.y"
    );
    let deleted = store.entities_by_id(&[edges[0].from_id]).await.unwrap();
    assert_eq!(deleted[0].fqn.as_str(), "hive.db.s.a.x");
    let b = store
        .scan_entities(None, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.name == "b");
    assert!(b.is_none(), "soft-deleted entities are not scanned");
}

/// Expands to one `#[tokio::test]` per suite function, each on a fresh store from `$open`.
#[macro_export]
macro_rules! conformance_suite {
    ($open:path) => {
        $crate::conformance_suite!(@tests $open;
            ready_after_open,
            table_put_creates_implied_parents_and_columns,
            repeated_put_writes_nothing,
            columns_left_out_are_soft_deleted_and_come_back,
            changed_column_is_updated_and_logged,
            missing_service_and_unknown_owner_write_nothing,
            an_fqn_keeps_its_kind,
            models_with_features_and_owners,
            listing_pages_by_fqn_within_a_prefix,
            deleting_a_table_deletes_its_columns,
            service_connections_keep_secrets,
            edges_upsert_by_key_and_validate_endpoints,
            tokens_are_found_by_hash_and_revoked,
            teams_round_trip,
            twenty_thousand_columns_in_one_write,
            scans_page_through_live_entities_and_all_edges,
        );
    };
    (@tests $open:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(scratch) = $open().await else { return };
                conformance::$name(scratch.store.as_ref()).await;
            }
        )*
    };
}
