//! What every client can get wrong: auth, malformed bodies, size, unknown routes.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use super::harness::{TestApp, code, table};

pub async fn writes_need_a_token_of_the_right_role(app: &TestApp) {
    app.seed().await;
    let body = table("hive.dwh.marts.t", &["a"]);
    let (s, err) = app
        .call(
            Method::PUT,
            "/api/v1/tables",
            None,
            Some(Body::from(body.to_string())),
        )
        .await;
    assert_eq!(
        (s, code(&err)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let (s, err) = app
        .put("/api/v1/tables", "trb_not-a-real-token", body.clone())
        .await;
    assert_eq!((s, code(&err)), (StatusCode::UNAUTHORIZED, "invalid_token"));
    let (s, err) = app.put("/api/v1/tables", &app.viewer, body.clone()).await;
    assert_eq!((s, code(&err)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, _) = app
        .put(
            "/api/v1/services/ch",
            &app.editor,
            json!({"service_type": "clickhouse"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "services need admin");
    let (s, _) = app.put("/api/v1/teams/x", &app.editor, json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "teams need admin");
    let (s, _) = app
        .call(Method::GET, "/api/v1/tokens", Some(&app.editor), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "tokens need admin");
    for (method, uri) in [
        (Method::DELETE, "/api/v1/tables/hive.dwh.marts.daily"),
        (Method::DELETE, "/api/v1/models/hive.m"),
        (Method::DELETE, "/api/v1/services/hive"),
    ] {
        let (s, _) = app.call(method, uri, Some(&app.viewer), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{uri}");
    }
    let (s, _) = app
        .call(
            Method::GET,
            "/api/v1/tables/hive.dwh.marts.daily",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "viewers read");
}

pub async fn anonymous_reads_can_be_turned_off(app: &TestApp) {
    let mut config = tributary_server::config::Config::default();
    config.auth.anonymous_read = false;
    let mut state = app.state.clone();
    state.anonymous_read = config.auth.anonymous_read;
    let closed = tributary_server::app::router(state, &config);
    let closed_app = ClosedApp(closed);
    assert_eq!(
        closed_app.get("/api/v1/teams", None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        closed_app.get("/api/v1/teams", Some(&app.viewer)).await,
        StatusCode::OK
    );
    assert_eq!(
        closed_app.get("/health", None).await,
        StatusCode::OK,
        "probes stay open"
    );
}

struct ClosedApp(axum::Router);

impl ClosedApp {
    async fn get(&self, uri: &str, token: Option<&str>) -> StatusCode {
        use tower::ServiceExt;
        let mut req = axum::http::Request::get(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        self.0
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }
}

pub async fn malformed_json_points_at_line_and_column(app: &TestApp) {
    app.seed().await;
    let broken = "{\n  \"fqn\": \"hive.dwh.marts.t\",\n  \"columns\": [,]\n}";
    let (s, err) = app
        .call(
            Method::PUT,
            "/api/v1/tables",
            Some(&app.editor),
            Some(Body::from(broken)),
        )
        .await;
    assert_eq!((s, code(&err)), (StatusCode::BAD_REQUEST, "malformed_json"));
    assert_eq!(err["error"]["details"][0], json!({"line": 3, "column": 15}));
    assert!(err["error"]["message"].as_str().unwrap().contains("line 3"));
    let wrong_shape = json!({"fqn": "hive.dwh.marts.t", "columns": [{"name": "a"}]});
    let (s, err) = app.put("/api/v1/tables", &app.editor, wrong_shape).await;
    assert_eq!((s, code(&err)), (StatusCode::BAD_REQUEST, "invalid_body"));
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("data_type")
    );
    let (s, err) = app
        .put(
            "/api/v1/tables",
            &app.editor,
            json!({"fqn": "a.b", "columns": []}),
        )
        .await;
    assert_eq!((s, code(&err)), (StatusCode::BAD_REQUEST, "invalid_fqn"));
    let (s, err) = app
        .put(
            "/api/v1/tables",
            &app.editor,
            json!({"fqn": "a.\"b.c.d", "columns": []}),
        )
        .await;
    assert_eq!((s, code(&err)), (StatusCode::BAD_REQUEST, "invalid_fqn"));
    let (s, err) = app
        .call(Method::PUT, "/api/v1/teams/x", Some(&app.admin), None)
        .await;
    assert_eq!(
        (s, code(&err)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
}

pub async fn bodies_over_the_limit_are_refused(app: &TestApp) {
    app.seed().await;
    let huge = format!(
        "{{\"fqn\": \"hive.dwh.marts.t\", \"description\": \"{}\", \"columns\": []}}",
        "x".repeat(17 << 20)
    );
    let (s, err) = app
        .call(
            Method::PUT,
            "/api/v1/tables",
            Some(&app.editor),
            Some(Body::from(huge)),
        )
        .await;
    assert_eq!(
        (s, code(&err)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let (s, _) = app.get("/api/v1/tables/hive.dwh.marts.t").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

pub async fn unknown_routes_and_methods_answer_in_json(app: &TestApp) {
    let (s, err) = app.get("/api/v1/nothing-here").await;
    assert_eq!((s, code(&err)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, err) = app
        .call(Method::PATCH, "/api/v1/tables", Some(&app.editor), None)
        .await;
    assert_eq!(
        (s, code(&err)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
}

/// PostgreSQL cannot store NUL characters; anywhere a client sends one, the answer is a
/// 400 that says so, never a 500 from the database.
pub async fn nul_characters_are_refused_not_stored(app: &TestApp) {
    app.seed().await;
    let mut with_attrs = table("hive.dwh.marts.t", &["a"]);
    with_attrs["attrs"] = json!({"note": "a\u{0}b"});
    let mut with_type = table("hive.dwh.marts.t", &["a"]);
    with_type["columns"][0]["data_type"] = json!("int\u{0}");
    let edge = json!({"edges": [{"from": "hive.dwh.marts.daily", "to": "hive.dwh.marts.daily",
        "columns": [{"from": ["hive.dwh.marts.daily.a"], "to": "hive.dwh.marts.daily.b", "function": "f\u{0}"}]}]});
    for (method, uri, token, body) in [
        (Method::PUT, "/api/v1/tables", &app.editor, with_attrs),
        (Method::PUT, "/api/v1/tables", &app.editor, with_type),
        (
            Method::PUT,
            "/api/v1/services/hive",
            &app.admin,
            json!({"service_type": "hive", "connection": {"host": "a\u{0}"}}),
        ),
        (Method::PUT, "/api/v1/lineage/edges", &app.editor, edge),
    ] {
        let (s, err) = app.send(method, uri, token, body).await;
        assert_eq!(
            (s, code(&err)),
            (StatusCode::BAD_REQUEST, "invalid_body"),
            "{uri}: {err}"
        );
    }
    for uri in [
        "/api/v1/tables?owner=a%00b",
        "/api/v1/models?owner=a%00b",
        "/api/v1/tables?cursor=YQBi", // base64 of "a\0b"
        "/api/v1/teams/a%00b",
        "/api/v1/entities/hive.a%00b",
    ] {
        let (s, err) = app.get(uri).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {err}");
    }
    let (s, _) = app.delete("/api/v1/tokens/a%00b", &app.admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
