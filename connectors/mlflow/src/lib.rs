//! The MLflow connector: reads the model registry over MLflow's REST API (MLflow 2 and 3)
//! and reports, per registered model, an `ml_model` entity (description, tags, owner,
//! latest version, aliases and stage, source and run, hyperparameters and latest metrics)
//! with its features (the signature's input columns, typed), and lineage from the latest
//! version's training datasets: each feature fed by the same-named column of the table
//! the dataset maps to.
#![forbid(unsafe_code)]

mod client;
mod config;
mod mlmodel;
mod rest;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Value, json};
use tributary_catalog::{EdgeDraft, EdgeKey, EntityDraft, EntityKind, Fqn};
use tributary_connectors::{Connector, ConnectorError, SnapshotBatch, SnapshotSink, SourceTree};

pub use config::{Auth, DatasetRule, MlflowConfig};

use client::Client;
use rest::{ModelVersion, RegisteredModel, RegisteredModels, Run, RunResponse};

/// Reads one MLflow tracking server into the service `service`.
pub struct MlflowConnector {
    service: Fqn,
    config: MlflowConfig,
    client: Client,
}

impl MlflowConnector {
    pub fn new(service: Fqn, config: MlflowConfig) -> Result<Self, ConnectorError> {
        let client = Client::new(&config)?;
        Ok(MlflowConnector {
            service,
            config,
            client,
        })
    }

    /// One registered model: its tree and the edges into its features.
    async fn read_model(
        &self,
        model: RegisteredModel,
        batch: &mut SnapshotBatch,
        sink: &mut dyn SnapshotSink,
    ) -> Result<(), ConnectorError> {
        let Ok(fqn) = self.service.child(&model.name) else {
            sink.warn(format!(
                "model {:?}: its name cannot be an FQN part; skipped",
                model.name
            ));
            return Ok(());
        };
        let versions = self.versions(&model.name).await?;
        let latest = versions
            .iter()
            .max_by_key(|v| v.version.parse::<u64>().unwrap_or(0))
            .cloned();
        let run = match latest.as_ref().and_then(|v| v.run_id.as_deref()) {
            Some(run_id) if !run_id.is_empty() => self.run(run_id).await?,
            _ => None,
        };
        let signature = match &latest {
            Some(version) => self.signature(&model.name, version, sink).await?,
            None => None,
        };
        let owner = model
            .tags
            .iter()
            .find(|t| t.key == self.config.owner_tag)
            .map(|t| t.value.clone());

        let mut root = EntityDraft::bare(EntityKind::MlModel, fqn.clone(), "mlflow");
        root.description = model.description.clone().filter(|d| !d.trim().is_empty());
        root.owner = owner.clone();
        let mut tags: Vec<String> = model
            .tags
            .iter()
            .filter(|t| t.key != self.config.owner_tag && !t.key.starts_with("mlflow."))
            .map(|t| format!("{}:{}", t.key, t.value))
            .collect();
        tags.sort_unstable();
        root.tags = tags;
        root.attrs = model_attrs(
            &model,
            latest.as_ref(),
            run.as_ref(),
            signature.as_ref(),
            versions.len(),
        );

        let inputs = signature.map(|s| s.inputs).unwrap_or_default();
        if latest.is_some() && inputs.is_empty() {
            sink.warn(format!(
                "model {}: its latest version has no signature with named inputs, so no features",
                model.name
            ));
        }
        let mut children = Vec::with_capacity(inputs.len());
        for (ordinal, input) in inputs.iter().enumerate() {
            let Ok(feature) = fqn.child(&input.name) else {
                sink.warn(format!(
                    "model {}: input {:?} cannot be an FQN part",
                    model.name, input.name
                ));
                continue;
            };
            let mut draft = EntityDraft::bare(EntityKind::Feature, feature, "mlflow");
            draft.owner = owner.clone();
            draft.attrs = json!({
                "ordinal": ordinal,
                "data_type": input.data_type,
                "required": input.required,
            });
            children.push(draft);
        }

        for table in self.training_tables(&model.name, run.as_ref(), sink) {
            for feature in &children {
                let Ok(column) = table.child(feature.fqn.name()) else {
                    continue;
                };
                batch.edges.push(EdgeDraft {
                    key: EdgeKey {
                        from: column,
                        to: feature.fqn.clone(),
                        source: "mlflow".into(),
                    },
                    columns: vec![],
                    transform: None,
                });
            }
        }
        batch.trees.push(SourceTree { root, children });
        Ok(())
    }

