//! Lineage documents pushed through the API: diffs, idempotency, ownership of edges by
//! source, errors with lines and suggestions.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::harness::{TestApp, code, table};

pub async fn push(
    app: &TestApp,
    query: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/lineage/documents{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {}", app.editor))
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn yaml(app: &TestApp, text: &str) -> (StatusCode, Value) {
    push(app, "", "application/yaml", text.to_owned()).await
}

async fn catalog(app: &TestApp) {
    for (name, kind) in [("hive", "hive"), ("mlflow", "mlflow"), ("bi", "custom")] {
        app.put(
            &format!("/api/v1/services/{name}"),
            &app.admin,
            json!({"service_type": kind}),
        )
        .await;
    }
    app.put(
        "/api/v1/teams/churn-squad",
        &app.admin,
        json!({"contact": "#churn"}),
    )
    .await;
    for (fqn, columns) in [
        (
            "hive.dwh.marts.daily",
            &["avg_check", "calls", "client_id"][..],
        ),
        ("hive.dwh.raw.payments", &["amount", "client_id"][..]),
    ] {
        let (s, body) = app
            .put("/api/v1/tables", &app.editor, table(fqn, columns))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
}

const CHURN: &str = "\
version: 1
models:
  - fqn: mlflow.churn
    owner: churn-squad
    description: Predicts churn
    algorithm: xgboost
    features:
      - name: avg_check_30d
        data_type: numerical
        source: hive.dwh.marts.daily.avg_check
      - name: calls_7d
        source: hive.dwh.marts.daily.calls
tables:
  - fqn: hive.dwh.marts.daily
    upstream: [hive.dwh.raw.payments]
";

fn added(diff: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = diff["edges"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().into(),
                e["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    out.sort();
    out
}

pub async fn documents_round_trip_idempotently(app: &TestApp) {
    catalog(app).await;
    // A dry run reports the diff and writes nothing.
    let before = app.store().last_change_seq().await.unwrap();
    let (s, dry) = push(app, "?dry_run=true", "application/yaml", CHURN).await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(added(&dry).len(), 3);
    assert_eq!(app.store().last_change_seq().await.unwrap(), before);
    let (s, _) = app.get("/api/v1/models/mlflow.churn").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, diff) = yaml(app, CHURN).await;
    assert_eq!(s, StatusCode::OK, "{diff}");
    assert_eq!(diff["source"], "yaml:mlflow.churn");
    assert_eq!(diff["format"], "tributary");
    assert_eq!(
        added(&diff),
        [
            (
                "hive.dwh.marts.daily.avg_check".into(),
                "mlflow.churn.avg_check_30d".into()
            ),
            (
                "hive.dwh.marts.daily.calls".into(),
                "mlflow.churn.calls_7d".into()
            ),
            (
                "hive.dwh.raw.payments".into(),
                "hive.dwh.marts.daily".into()
            ),
        ]
    );
    let created: Vec<&str> = diff["entities"]["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fqn"].as_str().unwrap())
        .collect();
    assert!(
        created.contains(&"mlflow.churn.avg_check_30d"),
        "{created:?}"
    );
    // The catalog now answers from the document: impact of the mart's column.
    let (_, impact) = app
        .get("/api/v1/impact?fqn=hive.dwh.marts.daily.avg_check")
        .await;
    assert_eq!(impact["teams"][0]["team"], "churn-squad");

    // The same document again: an empty diff and no change-log rows.
    let before = app.store().last_change_seq().await.unwrap();
    let (s, again) = yaml(app, CHURN).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert!(added(&again).is_empty());
    assert_eq!(again["edges"]["unchanged"], 3);
    for part in ["created", "updated", "deleted"] {
        assert_eq!(again["entities"][part], json!([]), "{again}");
    }
    assert_eq!(app.store().last_change_seq().await.unwrap(), before);

    // The same document as JSON is the same document.
    let as_json = json!({"version": 1, "models": [{"fqn": "mlflow.churn", "owner": "churn-squad",
        "description": "Predicts churn", "algorithm": "xgboost", "features": [
        {"name": "avg_check_30d", "data_type": "numerical", "source": "hive.dwh.marts.daily.avg_check"},
        {"name": "calls_7d", "source": "hive.dwh.marts.daily.calls"}]}],
        "tables": [{"fqn": "hive.dwh.marts.daily", "upstream": ["hive.dwh.raw.payments"]}]});
    let (s, again) = push(app, "", "application/json", as_json.to_string()).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(app.store().last_change_seq().await.unwrap(), before);
}

/// A re-push of the same text is answered from what the process remembers of it only while
/// no change-log row since touches the document; each kind of touch sends it down the
/// full path, which puts the catalog back as the document says.
pub async fn unchanged_re_pushes_are_recognised_until_the_catalog_moves(app: &TestApp) {
    catalog(app).await;
    let (s, _) = yaml(app, CHURN).await;
    assert_eq!(s, StatusCode::OK);
    let unchanged = |diff: &Value| {
        added(diff).is_empty()
            && diff["entities"] == json!({"created": [], "updated": [], "deleted": []})
            && diff["edges"]["removed"] == json!([])
            && diff["edges"]["unchanged"] == 3
    };
    let before = app.store().last_change_seq().await.unwrap();
    let (s, again) = yaml(app, CHURN).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert!(unchanged(&again), "{again}");
    assert_eq!(again["source"], "yaml:mlflow.churn");

    // Writes elsewhere do not touch it.
    let (s, body) = app
        .put(
            "/api/v1/tables",
            &app.editor,
            table("hive.dwh.raw.calls", &["n"]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (_, again) = yaml(app, CHURN).await;
    assert!(unchanged(&again), "{again}");
    assert!(app.store().last_change_seq().await.unwrap() > before);

    // The model edited through the API: the re-push puts the document's description back.
    let model = json!({"fqn": "mlflow.churn", "owner": "churn-squad", "description": "edited",
        "algorithm": "xgboost", "features": [{"name": "avg_check_30d", "data_type": "numerical"},
        {"name": "calls_7d"}]});
    let (s, body) = app.put("/api/v1/models", &app.editor, model).await;
    assert!(s.is_success(), "{body}");
    let (_, again) = yaml(app, CHURN).await;
    let updated = again["entities"]["updated"].as_array().unwrap();
    assert!(
        updated.contains(&json!({"fqn": "mlflow.churn", "kind": "ml_model"})),
        "{again}"
    );
    let (_, entity) = app.get("/api/v1/entities/mlflow.churn").await;
    assert_eq!(entity["entity"]["description"], "Predicts churn");

    // A feature added under the model: the document's full set removes it again.
    let model = json!({"fqn": "mlflow.churn", "owner": "churn-squad",
        "description": "Predicts churn", "algorithm": "xgboost", "features": [
        {"name": "avg_check_30d", "data_type": "numerical"}, {"name": "calls_7d"},
        {"name": "extra"}]});
    let (s, body) = app.put("/api/v1/models", &app.editor, model).await;
    assert!(s.is_success(), "{body}");
    let (_, again) = yaml(app, CHURN).await;
    assert_eq!(
        again["entities"]["deleted"],
        json!([{"fqn": "mlflow.churn.extra", "kind": "feature"}]),
        "{again}"
    );
    let (_, again) = yaml(app, CHURN).await;
    assert!(unchanged(&again), "{again}");

    // One of its edges deleted through the API: the re-push adds it back.
    let req = Request::builder()
        .method(Method::DELETE)
        .uri("/api/v1/lineage/edges")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.editor))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"edges": [{"from": "hive.dwh.marts.daily.calls", "to": "mlflow.churn.calls_7d",
                "source": "yaml:mlflow.churn"}]})
            .to_string(),
        ))
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let (_, again) = yaml(app, CHURN).await;
    assert_eq!(
        added(&again),
        [(
            "hive.dwh.marts.daily.calls".into(),
            "mlflow.churn.calls_7d".into()
        )],
        "{again}"
    );

    // A column it names deleted (the table rewritten without it): 422, as on a first push.
    let (s, body) = app
        .put(
            "/api/v1/tables",
            &app.editor,
            table("hive.dwh.marts.daily", &["avg_check", "client_id"]),
        )
        .await;
    assert!(s.is_success(), "{body}");
    let (s, body) = yaml(app, CHURN).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "unknown_reference");
    let problem = &body["error"]["details"][0];
    assert_eq!(problem["reference"], "hive.dwh.marts.daily.calls", "{body}");
    assert_eq!(problem["line"], 12, "{body}");
}

