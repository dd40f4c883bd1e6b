//! The store conformance suite: every test runs against each backend through
//! `conformance_suite!`, so SQLite and PostgreSQL are held to the same behaviour.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tributary_catalog::{
    ColumnMapping, ConnectionConfig, EdgeDraft, EdgeKey, EntityDraft, EntityKind, Fqn, Role,
    TeamDraft,
};
use tributary_store::{
    DeliveryOutcome, DeliveryStatus, EntityTree, ExpectedEntity, Incident, IncidentStatus,
    ListQuery, NewDelivery, NewIncident, NewToken, RunCounts, RunOutcome, RunStatus, RunTrigger,
    Severity, SnapshotWrite, Store, StoreError,
};
use uuid::Uuid;

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

/// An incident on the table at `root` touching `touched`, with one delivery per team.
fn new_incident(
    root: &tributary_store::TreeWritten,
    touched: Vec<Uuid>,
    teams: &[&str],
) -> NewIncident {
    NewIncident {
        id: Uuid::now_v7(),
        entity_id: root.root.id,
        fqn: root.root.fqn.to_string(),
        title: format!("{} is late", root.root.fqn),
        description: Some("the nightly load did not finish".into()),
        severity: Severity::High,
        snapshot: json!({"root": root.root.fqn, "affected": touched.len(), "tiers": [1, 2]}),
        touched,
        deliveries: teams
            .iter()
            .map(|team| NewDelivery {
                team: (*team).into(),
                url: format!("http://127.0.0.1:9/{team}"),
                payload: json!({"team": team, "text": "héllo \u{1F30A}"}),
            })
            .collect(),
    }
}

/// A table and an open incident on it with two deliveries, for the delivery tests.
async fn incident_with_deliveries(store: &dyn Store) -> Incident {
    service(store, "hive").await;
    let root = table(store, "hive.db.s.t", &["a"]).await;
    store
        .open_incident("alice", new_incident(&root, vec![], &["growth", "risk"]))
        .await
        .unwrap()
}

/// `at` cut to whole milliseconds, which both backends store exactly.
fn millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap()
}

pub async fn incidents_open_with_touched_entities_and_deliveries(store: &dyn Store) {
    service(store, "hive").await;
    let root = table(store, "hive.db.s.t", &["a", "b"]).await;
    // Enough columns downstream that the touched set spans several insert batches.
    let names: Vec<String> = (0..2500).map(|i| format!("c{i:04}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let wide = table(store, "hive.db.s.wide", &refs).await;
    let untouched = table(store, "hive.db.s.other", &["x"]).await;
    let columns = store.children(wide.root.id).await.unwrap();
    let mut touched: Vec<Uuid> = columns.iter().map(|c| c.id).collect();
    touched.push(wide.root.id);
    touched.push(columns[0].id); // a repeat is ignored
    let before = log_len(store).await;

    let incident = store
        .open_incident("alice", new_incident(&root, touched, &["growth", "risk"]))
        .await
        .unwrap();
    assert_eq!(incident.status, IncidentStatus::Open);
    assert_eq!(incident.severity, Severity::High);
    assert_eq!(incident.fqn, "hive.db.s.t");
    assert_eq!(incident.opened_by, "alice");
    assert_eq!(incident.snapshot["tiers"], json!([1, 2]));
    assert!(incident.acknowledged_at.is_none() && incident.resolved_at.is_none());
    assert_eq!(store.get_incident(incident.id).await.unwrap(), incident);

    for entity in [root.root.id, wide.root.id, columns[2499].id] {
        let active = store.active_incidents_touching(entity).await.unwrap();
        assert_eq!(active.len(), 1, "{entity} is touched");
        assert_eq!(active[0].id, incident.id);
        assert_eq!(active[0].title, "hive.db.s.t is late");
        assert_eq!(active[0].fqn, "hive.db.s.t");
    }
    assert!(
        store
            .active_incidents_touching(untouched.root.id)
            .await
            .unwrap()
            .is_empty()
    );

    let deliveries = store.deliveries_of(incident.id).await.unwrap();
    assert_eq!(
        deliveries
            .iter()
            .map(|d| d.team.as_str())
            .collect::<Vec<_>>(),
        ["growth", "risk"]
    );
    for d in &deliveries {
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.attempts, 0);
        assert_eq!(d.incident_id, incident.id);
        assert!(d.next_attempt_at <= Utc::now(), "due at once");
        assert_eq!(d.payload["text"], "héllo \u{1F30A}");
    }
    assert_eq!(deliveries[1].url, "http://127.0.0.1:9/risk");

    let changes = store.changes_after(before, 10).await.unwrap();
    assert_eq!(
        changes.len(),
        1,
        "one change-log row for the whole incident"
    );
    assert_eq!(changes[0].op, "incident.opened");
    assert_eq!(changes[0].actor, "alice");
    assert_eq!(changes[0].entity_id, Some(root.root.id));
    assert_eq!(changes[0].fqn.as_deref(), Some("hive.db.s.t"));
    assert_eq!(
        changes[0].detail,
        json!({"incident_id": incident.id, "severity": "high"})
    );
}

pub async fn incidents_on_unknown_entities_write_nothing(store: &dyn Store) {
    service(store, "hive").await;
    let root = table(store, "hive.db.s.t", &["a"]).await;
    let before = log_len(store).await;
    let ghost = Uuid::now_v7();
    match store
        .open_incident("alice", new_incident(&root, vec![ghost], &["growth"]))
        .await
    {
        Err(StoreError::References(problems)) => {
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].reference, ghost.to_string());
        }
        other => panic!("expected a reference problem, got {other:?}"),
    }
    let mut no_root = new_incident(&root, vec![], &[]);
    no_root.entity_id = ghost;
    let err = store.open_incident("alice", no_root).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "entity", .. }),
        "{err:?}"
    );
    assert_eq!(log_len(store).await, before);
    assert!(store.list_incidents(None, 10).await.unwrap().is_empty());
    assert!(
        store
            .active_incidents_touching(root.root.id)
            .await
            .unwrap()
            .is_empty()
    );
    let missing = store.get_incident(ghost).await.unwrap_err();
    assert!(
        matches!(
            missing,
            StoreError::NotFound {
                kind: "incident",
                ..
            }
        ),
        "{missing:?}"
    );
}

