//! Lineage reads and impact on catalogs built through the API.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::harness::{TestApp, code, table};

/// hive: raw.events(user_id, amount) → mart.daily(user_id, spend) with a column mapping;
/// mart.daily.spend → ml.churn.spend_30d (feature); ml.churn → bi.board (dashboard).
pub async fn chain(app: &TestApp) {
    for (name, kind) in [("hive", "hive"), ("ml", "mlflow"), ("bi", "custom")] {
        let (s, _) = app
            .put(
                &format!("/api/v1/services/{name}"),
                &app.admin,
                json!({"service_type": kind}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    for team in ["growth", "bi-team"] {
        app.put(
            &format!("/api/v1/teams/{team}"),
            &app.admin,
            json!({"contact": format!("#{team}")}),
        )
        .await;
    }
    app.put(
        "/api/v1/tables",
        &app.editor,
        table("hive.d.raw.events", &["user_id", "amount"]),
    )
    .await;
    app.put(
        "/api/v1/tables",
        &app.editor,
        table("hive.d.mart.daily", &["user_id", "spend"]),
    )
    .await;
    let (s, body) = app
        .put(
            "/api/v1/models",
            &app.editor,
            json!({"fqn": "ml.churn", "owner": "growth",
            "features": [{"name": "spend_30d"}, {"name": "tenure"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let dashboard = tributary_catalog::EntityDraft {
        owner: Some("bi-team".into()),
        ..tributary_catalog::EntityDraft::bare(
            tributary_catalog::EntityKind::Dashboard,
            tributary_catalog::Fqn::parse("bi.board").unwrap(),
            "test",
        )
    };
    app.store()
        .put_entity_tree(
            "test",
            tributary_store::EntityTree {
                root: dashboard,
                children: None,
            },
        )
        .await
        .unwrap();
    let edges = json!({"edges": [
        {"from": "hive.d.raw.events", "to": "hive.d.mart.daily",
         "columns": [{"from": ["hive.d.raw.events.amount"], "to": "hive.d.mart.daily.spend", "function": "sum(amount)"}]},
        {"from": "hive.d.mart.daily.spend", "to": "ml.churn.spend_30d"},
        {"from": "ml.churn", "to": "bi.board"}]});
    let (s, body) = app.put("/api/v1/lineage/edges", &app.editor, edges).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

fn fqns(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["fqn"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn impact_follows_columns_features_and_models_to_teams(app: &TestApp) {
    chain(app).await;
    let (s, report) = app.get("/api/v1/impact?fqn=hive.d.raw.events.amount").await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["teams"][0]["team"], "bi-team");
    assert_eq!(report["teams"][0]["contact"], "#bi-team");
    assert_eq!(fqns(&report["teams"][0]["entities"]), ["bi.board"]);
    let model = &report["teams"][1]["entities"][0];
    assert_eq!(
        (model["fqn"].as_str(), model["distance"].as_u64()),
        (Some("ml.churn"), Some(3))
    );
    assert_eq!(
        model["path"],
        json!([
            "hive.d.raw.events.amount",
            "hive.d.mart.daily.spend",
            "ml.churn.spend_30d",
            "ml.churn"
        ])
    );
    assert_eq!(report["counts"]["feature"], 1);
    assert_eq!(report["total"], 2);

    let (_, other) = app
        .get("/api/v1/impact?fqn=hive.d.raw.events.user_id")
        .await;
    assert_eq!(
        other["total"], 0,
        "an unmapped column does not flow through a mapped edge"
    );
    let (_, whole) = app
        .get("/api/v1/impact?fqn=hive.d.raw&kinds=ml_model,table")
        .await;
    assert_eq!(
        whole["counts"]["table"], 2,
        "a broken schema breaks its tables and what they feed"
    );
    let (_, shallow) = app
        .get("/api/v1/impact?fqn=hive.d.raw.events.amount&depth=2&kinds=ml_model,feature")
        .await;
    assert_eq!(
        shallow["total"], 1,
        "the model is 3 hops away, only its feature is within 2"
    );
    assert_eq!(
        shallow["teams"][0]["entities"][0]["fqn"], "ml.churn.spend_30d",
        "features share the model's owner"
    );
    app.put(
        "/api/v1/models",
        &app.editor,
        json!({"fqn": "ml.orphan", "features": [{"name": "f"}]}),
    )
    .await;
    app.put(
        "/api/v1/lineage/edges",
        &app.editor,
        json!({"edges": [{"from": "hive.d.mart.daily.spend", "to": "ml.orphan.f"}]}),
    )
    .await;
    let (_, with_orphan) = app.get("/api/v1/impact?fqn=hive.d.raw.events.amount").await;
    assert_eq!(
        fqns(&with_orphan["unowned"]),
        ["ml.orphan"],
        "entities without an owner are listed as such"
    );
    let (s, err) = app.get("/api/v1/impact?fqn=hive.d.raw.nope").await;
    assert_eq!((s, code(&err)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, err) = app
        .get("/api/v1/impact?fqn=hive.d.raw.events&kinds=model")
        .await;
    assert_eq!((s, code(&err)), (StatusCode::BAD_REQUEST, "invalid_field"));
}

pub async fn impact_survives_cycles_and_skips_deleted(app: &TestApp) {
    chain(app).await;
    let (s, _) = app
        .put(
            "/api/v1/lineage/edges",
            &app.editor,
            json!({"edges": [{"from": "bi.board", "to": "hive.d.raw.events"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, cyc) = app
        .get("/api/v1/impact?fqn=ml.churn&kinds=ml_model,dashboard,table")
        .await;
    assert_eq!(s, StatusCode::OK);
    let hit: Vec<String> = cyc["teams"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| fqns(&t["entities"]))
        .chain(fqns(&cyc["unowned"]))
        .collect();
    assert!(hit.contains(&"hive.d.raw.events".to_owned()), "{hit:?}");
    assert!(
        !hit.contains(&"ml.churn".to_owned()),
        "the root is not its own hit"
    );

    let (s, _) = app
        .delete("/api/v1/tables/hive.d.mart.daily", &app.editor)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, cut) = app.get("/api/v1/impact?fqn=hive.d.raw.events.amount").await;
    assert_eq!(cut["total"], 0, "a deleted table carries no lineage");
    app.put(
        "/api/v1/tables",
        &app.editor,
        table("hive.d.mart.daily", &["user_id", "spend"]),
    )
    .await;
    let (_, back) = app.get("/api/v1/impact?fqn=hive.d.raw.events.amount").await;
    assert_eq!(back["total"], 2, "restoring the table restores its lineage");
}

pub async fn lineage_pages_a_ten_thousand_edge_fan_out(app: &TestApp) {
    let (s, _) = app
        .put(
            "/api/v1/services/hive",
            &app.admin,
            json!({"service_type": "hive"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    app.put(
        "/api/v1/tables",
        &app.editor,
        table("hive.d.s.src", &["hub"]),
    )
    .await;
    let names: Vec<String> = (0..10_000).map(|i| format!("c{i:05}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (s, _) = app
        .put("/api/v1/tables", &app.editor, table("hive.d.s.wide", &refs))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let edges: Vec<Value> = names
        .iter()
        .map(|n| json!({"from": "hive.d.s.src.hub", "to": format!("hive.d.s.wide.{n}")}))
        .collect();
    let (s, body) = app
        .put(
            "/api/v1/lineage/edges",
            &app.editor,
            json!({ "edges": edges }),
        )
        .await;
    assert_eq!(
        (s, body["created"].as_u64()),
        (StatusCode::OK, Some(10_000))
    );

    let mut seen = std::collections::HashSet::new();
    let mut edge_count = 0;
    let mut uri = "/api/v1/lineage/hive.d.s.src.hub?level=column&downstream=1&upstream=0&limit=700"
        .to_owned();
    let mut pages = 0;
    loop {
        let (s, page) = app.get(&uri).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        pages += 1;
        assert_eq!(page["total_nodes"], 10_001);
        let nodes = page["nodes"].as_array().unwrap();
        assert!(nodes.len() <= 700, "a page holds at most the limit");
        for n in nodes {
            assert!(
                seen.insert(n["fqn"].as_str().unwrap().to_owned()),
                "a node came twice"
            );
        }
        edge_count += page["edges"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                uri = format!(
                    "/api/v1/lineage/hive.d.s.src.hub?level=column&downstream=1&upstream=0&limit=700&cursor={cursor}"
                )
            }
            None => break,
        }
    }
    assert_eq!((seen.len(), edge_count, pages), (10_001, 10_000, 15));
    let (_, tables) = app.get("/api/v1/lineage/hive.d.s.src?downstream=5").await;
    assert_eq!(
        fqns(&tables["nodes"]),
        ["hive.d.s.src", "hive.d.s.wide"],
        "table level folds columns"
    );
    assert_eq!(tables["edges"].as_array().unwrap().len(), 1);
    let (s, err) = app.get("/api/v1/lineage/hive.d.s.src?cursor=bad").await;
    assert_eq!((s, code(&err)), (StatusCode::BAD_REQUEST, "invalid_cursor"));
}

pub async fn lineage_reads_any_depth_both_ways(app: &TestApp) {
    chain(app).await;
    let (s, page) = app
        .get("/api/v1/lineage/hive.d.mart.daily?upstream=10&downstream=10")
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let nodes: Vec<(String, i64)> = page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["fqn"].as_str().unwrap().to_owned(),
                n["distance"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [
            ("hive.d.mart.daily".into(), 0),
            ("ml.churn".into(), 1),
            ("hive.d.raw.events".into(), -1),
            ("bi.board".into(), 2)
        ]
    );
    let (_, near) = app
        .get("/api/v1/lineage/hive.d.mart.daily?upstream=0&downstream=1")
        .await;
    assert_eq!(
        near["nodes"].as_array().unwrap().len(),
        2,
        "depth is honoured"
    );
}

pub async fn openmetadata_add_lineage_bodies_work(app: &TestApp) {
    chain(app).await;
    let events = app
        .store()
        .get_entity(&tributary_catalog::Fqn::parse("hive.d.raw.events").unwrap())
        .await
        .unwrap();
    let body = json!({"edge": {
        "fromEntity": {"id": events.id, "type": "table"},
        "toEntity": {"fullyQualifiedName": "ml.churn", "type": "mlmodel"},
        "lineageDetails": {"sqlQuery": "select 1", "source": "QueryLineage",
            "columnsLineage": [{"fromColumns": ["hive.d.raw.events.user_id"], "toColumn": "ml.churn.tenure"}]}}});
    let (s, written) = app.put("/api/v1/lineage", &app.editor, body.clone()).await;
    assert_eq!(
        (s, written["created"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{written}"
    );
    let (_, again) = app.put("/api/v1/lineage", &app.editor, body).await;
    assert_eq!(again["unchanged"], 1);
    let (_, up) = app.get("/api/v1/entities/ml.churn").await;
    assert!(
        up["upstream"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "om:QueryLineage")
    );
    let (_, report) = app
        .get("/api/v1/impact?fqn=hive.d.raw.events.user_id")
        .await;
    assert_eq!(
        report["total"], 2,
        "the OpenMetadata edge's column mapping carries impact"
    );
    let wrong = json!({"edge": {"fromEntity": {"fullyQualifiedName": "hive.d.raw.events", "type": "dashboard"},
        "toEntity": {"fullyQualifiedName": "ml.churn"}}});
    let (s, err) = app
        .send(Method::PUT, "/api/v1/lineage", &app.editor, wrong)
        .await;
    assert_eq!(
        (s, code(&err)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference")
    );
}
