//! Happy paths and resource-specific failures of services, tables, models, teams, entities.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::harness::{TestApp, code, table};

pub async fn services_round_trip_with_secrets_hidden(app: &TestApp) {
    let body = json!({"service_type": "hive", "description": "warehouse",
        "connection": {"host": "meta", "port": 5432, "password": "hunter2"}});
    let (s, created) = app
        .put("/api/v1/services/hive", &app.admin, body.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(created["connection"]["password"], "***");
    assert_eq!(created["connection"]["host"], "meta");
    let (s, _) = app.put("/api/v1/services/hive", &app.admin, body).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "a repeated PUT updates, it does not conflict"
    );
    let (s, one) = app.get("/api/v1/services/hive").await;
    assert_eq!(
        (s, one["service_type"].as_str()),
        (StatusCode::OK, Some("hive"))
    );
    let (_, list) = app.get("/api/v1/services").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (s, deleted) = app.delete("/api/v1/services/hive", &app.admin).await;
    assert_eq!((s, deleted["deleted"].as_u64()), (StatusCode::OK, Some(1)));
    let (s, body) = app.get("/api/v1/services/hive").await;
    assert_eq!((s, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, body) = app
        .put(
            "/api/v1/services/x",
            &app.admin,
            json!({"service_type": "oracle"}),
        )
        .await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "invalid_body"));
}

pub async fn tables_put_get_list_delete(app: &TestApp) {
    app.seed().await;
    let (s, again) = app
        .put(
            "/api/v1/tables",
            &app.editor,
            table("hive.dwh.marts.daily", &["a", "b"]),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["written"]["unchanged"], 3);
    let (s, got) = app.get("/api/v1/tables/hive.dwh.marts.daily").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = got["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(got["columns"][0]["attrs"]["data_type"], "int");

    for t in ["t1", "t2", "t3"] {
        let (s, _) = app
            .put(
                "/api/v1/tables",
                &app.editor,
                table(&format!("hive.dwh.other.{t}"), &["x"]),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (_, page) = app
        .get("/api/v1/tables?service=hive&database=dwh&schema=other&limit=2")
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = app
        .get(&format!(
            "/api/v1/tables?service=hive&database=dwh&schema=other&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(rest["items"][0]["name"], "t3");
    assert!(rest.get("next_cursor").is_none());
    let (_, all) = app.get("/api/v1/tables?service=hive").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    let (s, body) = app.get("/api/v1/tables?database=dwh").await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "invalid_query"));
    let (s, body) = app.get("/api/v1/tables?cursor=!!!").await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_cursor")
    );
    let (s, body) = app.get("/api/v1/tables?limit=0").await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "invalid_query"));

    let (s, deleted) = app
        .delete("/api/v1/tables/hive.dwh.marts.daily", &app.editor)
        .await;
    assert_eq!((s, deleted["deleted"].as_u64()), (StatusCode::OK, Some(3)));
    let (s, _) = app.get("/api/v1/tables/hive.dwh.marts.daily").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .delete("/api/v1/tables/hive.dwh.marts.daily", &app.editor)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

pub async fn table_writes_refuse_bad_references(app: &TestApp) {
    app.seed().await;
    let (s, body) = app
        .put(
            "/api/v1/tables",
            &app.editor,
            table("nowhere.db.s.t", &["a"]),
        )
        .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference")
    );
    assert_eq!(body["error"]["details"][0]["reference"], "nowhere");
    let mut owned = table("hive.dwh.marts.t", &["a"]);
    owned["owner"] = json!("ghosts");
    let (s, body) = app.put("/api/v1/tables", &app.editor, owned).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference")
    );
    let (s, body) = app
        .put(
            "/api/v1/tables",
            &app.editor,
            table("hive.dwh.marts.t", &["a", "a"]),
        )
        .await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "invalid_field"));
    assert_eq!(body["error"]["details"][0]["field"], "columns[1].name");
}