pub async fn incident_status_moves_forward_only(store: &dyn Store) {
    service(store, "hive").await;
    let root = table(store, "hive.db.s.t", &["a"]).await;
    let column = store.children(root.root.id).await.unwrap()[0].id;
    let first = store
        .open_incident("alice", new_incident(&root, vec![column], &[]))
        .await
        .unwrap();
    let mut second = new_incident(&root, vec![], &[]);
    second.severity = Severity::Critical;
    let second = store.open_incident("alice", second).await.unwrap();
    let before = log_len(store).await;

    let acked = store.acknowledge_incident("bob", first.id).await.unwrap();
    assert_eq!(acked.status, IncidentStatus::Acknowledged);
    assert_eq!(acked.acknowledged_by.as_deref(), Some("bob"));
    assert!(acked.acknowledged_at.is_some());
    let active = store.active_incidents_touching(column).await.unwrap();
    assert_eq!(active.len(), 1, "an acknowledged incident is still active");
    assert_eq!(active[0].status, IncidentStatus::Acknowledged);

    let again = store.acknowledge_incident("carol", first.id).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );

    let resolved = store.resolve_incident("carol", first.id).await.unwrap();
    assert_eq!(resolved.status, IncidentStatus::Resolved);
    assert_eq!(resolved.resolved_by.as_deref(), Some("carol"));
    assert_eq!(
        resolved.acknowledged_by.as_deref(),
        Some("bob"),
        "resolving keeps who acknowledged"
    );
    assert!(
        store
            .active_incidents_touching(column)
            .await
            .unwrap()
            .is_empty()
    );
    match store.resolve_incident("dave", first.id).await {
        Err(StoreError::Conflict { key, reason }) => {
            assert_eq!(key, first.id.to_string());
            assert!(reason.contains("already resolved by carol"), "{reason}");
        }
        other => panic!("resolving twice must conflict, got {other:?}"),
    }
    let late_ack = store.acknowledge_incident("dave", first.id).await;
    assert!(
        matches!(late_ack, Err(StoreError::Conflict { .. })),
        "{late_ack:?}"
    );

    let direct = store.resolve_incident("bob", second.id).await.unwrap();
    assert_eq!(direct.status, IncidentStatus::Resolved);
    assert!(direct.acknowledged_at.is_none());
    let unknown = store.resolve_incident("bob", Uuid::now_v7()).await;
    assert!(matches!(
        unknown,
        Err(StoreError::NotFound {
            kind: "incident",
            ..
        })
    ));

    let changes = store.changes_after(before, 10).await.unwrap();
    let ops: Vec<_> = changes
        .iter()
        .map(|c| (c.op.as_str(), c.actor.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("incident.acknowledged", "bob"),
            ("incident.resolved", "carol"),
            ("incident.resolved", "bob"),
        ],
        "refused moves leave no rows"
    );
    assert_eq!(changes[0].detail["incident_id"], json!(first.id));
    assert_eq!(changes[0].entity_id, Some(root.root.id));

    let third = store
        .open_incident("alice", new_incident(&root, vec![], &[]))
        .await
        .unwrap();
    let all = store.list_incidents(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|i| i.id).collect::<Vec<_>>(),
        [third.id, second.id, first.id],
        "newest first"
    );
    let open = store
        .list_incidents(Some(IncidentStatus::Open), 10)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, third.id);
    assert_eq!(store.list_incidents(None, 2).await.unwrap().len(), 2);
}

