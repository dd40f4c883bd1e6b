//! An incident opened on a real server notifies a real webhook listener: the owning team
//! receives its affected models and paths, and a `text` a chat webhook can show.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use tributary_catalog::Role;
use tributary_server::api::tokens::issue_token;
use tributary_server::config::Config;
use tributary_store::testing::ScratchStore;

async fn a_webhook_receives_the_teams_impact(scratch: ScratchStore) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let hook = axum::Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let sink = sink.clone();
            async move { sink.lock().unwrap().push(body) }
        }),
    );
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", hook_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(hook_listener, hook).await });

    let admin = issue_token(scratch.store.as_ref(), "test", "admin", Role::Admin)
        .await
        .unwrap()
        .token;
    let state = tributary_server::app::state(scratch.store.clone(), &Config::default())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        tributary_server::app::serve(state, &Config::default(), listener, std::future::pending())
            .await
    });

    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, body: Value| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    for (path, body) in [
        ("/api/v1/services/hive", json!({"service_type": "hive"})),
        ("/api/v1/services/ml", json!({"service_type": "mlflow"})),
        (
            "/api/v1/teams/growth",
            json!({"contact": "#growth", "webhook_url": hook_url}),
        ),
    ] {
        assert!(
            send(reqwest::Method::PUT, path, body)
                .await
                .unwrap()
                .status()
                .is_success(),
            "{path}"
        );
    }
    let table =
        json!({"fqn": "hive.d.s.pay", "columns": [{"name": "amount", "data_type": "double"}]});
    assert!(
        send(reqwest::Method::PUT, "/api/v1/tables", table)
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let model = json!({"fqn": "ml.churn", "owner": "growth", "features": [{"name": "amount_30d"}]});
    assert!(
        send(reqwest::Method::PUT, "/api/v1/models", model)
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let edge = json!({"edges": [{"from": "hive.d.s.pay.amount", "to": "ml.churn.amount_30d"}]});
    assert!(
        send(reqwest::Method::PUT, "/api/v1/lineage/edges", edge)
            .await
            .unwrap()
            .status()
            .is_success()
    );

    let incident = json!({"fqn": "hive.d.s.pay.amount", "title": "payments load failed", "severity": "critical"});
    let opened: Value = send(reqwest::Method::POST, "/api/v1/incidents", incident)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = opened["incident"]["id"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        if let Some(body) = received.lock().unwrap().first().cloned() {
            break body;
        }
        assert!(Instant::now() < deadline, "the webhook was not called");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(body["team"], "growth");
    assert_eq!(body["incident"]["id"], id.as_str());
    assert_eq!(body["affected"][0]["fqn"], "ml.churn");
    assert_eq!(
        body["affected"][0]["path"],
        json!(["hive.d.s.pay.amount", "ml.churn.amount_30d", "ml.churn"])
    );
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL] payments load failed")
    );
    // The delivery is recorded as delivered.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let detail: Value = client
            .get(format!("{base}/api/v1/incidents/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if detail["deliveries"][0]["status"] == "delivered" {
            assert_eq!(detail["deliveries"][0]["attempts"], 1);
            break;
        }
        assert!(Instant::now() < deadline, "delivery not recorded: {detail}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn on_sqlite() {
    a_webhook_receives_the_teams_impact(tributary_store::testing::sqlite().await).await;
}

#[tokio::test]
async fn on_postgres() {
    if let Some(scratch) = tributary_store::testing::postgres().await {
        a_webhook_receives_the_teams_impact(scratch).await;
    }
}
