//! The parts of MLflow's REST responses the connector reads. Everything optional or
//! defaulted: MLflow leaves out empty fields.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RegisteredModels {
    #[serde(default)]
    pub registered_models: Vec<RegisteredModel>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RegisteredModel {
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub aliases: Vec<Alias>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Alias {
    pub alias: String,
    pub version: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ModelVersions {
    #[serde(default)]
    pub model_versions: Vec<ModelVersion>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ModelVersion {
    pub version: String,
    pub current_stage: Option<String>,
    pub source: Option<String>,
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RunResponse {
    pub run: Run,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Run {
    #[serde(default)]
    pub data: RunData,
    #[serde(default)]
    pub inputs: RunInputs,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RunData {
    #[serde(default)]
    pub params: Vec<Tag>,
    #[serde(default)]
    pub metrics: Vec<Metric>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Metric {
    pub key: String,
    pub value: f64,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RunInputs {
    #[serde(default)]
    pub dataset_inputs: Vec<DatasetInput>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DatasetInput {
    pub dataset: Dataset,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Dataset {
    #[serde(default)]
    pub name: String,
    /// A JSON text, e.g. `{"uri": "s3://…"}` or `{"url": "https://…"}`.
    pub source: Option<String>,
}

impl Dataset {
    /// The dataset's source URI, from the JSON text MLflow keeps it in.
    pub fn source_uri(&self) -> Option<String> {
        let source: serde_json::Value = serde_json::from_str(self.source.as_deref()?).ok()?;
        ["uri", "url", "path", "table_name"]
            .iter()
            .find_map(|key| source.get(key)?.as_str().map(str::to_owned))
    }
}
