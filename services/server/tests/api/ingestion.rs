//! Ingestion through the API against a real MLflow server (scripts/mlflow-server): runs
//! fill the catalog, write nothing the second time, soft-delete what MLflow dropped, and
//! fail clearly when it is down. The scheduler under a hand-set clock: cron slots in a
//! time zone, no overlap, a second replica kept out by the lease until it runs out.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use serde_json::{Value, json};
use tributary_catalog::Fqn;
use tributary_mlflow::testing::MlflowServer;
use tributary_server::ingestion::{Clock, Ingestion, IngestionConfig, Scheduler};
use tributary_store::{RunStatus, RunTrigger};

use super::harness::{TestApp, code, table};

const TOKEN: &str = "mlflow-bearer-s3cr3t-value";

/// Starts a run through the API and waits for it to finish; the finished run.
async fn run(app: &TestApp, service: &str) -> Value {
    let uri = format!("/api/v1/services/{service}/runs");
    // The previous run is seen finished a moment before its task lets the service go, as
    // any client may see it: a 409 then is retried briefly.
    let retry_until = Instant::now() + Duration::from_secs(2);
    let (s, started) = loop {
        let (s, body) = app.call(Method::POST, &uri, Some(&app.editor), None).await;
        if s != StatusCode::CONFLICT || Instant::now() > retry_until {
            break (s, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(s, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["status"], "running");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (s, runs) = app.get(&uri).await;
        assert_eq!(s, StatusCode::OK);
        let newest = &runs["items"][0];
        assert_eq!(newest["id"], started["id"]);
        if newest["status"] != "running" {
            return newest.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the run did not finish: {newest}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn mlflow_service(app: &TestApp, url: &str) {
    let (s, body) = app
        .put(
            "/api/v1/services/mlflow_prod",
            &app.admin,
            json!({
                "service_type": "mlflow",
                "connection": {
                    "url": url,
                    "token": TOKEN,
                    "dataset_tables": [
                        {"match": "^https://warehouse\\.example/hive/(.+)$", "table": "hive.$1"}
                    ]
                },
                "ingestion": {"retries": 0}
            }),
        )
        .await;
    assert!(s.is_success(), "{body}");
    assert_eq!(body["connection"]["token"], "***");
}

pub async fn mlflow_runs_fill_the_catalog_then_follow_it(app: &TestApp) {
    let mlflow = MlflowServer::start();
    let (s, _) = app
        .put("/api/v1/teams/churn-squad", &app.admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .put(
            "/api/v1/services/hive",
            &app.admin,
            json!({"service_type": "hive"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, body) = app
        .put(
            "/api/v1/tables",
            &app.editor,
            table(
                "hive.dwh.client_marts.features_daily",
                &["avg_check_30d", "calls_7d"],
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    mlflow_service(app, &mlflow.url).await;
    let test = "/api/v1/services/mlflow_prod/connection-test";
    let (s, tested) = app.call(Method::POST, test, Some(&app.editor), None).await;
    assert_eq!(s, StatusCode::OK, "{tested}");
    assert_eq!(tested, json!({"reachable": true, "error": null}));

    let first = run(app, "mlflow_prod").await;
    assert_eq!(first["status"], "succeeded", "{first}");
    assert_eq!(first["trigger"], "manual");
    let counts = &first["counts"];
    assert_eq!(
        counts["entities_created"],
        3 + 3 + 2,
        "models and features: {first}"
    );
    assert_eq!(
        counts["edges_added"], 2,
        "the two columns the catalog holds: {first}"
    );
    let warnings = first["warnings"].to_string();
    assert!(
        warnings.contains("risk-team"),
        "an owner with no team: {warnings}"
    );
    assert!(
        warnings.contains("hive.dwh.client_marts.features_daily.tenure_months"),
        "a column the catalog lacks: {warnings}"
    );

    let (s, churn) = app.get("/api/v1/models/mlflow_prod.churn_model").await;
    assert_eq!(s, StatusCode::OK, "{churn}");
    assert_eq!(churn["model"]["owner"], "churn-squad");
    assert_eq!(churn["model"]["attrs"]["version"], "2");
    assert_eq!(churn["model"]["attrs"]["aliases"]["champion"], "2");
    let params = churn["model"]["attrs"]["hyperparameters"].to_string();
    assert!(
        params.contains("max_depth") && params.contains("\"8\""),
        "{params}"
    );
    let features: Vec<(String, String)> = churn["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["attrs"]["data_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        features,
        [
            ("avg_check_30d".to_owned(), "double".to_owned()),
            ("calls_7d".to_owned(), "long".to_owned()),
            ("tenure_months".to_owned(), "long".to_owned())
        ]
    );
    let (s, fraud) = app.get("/api/v1/models/mlflow_prod.fraud_model").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        fraud["model"]["owner"],
        Value::Null,
        "risk-team has no team here"
    );
    // The feature→column edge reaches impact analysis once the run's task has brought
    // the graph up to date, right after recording the end.
    let deadline = Instant::now() + Duration::from_secs(10);
    let impact = loop {
        let (s, impact) = app
            .get("/api/v1/impact?fqn=hive.dwh.client_marts.features_daily.avg_check_30d")
            .await;
        assert_eq!(s, StatusCode::OK, "{impact}");
        if impact.to_string().contains("mlflow_prod.churn_model") || Instant::now() > deadline {
            break impact;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        impact.to_string().contains("mlflow_prod.churn_model"),
        "{impact}"
    );

    // Nothing changed in MLflow: the second run writes nothing.
    let seq = app.store().last_change_seq().await.unwrap();
    let second = run(app, "mlflow_prod").await;
    assert_eq!(second["status"], "succeeded", "{second}");
    assert!(
        second["counts"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == 0),
        "{second}"
    );
    assert_eq!(
        app.store().last_change_seq().await.unwrap(),
        seq,
        "no change-log rows"
    );

    // A model deleted in MLflow is soft-deleted with its features on the next run.
    let deleted = reqwest::Client::new()
        .delete(format!(
            "{}/api/2.0/mlflow/registered-models/delete",
            mlflow.url
        ))
        .json(&json!({"name": "fraud_model"}))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let third = run(app, "mlflow_prod").await;
    assert_eq!(third["status"], "succeeded", "{third}");
    assert_eq!(third["counts"]["entities_deleted"], 3, "{third}");
    let (s, body) = app.get("/api/v1/models/mlflow_prod.fraud_model").await;
    assert_eq!((s, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, _) = app.get("/api/v1/models/mlflow_prod.churn_model").await;
    assert_eq!(s, StatusCode::OK);

    // MLflow down: the run fails with the endpoint and the cause, and deletes nothing.
    drop(mlflow);
    let (s, tested) = app.call(Method::POST, test, Some(&app.editor), None).await;
    assert_eq!(s, StatusCode::OK, "{tested}");
    assert_eq!(tested["reachable"], false);
    assert!(
        tested["error"].as_str().unwrap().contains("cannot reach"),
        "{tested}"
    );
    let down = run(app, "mlflow_prod").await;
    assert_eq!(down["status"], "failed", "{down}");
    let error = down["error"].as_str().unwrap();
    assert!(error.contains("cannot reach http://127.0.0.1:"), "{error}");
    let (s, _) = app.get("/api/v1/models/mlflow_prod.churn_model").await;
    assert_eq!(s, StatusCode::OK, "a failed run deletes nothing");

    let (_, runs) = app.get("/api/v1/services/mlflow_prod/runs").await;
    let statuses: Vec<&str> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "succeeded", "succeeded", "succeeded"]);
    let (_, service) = app.get("/api/v1/services/mlflow_prod").await;
    for shown in [runs.to_string(), service.to_string()] {
        assert!(!shown.contains(TOKEN), "the token leaked: {shown}");
    }
}

pub async fn run_requests_are_checked(app: &TestApp) {
    let (s, body) = app
        .call(
            Method::POST,
            "/api/v1/services/nope/runs",
            Some(&app.editor),
            None,
        )
        .await;
    assert_eq!((s, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, _) = app
        .put(
            "/api/v1/services/hive",
            &app.admin,
            json!({"service_type": "hive"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // A service without a connector can be neither run nor tested.
    for action in ["runs", "connection-test"] {
        let uri = format!("/api/v1/services/hive/{action}");
        let (s, body) = app.call(Method::POST, &uri, Some(&app.editor), None).await;
        assert_eq!(
            (s, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "no_connector"),
            "{uri}: {body}"
        );
    }
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/services/hive/runs",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = app.get("/api/v1/services/hive/runs?limit=0").await;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "invalid_limit"));
    let (s, body) = app.get("/api/v1/services/hive/runs?colour=red").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    for (ingestion, says) in [
        (json!({"schedule": "0 3 * *"}), "not a schedule"),
        (
            json!({"schedule": "@daily", "timezone": "Mars/Olympus"}),
            "Mars/Olympus",
        ),
        (json!({"timezone": "UTC"}), "without a schedule"),
        (json!({"schedule": "@daily", "retries": 99}), "retries"),
        (json!({"schedule": "@daily", "every": "day"}), "every"),
    ] {
        let (s, body) = app
            .put(
                "/api/v1/services/hive",
                &app.admin,
                json!({"service_type": "hive", "ingestion": ingestion}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{ingestion}: {body}");
        assert!(body.to_string().contains(says), "{ingestion}: {body}");
    }
    let (s, body) = app
        .put(
            "/api/v1/services/hive",
            &app.admin,
            json!({"service_type": "hive", "ingestion": {"schedule": "0 3 * * *", "timezone": "Europe/Moscow"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["ingestion"]["timezone"], "Europe/Moscow");

    // Connection settings the connector cannot use: the run is recorded as failed, saying why.
    let (s, _) = app
        .put(
            "/api/v1/services/mlflow_bad",
            &app.admin,
            json!({"service_type": "mlflow", "connection": {"uri": "http://mlflow"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let failed = run(app, "mlflow_bad").await;
    assert_eq!(failed["status"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("connection settings are invalid") && error.contains("uri"),
        "{error}"
    );
    assert_eq!(
        error.matches("connection settings are invalid").count(),
        1,
        "said once: {error}"
    );
    // While a run of a service is in progress, another is refused.
    let held = app
        .state
        .ingestion
        .begin(&Fqn::parse("mlflow_bad").unwrap(), RunTrigger::Manual, None)
        .await
        .unwrap()
        .unwrap();
    let (s, body) = app
        .call(
            Method::POST,
            "/api/v1/services/mlflow_bad/runs",
            Some(&app.editor),
            None,
        )
        .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::CONFLICT, "run_in_progress"),
        "{body}"
    );
    drop(held);
}

/// A clock the test sets.
struct HandClock(Mutex<DateTime<Utc>>);

impl HandClock {
    fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap() = to;
    }
}

impl Clock for HandClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub async fn the_scheduler_runs_due_slots_once_across_replicas(app: &TestApp) {
    // Nothing listens on port 1: each run fails fast, as with MLflow down.
    let (s, body) = app
        .put(
            "/api/v1/services/mlflow_down",
            &app.admin,
            json!({
                "service_type": "mlflow",
                "connection": {"url": "http://127.0.0.1:1"},
                "ingestion": {"schedule": "0 3 * * *", "timezone": "Europe/Moscow", "retries": 0}
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let created: DateTime<Utc> = body["created_at"].as_str().unwrap().parse().unwrap();
    // 03:00 in Moscow is 00:00 UTC: the first slot is the next UTC midnight.
    let midnight = (created + TimeDelta::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let clock = Arc::new(HandClock(Mutex::new(created)));
    let config = IngestionConfig {
        lease: Duration::from_secs(60),
        ..IngestionConfig::default()
    };
    let store = app.scratch.store.clone();
    let replica_a = Ingestion::new(store.clone(), config.clone(), clock.clone(), "replica-a");
    let replica_b = Ingestion::new(store.clone(), config, clock.clone(), "replica-b");
    let (a, b) = (Scheduler::new(replica_a.clone()), Scheduler::new(replica_b));

    clock.set(midnight - TimeDelta::minutes(1));
    assert!(a.tick().await.unwrap().is_empty(), "not due yet");

    clock.set(midnight + TimeDelta::seconds(30));
    let started = a.tick().await.unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].slot, midnight);
    assert_eq!(started[0].slot.hour(), 0, "03:00 Moscow in UTC");
    let failed = started
        .into_iter()
        .next()
        .unwrap()
        .task
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, RunStatus::Failed);
    assert!(
        failed.error.as_deref().unwrap().contains("cannot reach"),
        "{failed:?}"
    );
    assert_eq!(failed.scheduled_for, Some(midnight));

    clock.set(midnight + TimeDelta::minutes(1));
    assert!(a.tick().await.unwrap().is_empty(), "a slot runs once");
    assert!(
        b.tick().await.unwrap().is_empty(),
        "also on another replica"
    );

    // Three days down: the latest slot runs, once; the failure before does not stop it.
    let later = midnight + TimeDelta::days(3);
    clock.set(later + TimeDelta::minutes(1));
    let started = a.tick().await.unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].slot, later);
    started
        .into_iter()
        .next()
        .unwrap()
        .task
        .await
        .unwrap()
        .unwrap();

    // Replica A holds the service (a run begun, not finished): neither scheduler starts
    // another, A's because it runs here, B's because of the lease.
    let next = midnight + TimeDelta::days(4);
    clock.set(next + TimeDelta::seconds(1));
    let service = Fqn::parse("mlflow_down").unwrap();
    let held = replica_a
        .begin(&service, RunTrigger::Manual, None)
        .await
        .unwrap()
        .unwrap();
    clock.set(next + TimeDelta::seconds(30));
    assert!(
        a.tick().await.unwrap().is_empty(),
        "no overlap in one replica"
    );
    assert!(
        b.tick().await.unwrap().is_empty(),
        "no run under another's live lease"
    );

    // A stops without releasing it; once the lease runs out, B takes the service over and
    // A's run is recorded as abandoned.
    clock.set(next + TimeDelta::seconds(62));
    let started = b.tick().await.unwrap();
    assert_eq!(started.len(), 1, "an expired lease is taken over");
    assert_eq!(started[0].slot, next);
    let taken = started
        .into_iter()
        .next()
        .unwrap()
        .task
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.holder, "replica-b");
    let runs = store.ingestion_runs(taken.service_id, 10).await.unwrap();
    let abandoned = runs.iter().find(|r| r.id == held.run.id).unwrap();
    assert_eq!(abandoned.status, RunStatus::Failed);
    assert!(abandoned.error.as_deref().unwrap().contains("abandoned"));
    assert_eq!(runs.len(), 4, "two slots, the held run, the take-over");
    drop(held);
}

pub async fn a_run_whose_lease_is_taken_over_stops(app: &TestApp) {
    // A source that accepts connections and never answers: the run hangs in its pull.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let (s, body) = app
        .put(
            "/api/v1/services/mlflow_slow",
            &app.admin,
            json!({"service_type": "mlflow", "connection": {"url": url, "timeout_secs": 30},
                   "ingestion": {"retries": 0}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let t0 = Utc::now();
    let clock = Arc::new(HandClock(Mutex::new(t0)));
    // Renewed every 100 ms of real time, at the hand-set clock's time.
    let config = IngestionConfig {
        lease: Duration::from_millis(300),
        ..IngestionConfig::default()
    };
    let store = app.scratch.store.clone();
    let a = Ingestion::new(store.clone(), config.clone(), clock.clone(), "replica-a");
    let b = Ingestion::new(store.clone(), config, clock.clone(), "replica-b");
    let service = Fqn::parse("mlflow_slow").unwrap();
    let begun = a
        .begin(&service, RunTrigger::Manual, None)
        .await
        .unwrap()
        .unwrap();
    // A stalls past its lease (the clock jumps); B takes the service over.
    clock.set(t0 + TimeDelta::seconds(1));
    let taken = b
        .begin(&service, RunTrigger::Manual, None)
        .await
        .unwrap()
        .unwrap();
    let started = Instant::now();
    let stopped = a.execute(begun, None).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "A stopped, not timed out"
    );
    assert_eq!(stopped.status, RunStatus::Failed);
    assert!(
        stopped
            .error
            .as_deref()
            .unwrap()
            .contains("another replica took"),
        "{stopped:?}"
    );
    // B's claim is intact: A, no longer the holder, released nothing.
    assert!(
        !store
            .acquire_ingestion_lease(
                taken.service.id,
                "replica-c",
                clock.now(),
                Duration::from_secs(1)
            )
            .await
            .unwrap()
    );
    drop(taken);
    drop(silent);
}
