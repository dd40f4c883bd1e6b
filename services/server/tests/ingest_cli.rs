//! `tributary ingest SERVICE` end to end: the binary against a catalog file and a real
//! MLflow server, with its exit codes — 0 succeeded, 1 the run failed, 2 it could not start.

use std::process::{Command, Output};

use serde_json::json;
use tributary_catalog::{ConnectionConfig, EntityDraft, EntityKind, Fqn, TeamDraft};
use tributary_mlflow::testing::MlflowServer;

const TOKEN: &str = "cli-bearer-7f3e2a";

fn ingest(database_url: &str, service: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["ingest", service, "--database-url", database_url])
        .env("TRIBUTARY_LOG", "warn")
        // One attempt: the down case fails at once instead of after the retries' backoff.
        .env("TRIBUTARY_INGESTION__RETRIES", "0")
        .output()
        .expect("run tributary ingest")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn service(
    store: &dyn tributary_store::Store,
    name: &str,
    kind: &str,
    connection: serde_json::Value,
) {
    let mut draft = EntityDraft::bare(EntityKind::Service, Fqn::parse(name).unwrap(), "test");
    draft.attrs = json!({ "service_type": kind });
    let connection: ConnectionConfig = serde_json::from_value(connection).unwrap();
    store.put_service("test", draft, connection).await.unwrap();
}

#[tokio::test]
async fn ingest_runs_once_and_says_how_it_went() {
    let scratch = tributary_store::testing::sqlite().await;
    let store = scratch.store.as_ref();
    let mlflow = MlflowServer::start();
    store
        .put_team(
            "test",
            TeamDraft {
                name: "churn-squad".into(),
                display_name: None,
                description: None,
                contact: None,
                webhook_url: None,
            },
        )
        .await
        .unwrap();
    service(
        store,
        "mlflow_prod",
        "mlflow",
        json!({"url": mlflow.url, "token": TOKEN}),
    )
    .await;
    service(store, "hive", "hive", json!({})).await;

    let first = ingest(&scratch.url, "mlflow_prod");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(
        said.contains("succeeded") && said.contains("entities +8"),
        "{said}"
    );
    store
        .get_entity(&Fqn::parse("mlflow_prod.churn_model.calls_7d").unwrap())
        .await
        .unwrap();

    let again = ingest(&scratch.url, "mlflow_prod");
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("entities +0 ~0 -0, edges +0 ~0 -0"),
        "{}",
        text(&again)
    );

    for (name, says) in [("nope", "service nope not found"), ("hive", "no connector")] {
        let refused = ingest(&scratch.url, name);
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
        assert!(text(&refused).contains(says), "{}", text(&refused));
    }

    drop(mlflow);
    let down = ingest(&scratch.url, "mlflow_prod");
    assert_eq!(down.status.code(), Some(1), "{}", text(&down));
    assert!(
        text(&down).contains("failed: cannot reach"),
        "{}",
        text(&down)
    );

    for output in [&first, &again, &down] {
        assert!(!text(output).contains(TOKEN), "the token was printed");
    }
    let service_id = store
        .get_entity(&Fqn::parse("mlflow_prod").unwrap())
        .await
        .unwrap()
        .id;
    let runs = store.ingestion_runs(service_id, 10).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert!(
        runs.iter()
            .all(|r| r.trigger == tributary_store::RunTrigger::Cli)
    );
}