pub async fn claimed_deliveries_come_back_when_the_lease_runs_out(store: &dyn Store) {
    let incident = incident_with_deliveries(store).await;
    let queued = store.deliveries_of(incident.id).await.unwrap();
    let before = log_len(store).await;
    let lease = Duration::from_secs(60);
    let early = queued[0].created_at - chrono::Duration::seconds(1);
    assert!(
        store
            .claim_due_deliveries(early, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing is due before it was queued"
    );

    let now = millis(Utc::now()) + chrono::Duration::seconds(1);
    let one = store.claim_due_deliveries(now, lease, 1).await.unwrap();
    assert_eq!(one.len(), 1, "the limit holds");
    let rest = store.claim_due_deliveries(now, lease, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(
        one[0].id, rest[0].id,
        "a claimed delivery is not claimed twice"
    );
    assert_eq!(one[0].next_attempt_at, now + chrono::Duration::seconds(60));
    assert_eq!(one[0].status, DeliveryStatus::Pending);
    assert_eq!(one[0].payload["team"], "growth");

    let within = now + chrono::Duration::seconds(59);
    assert!(
        store
            .claim_due_deliveries(within, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "not while the lease lasts"
    );
    let after = now + chrono::Duration::seconds(61);
    let back = store.claim_due_deliveries(after, lease, 10).await.unwrap();
    assert_eq!(
        back.iter().map(|d| d.id).collect::<Vec<_>>(),
        queued.iter().map(|d| d.id).collect::<Vec<_>>(),
        "both come back after the lease, in queue order"
    );
    assert!(back.iter().all(|d| d.attempts == 0));
    assert_eq!(log_len(store).await, before, "claims are not logged");
}

pub async fn delivery_attempts_retry_then_deliver_or_give_up(store: &dyn Store) {
    let incident = incident_with_deliveries(store).await;
    let queued = store.deliveries_of(incident.id).await.unwrap();
    let (healthy, broken) = (queued[0].id, queued[1].id);
    let before = log_len(store).await;
    let retry_at = millis(Utc::now()) + chrono::Duration::seconds(30);

    let failed = store
        .record_delivery_attempt(
            healthy,
            DeliveryOutcome::Failed {
                error: "HTTP 500: boom".into(),
                status_code: Some(500),
                retry_at: Some(retry_at),
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.status, DeliveryStatus::Pending);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("HTTP 500: boom"));
    assert_eq!(failed.last_status_code, Some(500));
    assert_eq!(failed.next_attempt_at, retry_at);
    let early = retry_at - chrono::Duration::milliseconds(1);
    let due_early = store
        .claim_due_deliveries(early, Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert!(
        due_early.iter().all(|d| d.id != healthy),
        "not due before its retry time"
    );
    let due = store
        .claim_due_deliveries(retry_at, Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert!(due.iter().any(|d| d.id == healthy), "due at its retry time");

    let delivered = store
        .record_delivery_attempt(healthy, DeliveryOutcome::Delivered { status_code: 204 })
        .await
        .unwrap();
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert_eq!(delivered.attempts, 2);
    assert_eq!(delivered.last_status_code, Some(204));
    assert!(delivered.delivered_at.is_some());
    assert_eq!(
        delivered.last_error.as_deref(),
        Some("HTTP 500: boom"),
        "the earlier failure stays readable"
    );
    let twice = store
        .record_delivery_attempt(healthy, DeliveryOutcome::Delivered { status_code: 200 })
        .await;
    assert!(
        matches!(twice, Err(StoreError::Conflict { .. })),
        "{twice:?}"
    );

    let gave_up = store
        .record_delivery_attempt(
            broken,
            DeliveryOutcome::Failed {
                error: "timed out after 5s".into(),
                status_code: None,
                retry_at: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(gave_up.status, DeliveryStatus::Failed);
    assert_eq!(gave_up.attempts, 1);
    assert_eq!(gave_up.last_status_code, None);
    assert!(gave_up.delivered_at.is_none());
    let far = Utc::now() + chrono::Duration::days(1);
    assert!(
        store
            .claim_due_deliveries(far, Duration::from_secs(60), 10)
            .await
            .unwrap()
            .is_empty(),
        "delivered and failed deliveries are never claimed"
    );
    assert_eq!(
        store
            .deliveries_of(incident.id)
            .await
            .unwrap()
            .iter()
            .map(|d| d.status)
            .collect::<Vec<_>>(),
        [DeliveryStatus::Delivered, DeliveryStatus::Failed]
    );
    let unknown = store
        .record_delivery_attempt(
            Uuid::now_v7(),
            DeliveryOutcome::Delivered { status_code: 200 },
        )
        .await;
    assert!(matches!(
        unknown,
        Err(StoreError::NotFound {
            kind: "delivery",
            ..
        })
    ));
    assert_eq!(
        log_len(store).await,
        before,
        "delivery bookkeeping is not logged"
    );
}

fn doc_edge(from: &str, to: &str, source: &str) -> EdgeDraft {
    EdgeDraft {
        key: EdgeKey {
            from: fqn(from),
            to: fqn(to),
            source: source.into(),
        },
        columns: vec![],
        transform: None,
    }
}

fn doc_model(features: &[&str], source: &str) -> EntityTree {
    let mut root = draft(EntityKind::MlModel, "ml.churn");
    root.source = source.into();
    EntityTree {
        root,
        children: Some(
            features
                .iter()
                .map(|f| {
                    let mut d = draft(EntityKind::Feature, &format!("ml.churn.{f}"));
                    d.source = source.into();
                    d
                })
                .collect(),
        ),
    }
}

pub async fn lineage_documents_replace_their_own_edges_only(store: &dyn Store) {
    service(store, "hive").await;
    service(store, "ml").await;
    table(store, "hive.d.s.t", &["a", "b"]).await;
    let src = "yaml:churn";
    // Another source's edge into the same feature must survive every document push.
    store
        .put_entity_tree("test", doc_model(&["fa", "fb"], src))
        .await
        .unwrap();
    store
        .put_edges(
            "test",
            vec![doc_edge("hive.d.s.t.b", "ml.churn.fa", "om:other")],
        )
        .await
        .unwrap();
    let write =
        |features: &[&str], edges: Vec<EdgeDraft>, dry_run: bool| tributary_store::DocumentWrite {
            source: src.into(),
            models: vec![doc_model(features, src)],
            tables_to_create: vec![EntityTree {
                root: draft(EntityKind::Table, "hive.d.s.created"),
                children: Some(vec![column("hive.d.s.created", "x", "int")]),
            }],
            edges,
            expected: vec![ExpectedEntity {
                fqn: "hive.d.s.t.a".into(),
                kinds: &[EntityKind::Column],
            }],
            dry_run,
        };
    let both = || {
        vec![
            doc_edge("hive.d.s.t.a", "ml.churn.fa", src),
            doc_edge("hive.d.s.t.b", "ml.churn.fb", src),
        ]
    };

    // A dry run reports and writes nothing.
    let before = log_len(store).await;
    let dry = store
        .apply_lineage_document("ci", write(&["fa", "fb"], both(), true))
        .await
        .unwrap();
    assert!(dry.changes.iter().any(|c| c.op == "edge.created"));
    assert!(dry.committed.is_none());
    assert_eq!(log_len(store).await, before);
    assert!(store.get_entity(&fqn("hive.d.s.created")).await.is_err());

    let first = store
        .apply_lineage_document("ci", write(&["fa", "fb"], both(), false))
        .await
        .unwrap();
    let ops: Vec<&str> = first.changes.iter().map(|c| c.op).collect();
    assert_eq!(
        ops.iter().filter(|o| **o == "edge.created").count(),
        2,
        "{ops:?}"
    );
    assert!(
        first
            .changes
            .iter()
            .any(|c| c.fqn.as_deref() == Some("hive.d.s.created"))
    );
    // What was committed, for in-memory views: its place in the log and its state.
    let committed = first.committed.as_ref().unwrap();
    assert_eq!(committed.last_seq, log_len(store).await);
    // Every row in (after, last] is this write's (PostgreSQL's sequence may leave gaps).
    let logged = store
        .changes_after(committed.after_seq, 1_000)
        .await
        .unwrap();
    assert_eq!(logged.len(), first.changes.len());
    assert_eq!(logged.last().unwrap().seq, committed.last_seq);
    assert_eq!(committed.edges.len(), 2);
    let (root, children) = &committed.trees[0];
    assert_eq!(root.fqn.as_str(), "ml.churn");
    let mut names: Vec<&str> = children.iter().map(|c| c.fqn.as_str()).collect();
    names.sort();
    assert_eq!(names, ["ml.churn.fa", "ml.churn.fb"]);
    assert!(committed.ids.contains_key("hive.d.s.t.a"));

    // The same document again: nothing written.
    let again = store
        .apply_lineage_document("ci", write(&["fa", "fb"], both(), false))
        .await
        .unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(again.edges_unchanged, 2);
    let committed = again.committed.as_ref().unwrap();
    assert_eq!(committed.after_seq, committed.last_seq);

    // A feature dropped: its feature and its edge go; the other source's edge stays.
    let dropped = store
        .apply_lineage_document(
            "ci",
            write(
                &["fa"],
                vec![doc_edge("hive.d.s.t.a", "ml.churn.fa", src)],
                false,
            ),
        )
        .await
        .unwrap();
    let ops: Vec<(&str, Option<&str>)> = dropped
        .changes
        .iter()
        .map(|c| (c.op, c.fqn.as_deref()))
        .collect();
    assert!(
        ops.contains(&("entity.deleted", Some("ml.churn.fb"))),
        "{ops:?}"
    );
    assert!(ops.contains(&("edge.deleted", None)), "{ops:?}");
    let feature = store.get_entity(&fqn("ml.churn.fa")).await.unwrap();
    let (upstream, _) = store.edges_of(feature.id, 10).await.unwrap();
    let mut sources: Vec<&str> = upstream.iter().map(|e| e.source.as_str()).collect();
    sources.sort();
    assert_eq!(sources, ["om:other", src]);

    // Invalid edges roll the whole document back.
    let before = log_len(store).await;
    let err = store
        .apply_lineage_document(
            "ci",
            write(
                &["fa", "fc"],
                vec![doc_edge("hive.d.s.t.zzz", "ml.churn.fa", src)],
                false,
            ),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::References(_)), "{err}");
    assert_eq!(log_len(store).await, before);
    assert!(store.get_entity(&fqn("ml.churn.fc")).await.is_err());

    // A reference to the wrong kind of entity (a table where a column is expected) too.
    let mut wrong_kind = write(&["fa", "fc"], both(), false);
    wrong_kind.expected = vec![ExpectedEntity {
        fqn: "hive.d.s.t".into(),
        kinds: &[EntityKind::Column],
    }];
    let err = store
        .apply_lineage_document("ci", wrong_kind)
        .await
        .unwrap_err();
    let StoreError::References(problems) = err else {
        panic!("{err}")
    };
    assert_eq!(problems[0].reference, "hive.d.s.t");
    assert_eq!(problems[0].problem, "is a table");
    assert_eq!(log_len(store).await, before);
    assert!(store.get_entity(&fqn("ml.churn.fc")).await.is_err());
}

async fn service_id(store: &dyn Store, name: &str) -> Uuid {
    service(store, name).await;
    store.get_entity(&fqn(name)).await.unwrap().id
}

pub async fn ingestion_leases_exclude_other_replicas_until_they_run_out(store: &dyn Store) {
    let hive = service_id(store, "hive").await;
    let t0 = Utc::now();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    let ttl = Duration::from_secs(60);
    let lease =
        |holder: &'static str, s: i64| store.acquire_ingestion_lease(hive, holder, at(s), ttl);
    assert!(lease("a", 0).await.unwrap(), "a free lease is taken");
    assert!(!lease("b", 10).await.unwrap(), "a live lease is not shared");
    assert!(
        lease("a", 30).await.unwrap(),
        "the holder renews (now to 90 s)"
    );
    assert!(!lease("b", 80).await.unwrap(), "the renewal counts");
    assert!(
        lease("b", 91).await.unwrap(),
        "a lease that ran out is taken over"
    );
    assert!(!lease("a", 92).await.unwrap(), "the old holder has lost it");
    store.release_ingestion_lease(hive, "a").await.unwrap();
    assert!(
        !lease("a", 93).await.unwrap(),
        "only the holder can release"
    );
    store.release_ingestion_lease(hive, "b").await.unwrap();
    assert!(lease("a", 94).await.unwrap(), "a released lease is free");
    // Leases are per service.
    let mlflow = service_id(store, "mlflow").await;
    assert!(
        store
            .acquire_ingestion_lease(mlflow, "b", at(95), ttl)
            .await
            .unwrap()
    );

    // Replicas asking at the same moment: exactly one gets a free lease.
    let ch = service_id(store, "ch").await;
    let ask = |holder: &'static str| store.acquire_ingestion_lease(ch, holder, at(0), ttl);
    let (r1, r2, r3, r4) = tokio::join!(ask("r1"), ask("r2"), ask("r3"), ask("r4"));
    let won = [r1, r2, r3, r4]
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(won, 1);
}

pub async fn ingestion_runs_record_their_outcome_newest_first(store: &dyn Store) {
    let hive = service_id(store, "hive").await;
    let before = log_len(store).await;
    let t0 = Utc::now();
    let lease = Duration::from_secs(60);
    assert!(
        store
            .acquire_ingestion_lease(hive, "replica-1", t0, lease)
            .await
            .unwrap()
    );
    let first = store
        .start_ingestion_run(hive, RunTrigger::Schedule, "replica-1", t0, Some(t0))
        .await
        .unwrap();
    assert_eq!(first.status, RunStatus::Running);
    assert_eq!(first.finished_at, None);
    let failed = store
        .finish_ingestion_run(
            first.id,
            RunOutcome {
                status: RunStatus::Failed,
                counts: RunCounts::default(),
                warnings: vec![],
                error: Some("cannot reach http://mlflow:5000: connection refused".into()),
            },
            t0 + chrono::Duration::seconds(2),
        )
        .await
        .unwrap();
    assert_eq!(failed.status, RunStatus::Failed);
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("connection refused")
    );
    assert!(failed.finished_at.is_some());
    assert!(
        store
            .acquire_ingestion_lease(hive, "replica-2", t0 + chrono::Duration::seconds(3), lease)
            .await
            .unwrap(),
        "a finished run gives its lease up"
    );

    let second = store
        .start_ingestion_run(
            hive,
            RunTrigger::Manual,
            "replica-2",
            t0 + chrono::Duration::seconds(60),
            None,
        )
        .await
        .unwrap();
    let counts = RunCounts {
        entities_created: 12,
        entities_updated: 1,
        entities_deleted: 2,
        edges_added: 7,
        edges_updated: 0,
        edges_removed: 0,
    };
    store
        .finish_ingestion_run(
            second.id,
            RunOutcome {
                status: RunStatus::Succeeded,
                counts,
                warnings: vec!["model churn has no signature".into()],
                error: None,
            },
            t0 + chrono::Duration::seconds(61),
        )
        .await
        .unwrap();

    let runs = store.ingestion_runs(hive, 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, second.id, "newest first");
    assert_eq!(runs[0].counts, counts);
    assert_eq!(runs[0].warnings, ["model churn has no signature"]);
    assert_eq!(runs[0].trigger, RunTrigger::Manual);
    assert_eq!(runs[1].id, first.id);
    assert_eq!(store.ingestion_runs(hive, 1).await.unwrap().len(), 1);
    let recent = store.recent_ingestion_runs(10).await.unwrap();
    let ids: Vec<Uuid> = recent.iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        [second.id, first.id],
        "every service's runs, newest first"
    );
    assert_eq!(store.recent_ingestion_runs(1).await.unwrap().len(), 1);
    // Operational records: the catalog's change log is untouched.
    assert_eq!(log_len(store).await, before);

    // Unknown service or run: not found, nothing written.
    let err = store
        .start_ingestion_run(Uuid::now_v7(), RunTrigger::Cli, "x", t0, None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let err = store
        .finish_ingestion_run(
            Uuid::now_v7(),
            RunOutcome {
                status: RunStatus::Succeeded,
                counts: RunCounts::default(),
                warnings: vec![],
                error: None,
            },
            t0,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

pub async fn concurrent_claims_never_share_a_delivery(store: &dyn Store) {
    service(store, "hive").await;
    let root = table(store, "hive.db.s.t", &["a"]).await;
    let teams: Vec<String> = (0..30).map(|i| format!("team{i:02}")).collect();
    let teams: Vec<&str> = teams.iter().map(String::as_str).collect();
    store
        .open_incident("alice", new_incident(&root, vec![], &teams))
        .await
        .unwrap();
    let now = Utc::now() + chrono::Duration::seconds(1);
    let lease = Duration::from_secs(60);
    let claim = || store.claim_due_deliveries(now, lease, 8);
    let (a, b, c, d, e) = tokio::join!(claim(), claim(), claim(), claim(), claim());
    let mut ids: Vec<Uuid> = [a, b, c, d, e]
        .into_iter()
        .flat_map(|batch| batch.unwrap())
        .map(|d| d.id)
        .collect();
    assert_eq!(ids.len(), 30, "every due delivery is claimed once");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 30, "no delivery is claimed twice");
}

/// Expands to one `#[tokio::test]` per suite function, each on a fresh store from `$open`.
pub async fn a_run_left_running_is_marked_abandoned_by_the_next(store: &dyn Store) {
    let hive = service_id(store, "hive").await;
    let t0 = Utc::now();
    // Cron slots are whole minutes (and PostgreSQL keeps microseconds only).
    let slot = DateTime::from_timestamp(t0.timestamp() / 60 * 60 - 300, 0).unwrap();
    let left = store
        .start_ingestion_run(hive, RunTrigger::Schedule, "crashed", t0, Some(slot))
        .await
        .unwrap();
    assert_eq!(store.last_scheduled_slot(hive).await.unwrap(), Some(slot));
    let next = store
        .start_ingestion_run(hive, RunTrigger::Manual, "replica-2", t0, None)
        .await
        .unwrap();
    let runs = store.ingestion_runs(hive, 10).await.unwrap();
    let old = runs.iter().find(|r| r.id == left.id).unwrap();
    assert_eq!(old.status, RunStatus::Failed);
    assert!(old.error.as_deref().unwrap().contains("abandoned"));
    let new = runs.iter().find(|r| r.id == next.id).unwrap();
    assert_eq!(new.status, RunStatus::Running);
    // A manual run serves no slot: the last slot stays.
    assert_eq!(store.last_scheduled_slot(hive).await.unwrap(), Some(slot));
    // The same, for every service at once (a service never scheduled is absent).
    let mlflow = service_id(store, "mlflow").await;
    let later = slot + chrono::Duration::hours(1);
    store
        .start_ingestion_run(mlflow, RunTrigger::Schedule, "r", t0, Some(slot))
        .await
        .unwrap();
    store
        .start_ingestion_run(mlflow, RunTrigger::Schedule, "r", t0, Some(later))
        .await
        .unwrap();
    let slots = store.last_scheduled_slots().await.unwrap();
    assert_eq!(slots.len(), 2, "{slots:?}");
    assert_eq!(slots[&hive], slot);
    assert_eq!(slots[&mlflow], later);
}

fn snapshot_model(model: &str, features: &[&str]) -> EntityTree {
    EntityTree {
        root: draft(EntityKind::MlModel, model),
        children: Some(
            features
                .iter()
                .map(|f| draft(EntityKind::Feature, &format!("{model}.{f}")))
                .collect(),
        ),
    }
}

fn feed(from: &str, to: &str) -> EdgeDraft {
    EdgeDraft {
        key: EdgeKey {
            from: fqn(from),
            to: fqn(to),
            source: "ignored: the batch's source wins".into(),
        },
        columns: vec![],
        transform: None,
    }
}

async fn start_run(store: &dyn Store, service: Uuid) -> Uuid {
    store
        .start_ingestion_run(service, RunTrigger::Manual, "test", Utc::now(), None)
        .await
        .unwrap()
        .id
}

pub async fn reconciled_snapshots_write_once_and_skip_missing_columns(store: &dyn Store) {
    service(store, "hive").await;
    table(store, "hive.dwh.marts.daily", &["avg_check", "tenure"]).await;
    let mlflow = service_id(store, "mlflow").await;
    let batch = |run| SnapshotWrite {
        run_id: run,
        service: fqn("mlflow"),
        source: "mlflow:mlflow".into(),
        trees: vec![snapshot_model(
            "mlflow.churn",
            &["avg_check", "tenure", "region"],
        )],
        edges: vec![
            feed("hive.dwh.marts.daily.avg_check", "mlflow.churn.avg_check"),
            feed("hive.dwh.marts.daily.tenure", "mlflow.churn.tenure"),
            feed("hive.dwh.marts.daily.region", "mlflow.churn.region"),
        ],
    };
    let run = start_run(store, mlflow).await;
    let first = store.reconcile_batch("mlflow", batch(run)).await.unwrap();
    assert_eq!(
        first.counts.entities_created, 4,
        "the model and its features"
    );
    assert_eq!(first.counts.edges_added, 2);
    assert_eq!(first.skipped_edges.len(), 1, "{:?}", first.skipped_edges);
    assert_eq!(
        first.skipped_edges[0].reference,
        "hive.dwh.marts.daily.region"
    );
    assert!(first.skipped_edges[0].problem.contains("does not exist"));
    let model = store.get_entity(&fqn("mlflow.churn")).await.unwrap();
    assert_eq!(model.source, "mlflow:mlflow");
    let (incoming, _) = store
        .edges_of(
            store
                .get_entity(&fqn("mlflow.churn.tenure"))
                .await
                .unwrap()
                .id,
            10,
        )
        .await
        .unwrap();
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].source, "mlflow:mlflow");
    let swept = store
        .sweep_unseen("mlflow", run, &fqn("mlflow"), "mlflow:mlflow", 100)
        .await
        .unwrap();
    assert!(swept.is_empty(), "the run saw all it wrote: {swept:?}");

    // The next run reports the same: nothing written, nothing logged, nothing swept.
    let log = log_len(store).await;
    let run = start_run(store, mlflow).await;
    let again = store.reconcile_batch("mlflow", batch(run)).await.unwrap();
    assert!(again.counts.is_empty(), "{:?}", again.counts);
    let swept = store
        .sweep_unseen("mlflow", run, &fqn("mlflow"), "mlflow:mlflow", 100)
        .await
        .unwrap();
    assert!(swept.is_empty(), "{swept:?}");
    assert_eq!(log_len(store).await, log);

    // A tree outside the service is refused, and nothing of the batch is written.
    let mut outside = batch(run);
    outside.trees.push(snapshot_model("other.model", &["x"]));
    let err = store.reconcile_batch("mlflow", outside).await.unwrap_err();
    assert!(matches!(err, StoreError::References(_)), "{err}");
    assert_eq!(log_len(store).await, log);
}

pub async fn the_sweep_takes_what_the_run_did_not_see_and_nothing_else(store: &dyn Store) {
    service(store, "hive").await;
    table(store, "hive.dwh.marts.daily", &["a", "b"]).await;
    let mlflow = service_id(store, "mlflow").await;
    let batch = |run, trees: Vec<EntityTree>, edges: Vec<EdgeDraft>| SnapshotWrite {
        run_id: run,
        service: fqn("mlflow"),
        source: "mlflow:mlflow".into(),
        trees,
        edges,
    };
    let run = start_run(store, mlflow).await;
    store
        .reconcile_batch(
            "mlflow",
            batch(
                run,
                vec![
                    snapshot_model("mlflow.churn", &["a"]),
                    snapshot_model("mlflow.fraud", &["b"]),
                ],
                vec![
                    feed("hive.dwh.marts.daily.a", "mlflow.churn.a"),
                    feed("hive.dwh.marts.daily.b", "mlflow.fraud.b"),
                ],
            ),
        )
        .await
        .unwrap();
    // Someone else's entity under the service, and someone else's edge onto churn.
    store
        .put_entity_tree(
            "api",
            EntityTree {
                root: draft(EntityKind::MlModel, "mlflow.hand_made"),
                children: None,
            },
        )
        .await
        .unwrap();
    store
        .put_edges(
            "api",
            vec![EdgeDraft {
                key: EdgeKey {
                    from: fqn("hive.dwh.marts.daily.b"),
                    to: fqn("mlflow.churn.a"),
                    source: "api".into(),
                },
                columns: vec![],
                transform: None,
            }],
        )
        .await
        .unwrap();

    // The next run sees churn only, in two batches (model first, its edge after).
    let run = start_run(store, mlflow).await;
    store
        .reconcile_batch(
            "mlflow",
            batch(run, vec![snapshot_model("mlflow.churn", &["a"])], vec![]),
        )
        .await
        .unwrap();
    store
        .reconcile_batch(
            "mlflow",
            batch(
                run,
                vec![],
                vec![feed("hive.dwh.marts.daily.a", "mlflow.churn.a")],
            ),
        )
        .await
        .unwrap();
    // One entity per sweep call: bounded batches, called until empty.
    let mut total = RunCounts::default();
    let mut calls = 0;
    loop {
        let counts = store
            .sweep_unseen("mlflow", run, &fqn("mlflow"), "mlflow:mlflow", 1)
            .await
            .unwrap();
        calls += 1;
        if counts.is_empty() {
            break;
        }
        total.add(counts);
    }
    assert!(calls >= 2);
    assert_eq!(
        total.entities_deleted, 2,
        "fraud and its feature: {total:?}"
    );
    assert_eq!(total.edges_removed, 1, "fraud's edge: {total:?}");
    for gone in ["mlflow.fraud", "mlflow.fraud.b"] {
        let err = store.get_entity(&fqn(gone)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{gone}: {err}");
    }
    for kept in ["mlflow.churn", "mlflow.churn.a", "mlflow.hand_made"] {
        store.get_entity(&fqn(kept)).await.unwrap();
    }
    let churn_a = store.get_entity(&fqn("mlflow.churn.a")).await.unwrap().id;
    let (incoming, _) = store.edges_of(churn_a, 10).await.unwrap();
    let mut sources: Vec<&str> = incoming.iter().map(|e| e.source.as_str()).collect();
    sources.sort_unstable();
    assert_eq!(
        sources,
        ["api", "mlflow:mlflow"],
        "the api edge is untouched"
    );
}

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
            incidents_open_with_touched_entities_and_deliveries,
            incidents_on_unknown_entities_write_nothing,
            incident_status_moves_forward_only,
            claimed_deliveries_come_back_when_the_lease_runs_out,
            delivery_attempts_retry_then_deliver_or_give_up,
            concurrent_claims_never_share_a_delivery,
            lineage_documents_replace_their_own_edges_only,
            ingestion_leases_exclude_other_replicas_until_they_run_out,
            ingestion_runs_record_their_outcome_newest_first,
            a_run_left_running_is_marked_abandoned_by_the_next,
            reconciled_snapshots_write_once_and_skip_missing_columns,
            the_sweep_takes_what_the_run_did_not_see_and_nothing_else,
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
