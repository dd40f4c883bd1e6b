//! The connector against a real MLflow server (scripts/mlflow-server, seeded by
//! scripts/mlflow_seed.py): what it reports, and how it fails.

use serde_json::json;
use tributary_catalog::Fqn;
use tributary_connectors::{Connector, ConnectorError, SinkError, SnapshotBatch, SnapshotSink};
use tributary_mlflow::testing::MlflowServer;
use tributary_mlflow::{MlflowConfig, MlflowConnector};

#[derive(Default)]
struct Collected {
    batches: Vec<SnapshotBatch>,
    warnings: Vec<String>,
}

#[async_trait::async_trait]
impl SnapshotSink for Collected {
    async fn accept(&mut self, batch: SnapshotBatch) -> Result<(), SinkError> {
        self.batches.push(batch);
        Ok(())
    }
    fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }
}

fn connector(url: &str, page_size: u32) -> MlflowConnector {
    let config = MlflowConfig::from_connection(
        &serde_json::from_value(json!({
            "url": url,
            "page_size": page_size,
            "dataset_tables": [
                {"match": "^https://warehouse\\.example/hive/(.+)$", "table": "hive_prod.$1"}
            ]
        }))
        .unwrap(),
    )
    .unwrap();
    MlflowConnector::new(Fqn::parse("mlflow_prod").unwrap(), config).unwrap()
}

#[tokio::test]
async fn reads_an_mlflow_3_registry_and_fails_clearly_when_down() {
    reads_the_registry_and_fails_clearly_when_down(MlflowServer::start_major(3)).await;
}

/// MLflow 2 keeps a model under its run's artifacts (`runs:/<run>/model`) and has no
/// logged-model entity: the same registry must read the same.
#[tokio::test]
async fn reads_an_mlflow_2_registry_and_fails_clearly_when_down() {
    reads_the_registry_and_fails_clearly_when_down(MlflowServer::start_major(2)).await;
}

async fn reads_the_registry_and_fails_clearly_when_down(server: MlflowServer) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mlflow = connector(&server.url, 2);
    mlflow.test_connection().await.unwrap();
    let mut sink = Collected::default();
    mlflow.pull(&mut sink).await.unwrap();
    assert_eq!(sink.batches.len(), 2, "three models in pages of two");
    let trees: Vec<_> = sink.batches.iter().flat_map(|b| &b.trees).collect();
    let mut names: Vec<&str> = trees.iter().map(|t| t.root.fqn.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "mlflow_prod.churn_model",
            "mlflow_prod.fraud_model",
            "mlflow_prod.legacy_scorecard"
        ]
    );

    let churn = trees
        .iter()
        .find(|t| t.root.fqn.name() == "churn_model")
        .unwrap();
    assert_eq!(churn.root.owner.as_deref(), Some("churn-squad"));
    assert_eq!(
        churn.root.description.as_deref(),
        Some("Predicts churn within 30 days")
    );
    let attrs = &churn.root.attrs;
    assert_eq!(attrs["version"], "2", "the latest version: {attrs}");
    assert_eq!(attrs["versions"], 2);
    assert_eq!(
        attrs["aliases"],
        json!({"champion": "2", "challenger": "1"})
    );
    assert_eq!(
        attrs["hyperparameters"],
        json!([
            {"name": "learning_rate", "value": "0.05", "description": null},
            {"name": "max_depth", "value": "8", "description": null}
        ]),
        "the latest version's run"
    );
    assert_eq!(attrs["metrics"]["auc"], 0.84);
    // `models:/m-…` in MLflow 3, the run's artifact folder in MLflow 2.
    assert!(
        attrs["source"].as_str().unwrap().len() > "models:/".len(),
        "{attrs}"
    );
    let features: Vec<(&str, &str)> = churn
        .children
        .iter()
        .map(|f| (f.fqn.name(), f.attrs["data_type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        features,
        [
            ("avg_check_30d", "double"),
            ("calls_7d", "long"),
            ("tenure_months", "long")
        ]
    );
    assert!(
        churn
            .children
            .iter()
            .all(|f| f.owner.as_deref() == Some("churn-squad"))
    );

    let edges: Vec<(String, String)> = sink
        .batches
        .iter()
        .flat_map(|b| &b.edges)
        .map(|e| (e.key.from.to_string(), e.key.to.to_string()))
        .collect();
    assert!(edges.contains(&(
        "hive_prod.dwh.client_marts.features_daily.avg_check_30d".into(),
        "mlflow_prod.churn_model.avg_check_30d".into()
    )));
    assert!(edges.contains(&(
        "hive_prod.dwh.payments.txn_features.amount_z".into(),
        "mlflow_prod.fraud_model.amount_z".into()
    )));
    assert_eq!(edges.len(), 3 + 2);

    let legacy = trees
        .iter()
        .find(|t| t.root.fqn.name() == "legacy_scorecard")
        .unwrap();
    assert!(legacy.children.is_empty());
    assert!(
        sink.warnings.is_empty(),
        "a model without versions is not a problem: {:?}",
        sink.warnings
    );

    // Down: the error names the endpoint and the cause, and nothing was handed over.
    let url = server.url.clone();
    drop(server);
    let mut sink = Collected::default();
    let err = connector(&url, 100).pull(&mut sink).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(sink.batches.is_empty());
}
