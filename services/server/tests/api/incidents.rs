//! Incidents through the API: snapshot, deliveries queued per team, visible on entities,
//! and the acknowledge/resolve life cycle.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::graph::chain;
use super::harness::{TestApp, code};

pub async fn incidents_snapshot_impact_and_queue_team_notifications(app: &TestApp) {
    chain(app).await;
    for team in ["growth", "bi-team"] {
        let (s, _) = app
            .put(&format!("/api/v1/teams/{team}"), &app.admin,
                json!({"contact": format!("#{team}"), "webhook_url": format!("http://127.0.0.1:9/{team}")}))
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let body = json!({"fqn": "hive.d.raw.events.amount", "title": "amount is null since 03:00", "severity": "high"});
    let (s, opened) = app
        .send(Method::POST, "/api/v1/incidents", &app.editor, body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{opened}");
    let id = opened["incident"]["id"].as_str().unwrap().to_owned();
    assert_eq!(opened["incident"]["status"], "open");
    assert_eq!(
        opened["incident"]["snapshot"]["total"], 2,
        "the impact at opening is kept"
    );
    let mut teams: Vec<&str> = opened["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["team"].as_str().unwrap())
        .collect();
    teams.sort();
    assert_eq!(teams, ["bi-team", "growth"]);
    let growth = opened["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["team"] == "growth")
        .unwrap();
    assert_eq!(growth["status"], "pending");
    assert_eq!(growth["payload"]["affected"][0]["fqn"], "ml.churn");
    assert_eq!(growth["payload"]["incident"]["id"], id.as_str());
    let text = growth["payload"]["text"].as_str().unwrap();
    assert!(
        text.contains("[HIGH]") && text.contains("ml.churn") && text.contains("via"),
        "{text}"
    );

    for fqn in ["hive.d.raw.events.amount", "ml.churn", "bi.board"] {
        let (_, entity) = app.get(&format!("/api/v1/entities/{fqn}")).await;
        assert_eq!(
            entity["incidents"][0]["id"],
            id.as_str(),
            "{fqn} shows the incident"
        );
    }
    let (_, untouched) = app.get("/api/v1/entities/hive.d.raw.events.user_id").await;
    assert!(untouched["incidents"].as_array().unwrap().is_empty());

    let (_, list) = app.get("/api/v1/incidents?status=open").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (s, acked) = app
        .send(
            Method::POST,
            &format!("/api/v1/incidents/{id}/acknowledge"),
            &app.editor,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, acked["status"].as_str()),
        (StatusCode::OK, Some("acknowledged"))
    );
    let (s, resolved) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/resolve"),
            Some(&app.editor),
            None,
        )
        .await;
    assert_eq!(
        (s, resolved["status"].as_str()),
        (StatusCode::OK, Some("resolved"))
    );
    let (s, err) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/resolve"),
            Some(&app.editor),
            None,
        )
        .await;
    assert_eq!((s, code(&err)), (StatusCode::CONFLICT, "conflict"));
    let (_, entity) = app.get("/api/v1/entities/ml.churn").await;
    assert!(
        entity["incidents"].as_array().unwrap().is_empty(),
        "resolved incidents leave entity pages"
    );
    let (s, detail) = app.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(
        (s, detail["deliveries"].as_array().unwrap().len()),
        (StatusCode::OK, 2)
    );
}

pub async fn incident_requests_are_checked(app: &TestApp) {
    chain(app).await;
    let (s, err) = app
        .send(
            Method::POST,
            "/api/v1/incidents",
            &app.editor,
            json!({"fqn": "hive.d.nope", "title": "x", "severity": "low"}),
        )
        .await;
    assert_eq!((s, code(&err)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, err) = app
        .send(
            Method::POST,
            "/api/v1/incidents",
            &app.editor,
            json!({"fqn": "ml.churn", "title": "", "severity": "low"}),
        )
        .await;
    assert_eq!((s, code(&err)), (StatusCode::BAD_REQUEST, "invalid_field"));
    let (s, err) = app
        .send(
            Method::POST,
            "/api/v1/incidents",
            &app.editor,
            json!({"fqn": "ml.churn", "title": "x", "severity": "sev1"}),
        )
        .await;
    assert_eq!((s, code(&err)), (StatusCode::BAD_REQUEST, "invalid_body"));
    let (s, _) = app
        .send(
            Method::POST,
            "/api/v1/incidents",
            &app.viewer,
            json!({"fqn": "ml.churn", "title": "x", "severity": "low"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .get("/api/v1/incidents/0190b5d5-0000-7000-8000-000000000000")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, err) = app.get("/api/v1/incidents/not-a-uuid").await;
    assert_eq!((s, code(&err)), (StatusCode::BAD_REQUEST, "invalid_path"));
}
