//! A service's password is stored, but no API response and no log line ever shows it —
//! also not while a connector uses it against a real MLflow server, or fails to reach one.
//! Its own test binary: it installs a global TRACE-level log capture.

// Only the harness: the suites themselves run in api_sqlite and api_postgres.
#[allow(dead_code)]
#[path = "api/harness.rs"]
mod harness;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::{Method, StatusCode};
use serde_json::json;
use tributary_catalog::Fqn;
use tributary_store::testing::ScratchStore;

const PASSWORD: &str = "s3cr3t-pa55word-7731";
const TOKEN: &str = "mlflow-bearer-0d8f1c";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_capture() -> Captured {
    static CAPTURE: OnceLock<Captured> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || writer.clone())
                .init();
            captured
        })
        .clone()
}

async fn secrets_never_leave_the_store(scratch: ScratchStore) {
    let logs = log_capture();
    let app = harness::TestApp::new(scratch).await;
    let connection = json!({"host": "meta", "username": "reader", "password": PASSWORD,
        "auth": {"type": "bearer", "token": TOKEN}});
    let mut bodies = Vec::new();
    let (s, body) = app
        .put(
            "/api/v1/services/hive",
            &app.admin,
            json!({"service_type": "hive", "connection": connection}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    bodies.push(body);
    // A client that round-trips what it read must not wipe the secret it never saw.
    let (s, body) = app
        .put(
            "/api/v1/services/hive",
            &app.admin,
            json!({"service_type": "hive",
        "connection": {"host": "meta2", "username": "reader", "password": "***", "auth": "***"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    bodies.push(body);
    for uri in [
        "/api/v1/services/hive",
        "/api/v1/services",
        "/api/v1/entities/hive",
        "/api/openapi.json",
    ] {
        let (s, body) = app.call(Method::GET, uri, Some(&app.admin), None).await;
        assert_eq!(s, StatusCode::OK, "{uri}");
        bodies.push(body);
    }
    let stored = app
        .store()
        .service_connection(&Fqn::parse("hive").unwrap())
        .await
        .unwrap();
    assert_eq!(stored.0["password"], PASSWORD, "the password is stored");
    assert_eq!(stored.0["auth"]["token"], TOKEN);
    assert_eq!(stored.0["host"], "meta2");

    // Connectors: basic auth against a real MLflow (which takes any credentials), a
    // bearer token against one that is down; both runs recorded, neither showing a secret.
    let mlflow = tributary_mlflow::testing::MlflowServer::start();
    for (name, connection) in [
        (
            "mlflow_basic",
            json!({"url": mlflow.url, "username": "svc", "password": PASSWORD}),
        ),
        (
            "mlflow_down",
            json!({"url": "http://127.0.0.1:1", "token": TOKEN}),
        ),
    ] {
        let (s, body) = app
            .put(
                &format!("/api/v1/services/{name}"),
                &app.admin,
                json!({"service_type": "mlflow", "connection": connection,
                       "ingestion": {"retries": 0}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        bodies.push(body);
        let uri = format!("/api/v1/services/{name}/runs");
        let (s, body) = app.call(Method::POST, &uri, Some(&app.editor), None).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{body}");
        let finished = loop {
            let (_, runs) = app.get(&uri).await;
            if runs["items"][0]["status"] != "running" {
                break runs;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        bodies.push(finished);
    }
    let statuses: Vec<String> = bodies[bodies.len() - 3..]
        .iter()
        .filter_map(|b| b["items"][0]["status"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(statuses, ["succeeded", "failed"], "{bodies:?}");
    drop(mlflow);
    let changes = app.store().changes_after(0, 1000).await.unwrap();
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("served"),
        "the capture sees the server's request logs"
    );
    assert!(
        logged.contains("ingestion run finished") && logged.contains("ingestion attempt failed"),
        "the capture sees the ingestion logs"
    );
    for secret in [PASSWORD, TOKEN] {
        for body in &bodies {
            assert!(
                !body.to_string().contains(secret),
                "a response shows a secret: {body}"
            );
        }
        assert!(!logged.contains(secret), "a log line shows a secret");
        assert!(
            !serde_json::to_string(&changes).unwrap().contains(secret),
            "the change log shows a secret"
        );
    }
    assert_eq!(bodies[0]["connection"]["password"], "***");
}

#[tokio::test]
async fn on_sqlite() {
    secrets_never_leave_the_store(tributary_store::testing::sqlite().await).await;
}

#[tokio::test]
async fn on_postgres() {
    if let Some(scratch) = tributary_store::testing::postgres().await {
        secrets_never_leave_the_store(scratch).await;
    }
}