    async fn versions(&self, name: &str) -> Result<Vec<ModelVersion>, ConnectorError> {
        let filter = if name.contains('\'') {
            format!("name=\"{}\"", name.replace('"', "\\\""))
        } else {
            format!("name='{name}'")
        };
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let page: rest::ModelVersions = self
                .client
                .get_json(
                    "api/2.0/mlflow/model-versions/search",
                    &[
                        ("filter", &filter),
                        ("max_results", "1000"),
                        ("page_token", &token),
                    ],
                )
                .await?
                .unwrap_or_default();
            out.extend(page.model_versions);
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = next,
                _ => return Ok(out),
            }
        }
    }

    async fn run(&self, run_id: &str) -> Result<Option<Run>, ConnectorError> {
        let response: Option<RunResponse> = self
            .client
            .get_json("api/2.0/mlflow/runs/get", &[("run_id", run_id)])
            .await?;
        Ok(response.map(|r| r.run))
    }

    /// The MLmodel file of a version: MLflow 3 serves it through the registry; MLflow 2
    /// (and models logged the old way) through the run's artifacts.
    async fn signature(
        &self,
        name: &str,
        version: &ModelVersion,
        sink: &mut dyn SnapshotSink,
    ) -> Result<Option<mlmodel::Signature>, ConnectorError> {
        let mut text = self
            .client
            .get(
                "model-versions/get-artifact",
                &[
                    ("name", name),
                    ("version", &version.version),
                    ("path", "MLmodel"),
                ],
            )
            .await?;
        if text.is_none()
            && let Some(run_id) = version.run_id.as_deref().filter(|r| !r.is_empty())
        {
            // `runs:/<run>/<path>` names the artifact folder; "model" is the usual one.
            let folder = version
                .source
                .as_deref()
                .and_then(|s| s.strip_prefix("runs:/"))
                .and_then(|s| s.split_once('/'))
                .map(|(_, path)| path.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| "model".into());
            let path = format!("{folder}/MLmodel");
            text = self
                .client
                .get("get-artifact", &[("path", &path), ("run_uuid", run_id)])
                .await?;
        }
        let Some(text) = text else { return Ok(None) };
        match mlmodel::signature(&text) {
            Ok(signature) => Ok(signature),
            Err(reason) => {
                sink.warn(format!(
                    "model {name} version {}: {reason}",
                    version.version
                ));
                Ok(None)
            }
        }
    }

    /// Catalog tables of the run's training datasets, by the configured rules.
    fn training_tables(
        &self,
        model: &str,
        run: Option<&Run>,
        sink: &mut dyn SnapshotSink,
    ) -> Vec<Fqn> {
        let Some(run) = run else { return Vec::new() };
        let mut tables = Vec::new();
        for input in &run.inputs.dataset_inputs {
            let dataset = &input.dataset;
            let uri = dataset.source_uri();
            match self.config.table_for(uri.as_deref(), &dataset.name) {
                Some(table) => match Fqn::parse(&table) {
                    Ok(fqn) if !tables.contains(&fqn) => tables.push(fqn),
                    Ok(_) => {}
                    Err(e) => sink.warn(format!(
                        "model {model}: dataset {:?} maps to {table:?}, not an FQN: {e}",
                        dataset.name
                    )),
                },
                None => sink.warn(format!(
                    "model {model}: dataset {:?} ({}) matches no dataset_tables rule; its features are not linked",
                    dataset.name,
                    uri.as_deref().unwrap_or("no source URI")
                )),
            }
        }
        tables
    }
}

fn model_attrs(
    model: &RegisteredModel,
    latest: Option<&ModelVersion>,
    run: Option<&Run>,
    signature: Option<&mlmodel::Signature>,
    versions: usize,
) -> Value {
    let aliases: BTreeMap<&str, &str> = model
        .aliases
        .iter()
        .map(|a| (a.alias.as_str(), a.version.as_str()))
        .collect();
    let (mut params, metrics) = match run {
        Some(run) => (
            run.data
                .params
                .iter()
                .map(|p| json!({ "name": p.key, "value": p.value, "description": null }))
                .collect::<Vec<_>>(),
            run.data
                .metrics
                .iter()
                .map(|m| (m.key.clone(), json!(m.value)))
                .collect::<serde_json::Map<_, _>>(),
        ),
        None => (Vec::new(), serde_json::Map::new()),
    };
    params.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    json!({
        "algorithm": signature.and_then(|s| s.algorithm.clone()),
        "version": latest.map(|v| v.version.clone()),
        "versions": versions,
        "stage": latest.and_then(|v| v.current_stage.clone()).filter(|s| s != "None"),
        "aliases": aliases,
        "source": latest.and_then(|v| v.source.clone()),
        "run_id": latest.and_then(|v| v.run_id.clone()).filter(|r| !r.is_empty()),
        "hyperparameters": params,
        "metrics": metrics,
    })
}

#[async_trait]
impl Connector for MlflowConnector {
    async fn test_connection(&self) -> Result<(), ConnectorError> {
        self.client
            .get_json::<RegisteredModels>(
                "api/2.0/mlflow/registered-models/search",
                &[("max_results", "1")],
            )
            .await?;
        Ok(())
    }

    async fn pull(&self, sink: &mut dyn SnapshotSink) -> Result<(), ConnectorError> {
        let page_size = self.config.page_size.to_string();
        let mut token = String::new();
        loop {
            let page: RegisteredModels = self
                .client
                .get_json(
                    "api/2.0/mlflow/registered-models/search",
                    &[("max_results", &page_size), ("page_token", &token)],
                )
                .await?
                .ok_or_else(|| ConnectorError::Source {
                    url: self.config.url.to_string(),
                    status: 404,
                    message: "no model registry here (registered-models/search not found); is this an MLflow tracking server?".into(),
                })?;
            let mut batch = SnapshotBatch::default();
            for model in page.registered_models {
                self.read_model(model, &mut batch, sink).await?;
            }
            sink.accept(batch).await?;
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = next,
                _ => return Ok(()),
            }
        }
    }
}