pub async fn twenty_thousand_columns_store_all_or_nothing(app: &TestApp) {
    app.seed().await;
    let names: Vec<String> = (0..20_000).map(|i| format!("feature_col_{i:05}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut bad = table("hive.dwh.marts.wide", &refs);
    bad["columns"][19_999]["name"] = json!("broken\u{7}name");
    let before = app.store().last_change_seq().await.unwrap();
    let (s, body) = app.put("/api/v1/tables", &app.editor, bad).await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "invalid_field"));
    assert_eq!(body["error"]["details"][0]["field"], "columns[19999].name");
    let (s, _) = app.get("/api/v1/tables/hive.dwh.marts.wide").await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "nothing of the refused table was stored"
    );
    assert_eq!(
        app.store().last_change_seq().await.unwrap(),
        before,
        "no change-log rows either"
    );

    let (s, body) = app
        .put(
            "/api/v1/tables",
            &app.editor,
            table("hive.dwh.marts.wide", &refs),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(body["written"]["created"], 20_001);
    let (_, got) = app.get("/api/v1/tables/hive.dwh.marts.wide").await;
    assert_eq!(got["columns"].as_array().unwrap().len(), 20_000);
    assert_eq!(got["columns"][19_999]["name"], "feature_col_19999");
    let changes = app.store().changes_after(before, 30_000).await.unwrap();
    assert_eq!(
        changes.len(),
        20_001,
        "one change-log row per entity, written with them"
    );
}