pub async fn documents_own_only_their_edges(app: &TestApp) {
    catalog(app).await;
    let (s, _) = yaml(app, CHURN).await;
    assert_eq!(s, StatusCode::OK);
    // Another source asserts an edge into the same feature.
    let (s, body) = app
        .put(
            "/api/v1/lineage/edges",
            &app.editor,
            json!({"edges": [{"from": "hive.dwh.raw.payments.amount", "to": "mlflow.churn.avg_check_30d"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // calls_7d dropped from the document: the feature and its edge go.
    let without = CHURN.replace(
        "      - name: calls_7d\n        source: hive.dwh.marts.daily.calls\n",
        "",
    );
    let (s, diff) = yaml(app, &without).await;
    assert_eq!(s, StatusCode::OK, "{diff}");
    assert_eq!(
        diff["edges"]["removed"],
        json!([{"from": "hive.dwh.marts.daily.calls", "to": "mlflow.churn.calls_7d"}])
    );
    assert_eq!(
        diff["entities"]["deleted"],
        json!([{"fqn": "mlflow.churn.calls_7d", "kind": "feature"}])
    );
    let (_, entity) = app.get("/api/v1/entities/mlflow.churn.avg_check_30d").await;
    let mut sources: Vec<&str> = entity["upstream"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    sources.sort();
    assert_eq!(sources, ["api", "yaml:mlflow.churn"], "{entity}");
}

pub async fn document_errors_say_where_and_suggest(app: &TestApp) {
    catalog(app).await;
    let typo = CHURN.replace("marts.daily.avg_check\n", "marts.daily.avg_chek\n");
    let before = app.store().last_change_seq().await.unwrap();
    let (s, body) = yaml(app, &typo).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference"),
        "{body}"
    );
    let detail = &body["error"]["details"][0];
    assert_eq!(detail["reference"], "hive.dwh.marts.daily.avg_chek");
    assert_eq!(
        (detail["line"].as_u64(), detail["column"].as_u64()),
        (Some(10), Some(17))
    );
    assert_eq!(detail["path"], "models[0].features[0].source");
    assert_eq!(detail["suggestions"][0], "hive.dwh.marts.daily.avg_check");
    assert_eq!(app.store().last_change_seq().await.unwrap(), before);

    // Every unknown reference at once: a missing table, an unknown team.
    let many = CHURN
        .replace("hive.dwh.raw.payments]", "hive.dwh.raw.paymets]")
        .replace("owner: churn-squad", "owner: churn-sqaud");
    let (s, body) = yaml(app, &many).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let details = body["error"]["details"].as_array().unwrap();
    assert_eq!(details.len(), 2, "{body}");
    let team = details.iter().find(|d| d["expected"] == "team").unwrap();
    assert_eq!(team["suggestions"][0], "churn-squad");
    let upstream = details.iter().find(|d| d["expected"] == "table").unwrap();
    assert_eq!(upstream["suggestions"][0], "hive.dwh.raw.payments");
    assert_eq!(upstream["line"], 15);

    // A soft-deleted column is named as such.
    let (s, _) = app
        .put(
            "/api/v1/tables",
            &app.editor,
            table("hive.dwh.marts.daily", &["calls", "client_id"]),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let before = app.store().last_change_seq().await.unwrap();
    let (s, body) = yaml(app, CHURN).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["details"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("was deleted"),
        "{body}"
    );

    // YAML syntax: 400 with line and column.
    let (s, body) = yaml(
        app,
        "version: 1\nmodels:\n  - fqn: mlflow.churn\n    features: [\n",
    )
    .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_document"),
        "{body}"
    );
    assert!(
        body["error"]["details"][0]["line"].as_u64().unwrap() >= 4,
        "{body}"
    );
    assert!(body["error"]["details"][0]["column"].as_u64().is_some());
    // Format rules: duplicate features and a feature without a source, together.
    let (s, body) = yaml(
        app,
        "version: 1\nmodels:\n  - fqn: mlflow.churn\n    features:\n      - name: a\n        source: hive.dwh.marts.daily.calls\n      - name: a\n        source: hive.dwh.marts.daily.calls\n      - name: b\n",
    )
    .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_document"),
        "{body}"
    );
    let lines: Vec<u64> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [7, 9], "{body}");

    // Transport: over the limit, wrong type, wrong role.
    let huge = format!("version: 1\n#{}\n", "x".repeat(17 * 1024 * 1024));
    let (s, body) = yaml(app, &huge).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let (s, body) = push(app, "", "application/xml", CHURN).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/lineage/documents")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.viewer))
        .header(header::CONTENT_TYPE, "application/yaml")
        .body(Body::from(CHURN))
        .unwrap();
    assert_eq!(
        app.router.clone().oneshot(req).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // None of the refused pushes wrote anything.
    assert_eq!(app.store().last_change_seq().await.unwrap(), before);
}

pub async fn datahub_lineage_files_are_mapped(app: &TestApp) {
    catalog(app).await;
    let file = "\
version: 1
lineage:
  - entity:
      name: marts.daily
      type: dataset
      env: PROD
      platform: hive
    upstream:
      - entity:
          name: raw.payments
          type: dataset
          env: PROD
          platform: hive
    fineGrainedLineages:
      - upstreamType: FIELD_SET
        upstreams:
          - urn:li:schemaField:(urn:li:dataset:(urn:li:dataPlatform:hive,raw.payments,PROD),client_id)
        downstreamType: FIELD
        downstreams:
          - urn:li:schemaField:(urn:li:dataset:(urn:li:dataPlatform:hive,marts.daily,PROD),client_id)
";
    // No rule configured for hive: the service is named after the platform, and the
    // database defaults to `default` — which this catalog does not have.
    let (s, body) = yaml(app, file).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["details"][0]["reference"]
            .as_str()
            .unwrap()
            .starts_with("hive.default.")
    );
    for fqn in ["hive.default.marts.daily", "hive.default.raw.payments"] {
        let (s, body) = app
            .put("/api/v1/tables", &app.editor, table(fqn, &["client_id"]))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    let (s, diff) = yaml(app, file).await;
    assert_eq!(s, StatusCode::OK, "{diff}");
    assert_eq!(diff["format"], "datahub");
    assert_eq!(
        added(&diff),
        [(
            "hive.default.raw.payments".into(),
            "hive.default.marts.daily".into()
        )]
    );
    // The field-level lineage became a column mapping: the column flows, column by column.
    let (_, impact) = app
        .get("/api/v1/lineage/hive.default.raw.payments.client_id?downstream=1&level=column")
        .await;
    let nodes: Vec<&str> = impact["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["fqn"].as_str().unwrap())
        .collect();
    assert!(
        nodes.contains(&"hive.default.marts.daily.client_id"),
        "{impact}"
    );
}
