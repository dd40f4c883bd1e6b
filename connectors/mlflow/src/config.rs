//! The MLflow service's connection settings, read from its stored connection config.

use regex::Regex;
use serde::Deserialize;
use tributary_catalog::ConnectionConfig;
use tributary_connectors::ConnectorError;

/// How the connector reaches MLflow and maps what it finds.
#[derive(Debug, Clone)]
pub struct MlflowConfig {
    /// The tracking server, e.g. `https://mlflow.example.com` (no credentials in it).
    pub url: reqwest::Url,
    pub auth: Auth,
    /// The registered-model tag naming the owning team.
    pub owner_tag: String,
    /// Dataset → table rules, tried in order on each dataset's source URI, then its name.
    pub dataset_tables: Vec<DatasetRule>,
    /// Registered models per page read, and per batch handed over.
    pub page_size: u32,
    pub timeout: std::time::Duration,
}

#[derive(Clone)]
pub enum Auth {
    None,
    Basic { username: String, password: String },
    Bearer { token: String },
}

// Never the secrets: a config printed into a log line leaks nothing.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Auth::Bearer { .. } => f.write_str("Bearer(***)"),
        }
    }
}

/// Maps a dataset to a catalog table: `pattern` matched on the dataset's source URI (or
/// its name), `table` the FQN with `$1`, `${name}` … taken from the match.
#[derive(Debug, Clone)]
pub struct DatasetRule {
    pub pattern: Regex,
    pub table: String,
}

impl DatasetRule {
    /// The table FQN this rule maps `text` to, if it matches.
    pub fn apply(&self, text: &str) -> Option<String> {
        let captures = self.pattern.captures(text)?;
        let mut table = String::new();
        captures.expand(&self.table, &mut table);
        Some(table)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    url: String,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    #[serde(default = "default_owner_tag")]
    owner_tag: String,
    #[serde(default)]
    dataset_tables: Vec<RawRule>,
    #[serde(default = "default_page_size")]
    page_size: u32,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    pattern: String,
    table: String,
}

fn default_owner_tag() -> String {
    "owner".into()
}
fn default_page_size() -> u32 {
    100
}
fn default_timeout() -> u64 {
    30
}

impl MlflowConfig {
    /// Reads `{"url", "username"/"password" or "token", "owner_tag", "dataset_tables":
    /// [{"match", "table"}], "page_size", "timeout_secs"}`.
    pub fn from_connection(config: &ConnectionConfig) -> Result<Self, ConnectorError> {
        let raw: Raw = serde_json::from_value(serde_json::Value::Object(config.0.clone()))
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let url = reqwest::Url::parse(raw.url.trim_end_matches('/'))
            .map_err(|e| ConnectorError::Config(format!("url {:?}: {e}", raw.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConnectorError::Config(format!(
                "url must be http:// or https://, not {}://",
                url.scheme()
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ConnectorError::Config(
                "url must not carry credentials; set username and password (or token) instead"
                    .into(),
            ));
        }
        let auth = match (raw.username, raw.password, raw.token) {
            (None, None, None) => Auth::None,
            (Some(username), Some(password), None) => Auth::Basic { username, password },
            (None, None, Some(token)) => Auth::Bearer { token },
            _ => {
                return Err(ConnectorError::Config(
                    "give either username and password, or token, or neither".into(),
                ));
            }
        };
        let dataset_tables = raw
            .dataset_tables
            .into_iter()
            .enumerate()
            .map(|(i, rule)| {
                let pattern = Regex::new(&rule.pattern).map_err(|e| {
                    ConnectorError::Config(format!("dataset_tables[{i}].match: {e}"))
                })?;
                Ok(DatasetRule {
                    pattern,
                    table: rule.table,
                })
            })
            .collect::<Result<_, ConnectorError>>()?;
        if !(1..=1000).contains(&raw.page_size) {
            return Err(ConnectorError::Config("page_size must be 1 to 1000".into()));
        }
        Ok(MlflowConfig {
            url,
            auth,
            owner_tag: raw.owner_tag,
            dataset_tables,
            page_size: raw.page_size,
            timeout: std::time::Duration::from_secs(raw.timeout_secs.clamp(1, 3600)),
        })
    }

    /// The table a dataset maps to: the first rule matching its source URI, else its name.
    pub fn table_for(&self, source_uri: Option<&str>, name: &str) -> Option<String> {
        let by_uri =
            source_uri.and_then(|uri| self.dataset_tables.iter().find_map(|r| r.apply(uri)));
        by_uri.or_else(|| self.dataset_tables.iter().find_map(|r| r.apply(name)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(value: serde_json::Value) -> Result<MlflowConfig, ConnectorError> {
        MlflowConfig::from_connection(&serde_json::from_value(value).unwrap())
    }

    #[test]
    fn rules_map_sources_then_names() {
        let c = config(json!({
            "url": "http://mlflow:5000/",
            "dataset_tables": [
                {"match": "^https://warehouse\\.example/hive/(.+)$", "table": "hive_prod.$1"},
                {"match": "^(?P<name>[a-z_]+\\.[a-z_]+\\.[a-z_]+)$", "table": "hive_prod.${name}"}
            ]
        }))
        .unwrap();
        assert_eq!(c.url.as_str(), "http://mlflow:5000/");
        assert_eq!(
            c.table_for(Some("https://warehouse.example/hive/dwh.m.t"), "ignored")
                .as_deref(),
            Some("hive_prod.dwh.m.t")
        );
        assert_eq!(
            c.table_for(Some("s3://lake/x.parquet"), "dwh.payments.txn")
                .as_deref(),
            Some("hive_prod.dwh.payments.txn")
        );
        assert_eq!(c.table_for(Some("s3://lake/x.parquet"), "Frame 1"), None);
        assert_eq!(c.owner_tag, "owner");
    }

    #[test]
    fn bad_settings_say_what_to_fix_and_never_print_secrets() {
        let err = config(json!({"url": "http://u:p@mlflow"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must not carry credentials"), "{err}");
        let err = config(json!({"url": "ftp://mlflow"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("http"), "{err}");
        let err = config(json!({"url": "http://m", "token": "t", "password": "p"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("either"), "{err}");
        let err =
            config(json!({"url": "http://m", "dataset_tables": [{"match": "(", "table": "x"}]}))
                .unwrap_err()
                .to_string();
        assert!(err.contains("dataset_tables[0].match"), "{err}");
        let err = config(json!({"url": "http://m", "colour": "red"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
        let c =
            config(json!({"url": "http://m", "username": "svc", "password": "hunter2"})).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = config(json!({"url": "http://m", "token": "s3cr3t"})).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