pub async fn models_put_get_list_delete(app: &TestApp) {
    app.seed().await;
    let (s, _) = app
        .put(
            "/api/v1/services/mlflow",
            &app.admin,
            json!({"service_type": "mlflow"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let model = json!({"fqn": "mlflow.churn", "owner": "growth", "algorithm": "xgboost", "version": "3",
        "hyperparameters": [{"name": "max_depth", "value": "6"}], "tags": ["prod"],
        "features": [{"name": "avg_check_30d", "data_type": "numerical"}, {"name": "calls_7d"}]});
    let (s, created) = app.put("/api/v1/models", &app.editor, model.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["model"]["attrs"]["hyperparameters"][0]["value"],
        "6"
    );
    assert_eq!(created["features"][0]["name"], "avg_check_30d");
    let (s, _) = app.put("/api/v1/models", &app.editor, model).await;
    assert_eq!(s, StatusCode::OK);
    let (s, got) = app.get("/api/v1/models/mlflow.churn").await;
    assert_eq!(
        (s, got["model"]["owner"].as_str()),
        (StatusCode::OK, Some("growth"))
    );
    let (_, list) = app.get("/api/v1/models?owner=growth").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, list) = app.get("/api/v1/models?service=hive").await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (s, body) = app
        .put(
            "/api/v1/models",
            &app.editor,
            json!({"fqn": "mlflow.x.y", "features": []}),
        )
        .await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "invalid_fqn"));
    let (s, _) = app.delete("/api/v1/models/mlflow.churn", &app.editor).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.get("/api/v1/models/mlflow.churn").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

pub async fn an_fqn_taken_by_another_kind_conflicts(app: &TestApp) {
    app.seed().await;
    let dashboard = tributary_catalog::EntityDraft::bare(
        tributary_catalog::EntityKind::Dashboard,
        tributary_catalog::Fqn::parse("hive.churn").unwrap(),
        "test",
    );
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
    let (s, body) = app
        .put("/api/v1/models", &app.editor, json!({"fqn": "hive.churn"}))
        .await;
    assert_eq!((s, code(&body)), (StatusCode::CONFLICT, "conflict"));
}

pub async fn teams_round_trip(app: &TestApp) {
    let team = json!({"display_name": "Risk", "contact": "risk@example.com", "webhook_url": "https://hooks.example.com/x"});
    let (s, _) = app
        .put("/api/v1/teams/risk", &app.admin, team.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app.put("/api/v1/teams/risk", &app.admin, team).await;
    assert_eq!(s, StatusCode::OK);
    let (s, got) = app.get("/api/v1/teams/risk").await;
    assert_eq!(
        (s, got["contact"].as_str()),
        (StatusCode::OK, Some("risk@example.com"))
    );
    let (_, list) = app.get("/api/v1/teams").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (s, body) = app
        .put(
            "/api/v1/teams/risk",
            &app.admin,
            json!({"webhook_url": "ftp://x"}),
        )
        .await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "invalid_field"));
    let (s, _) = app.get("/api/v1/teams/nobody").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

pub async fn entities_show_parents_children_and_edges(app: &TestApp) {
    app.seed().await;
    let (s, _) = app
        .put(
            "/api/v1/tables",
            &app.editor,
            table("hive.dwh.marts.\"v.2\"", &["a"]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .put(
            "/api/v1/lineage/edges",
            &app.editor,
            json!({"edges": [{"from": "hive.dwh.marts.daily", "to": "hive.dwh.marts.\"v.2\""}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, column) = app.get("/api/v1/entities/hive.dwh.marts.%22v.2%22.a").await;
    assert_eq!(s, StatusCode::OK, "{column}");
    let parents: Vec<&str> = column["parents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(parents, ["service", "database", "schema", "table"]);
    let (_, table) = app.get("/api/v1/entities/hive.dwh.marts.daily").await;
    assert_eq!(table["children"][0], json!({"kind": "column", "count": 2}));
    assert_eq!(table["downstream"][0]["to"], "hive.dwh.marts.\"v.2\"");
    let (s, body) = app.get("/api/v1/entities/hive..x").await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "invalid_fqn"));
    let (s, body) = app.get("/api/v1/entities/hive.nope").await;
    assert_eq!((s, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

pub async fn edges_put_and_delete(app: &TestApp) {
    app.seed().await;
    app.put(
        "/api/v1/tables",
        &app.editor,
        table("hive.dwh.marts.next", &["a"]),
    )
    .await;
    let edge = json!({"from": "hive.dwh.marts.daily", "to": "hive.dwh.marts.next",
        "columns": [{"from": ["hive.dwh.marts.daily.a"], "to": "hive.dwh.marts.next.a", "function": "sum(a)"}]});
    let (s, body) = app
        .put(
            "/api/v1/lineage/edges",
            &app.editor,
            json!({"edges": [edge.clone()]}),
        )
        .await;
    assert_eq!((s, body["created"].as_u64()), (StatusCode::OK, Some(1)));
    let (_, body) = app
        .put(
            "/api/v1/lineage/edges",
            &app.editor,
            json!({"edges": [edge]}),
        )
        .await;
    assert_eq!(body["unchanged"], 1);
    let (s, body) = app
        .put(
            "/api/v1/lineage/edges",
            &app.editor,
            json!({"edges": [{"from": "hive.dwh.marts.daily", "to": "hive.dwh.marts.gone"}]}),
        )
        .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference")
    );
    let (s, body) = app
        .put(
            "/api/v1/lineage/edges",
            &app.editor,
            json!({"edges": [{"from": "hive.dwh.marts.daily", "to": "hive.dwh.marts.daily"}]}),
        )
        .await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "invalid_field"));
    let keys = json!({"edges": [{"from": "hive.dwh.marts.daily", "to": "hive.dwh.marts.next"},
        {"from": "hive.dwh.marts.daily", "to": "hive.dwh.marts.next", "source": "other"}]});
    let (s, body) = app
        .send(Method::DELETE, "/api/v1/lineage/edges", &app.editor, keys)
        .await;
    assert_eq!((s, body["deleted"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(body["missing"][0]["source"], "other");
}

pub async fn tokens_are_issued_used_and_revoked(app: &TestApp) {
    let (s, created) = app
        .send(
            Method::POST,
            "/api/v1/tokens",
            &app.admin,
            json!({"name": "ci-bot", "role": "editor"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let secret = created["token"].as_str().unwrap().to_owned();
    let (s, body) = app
        .send(
            Method::POST,
            "/api/v1/tokens",
            &app.admin,
            json!({"name": "ci-bot", "role": "viewer"}),
        )
        .await;
    assert_eq!((s, code(&body)), (StatusCode::CONFLICT, "conflict"));
    let (s, _) = app
        .put(
            "/api/v1/services/hive",
            &app.admin,
            json!({"service_type": "hive"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .put("/api/v1/tables", &secret, table("hive.d.s.t", &["a"]))
        .await;
    assert_eq!(s, StatusCode::CREATED, "the new editor token writes");
    let (_, list) = app
        .call(Method::GET, "/api/v1/tokens", Some(&app.admin), None)
        .await;
    assert!(
        !list.to_string().contains(&secret),
        "secrets are never listed"
    );
    let (s, _) = app.delete("/api/v1/tokens/ci-bot", &app.admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = app
        .put("/api/v1/tables", &secret, table("hive.d.s.t", &["a"]))
        .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
}

pub async fn health_ready_and_openapi_are_served(app: &TestApp) {
    let (s, body) = app.get("/health").await;
    assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, body) = app.get("/ready").await;
    assert_eq!(
        (s, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    let (s, body) = app.get("/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body["paths"]["/api/v1/tables"].is_object());
    let (s, page) = app.get("/api/docs/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.as_str().unwrap().contains("swagger"),
        "the API explorer is served locally"
    );
}

pub async fn demo_loads_once_through_the_api_paths(app: &TestApp) {
    assert!(tributary_server::demo::load(app.store()).await.unwrap());
    assert!(
        !tributary_server::demo::load(app.store()).await.unwrap(),
        "a second start leaves it alone"
    );
    let (_, models) = app.get("/api/v1/models?service=mlflow_prod").await;
    assert_eq!(models["items"].as_array().unwrap().len(), 3);
    let (_, feature) = app
        .get("/api/v1/entities/mlflow_prod.churn_model.avg_check_30d")
        .await;
    assert_eq!(
        feature["upstream"][0]["from"],
        "hive_prod.dwh.client_marts.features_daily.avg_check_30d"
    );
    let (_, service) = app.get("/api/v1/services/hive_prod").await;
    assert_eq!(service["connection"]["password"], "***");
}

pub async fn overview_and_me_say_what_the_home_page_shows(app: &TestApp) {
    app.seed().await;
    let (s, overview) = app.get("/api/v1/overview").await;
    assert_eq!(s, StatusCode::OK, "{overview}");
    assert_eq!(overview["counts"]["table"], 1, "{overview}");
    assert_eq!(overview["counts"]["column"], 2, "{overview}");
    assert_eq!(overview["counts"]["service"], 1, "{overview}");
    assert!(
        overview["counts"].get("ml_model").is_none(),
        "no models yet"
    );
    assert_eq!(overview["active_incidents"], json!([]));
    assert_eq!(overview["recent_runs"], json!([]));

    let (s, me) = app.get("/api/v1/me").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        me,
        json!({"name": "anonymous", "role": null, "can_edit": false})
    );
    let (_, me) = app
        .call(Method::GET, "/api/v1/me", Some(&app.editor), None)
        .await;
    assert_eq!(
        (me["role"].as_str(), me["can_edit"].as_bool()),
        (Some("editor"), Some(true))
    );
    let (s, err) = app
        .call(Method::GET, "/api/v1/me", Some("trb_not-a-token"), None)
        .await;
    assert_eq!((s, code(&err)), (StatusCode::UNAUTHORIZED, "invalid_token"));
}

/// The UI's pages answer deep links with `index.html`; missing files and API paths do not
/// fall through to it. A binary built before the UI says how to build it.
pub async fn ui_pages_and_files_are_served(app: &TestApp) {
    let (s, page) = app.get("/").await;
    let page = page.as_str().unwrap_or_default().to_owned();
    if tributary_server::ui::built() {
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("<div id=\"root\">"), "{page}");
        let script = page
            .split("src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("index.html loads a script");
        let (s, js) = app.get(script).await;
        assert_eq!(s, StatusCode::OK, "{script}");
        assert!(js.as_str().is_some_and(|js| js.len() > 1000), "{script}");
    } else {
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert!(page.contains("npm run build"), "{page}");
    }
    for deep in [
        "/models/mlflow_prod.churn_model",
        "/lineage/a.b?level=column",
        "/search",
    ] {
        let (s2, again) = app.get(deep).await;
        assert_eq!(
            (s2, again.as_str().unwrap_or_default()),
            (s, page.as_str()),
            "{deep}"
        );
    }
    for missing in [
        "/assets/nothing-here.js",
        "/favicon.ico",
        "/api",
        "/api/v1",
        "/api/v1/nothing",
    ] {
        let (s, err) = app.get(missing).await;
        assert_eq!(
            (s, code(&err)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{missing}"
        );
    }
    let (s, err) = app.call(Method::POST, "/models/x", None, None).await;
    assert_eq!((s, code(&err)), (StatusCode::NOT_FOUND, "not_found"));
}
