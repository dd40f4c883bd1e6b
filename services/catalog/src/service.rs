//! Services: the source systems (Hive, ClickHouse, MLflow, …) and how to reach them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// What every secret value is replaced with whenever a connection config leaves the store.
pub const REDACTED: &str = "***";

/// The system a service is. Connectors are chosen by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    Hive,
    Clickhouse,
    Mlflow,
    Postgres,
    Mysql,
    /// Anything the catalog has no connector for; entities are pushed to it by API or YAML.
    Custom,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Hive => "hive",
            ServiceType::Clickhouse => "clickhouse",
            ServiceType::Mlflow => "mlflow",
            ServiceType::Postgres => "postgres",
            ServiceType::Mysql => "mysql",
            ServiceType::Custom => "custom",
        }
    }
}

/// How to reach a service: host, port, user, password, … as a JSON object.
///
/// Values under secret-looking keys (password, token, secret, key, credentials) are never
/// shown: [`ConnectionConfig::redacted`] replaces them, and `Debug` prints only the redacted
/// form, so a config that ends up in a log line leaks nothing.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionConfig(pub Map<String, Value>);

impl ConnectionConfig {
    /// Whether the value under `key` is a secret. Matches on name fragments, so
    /// `db_password`, `apiToken` and `private_key_pem` are all covered.
    pub fn is_secret_key(key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        [
            "password",
            "passwd",
            "secret",
            "token",
            "key",
            "credential",
            "auth",
        ]
        .iter()
        .any(|fragment| key.contains(fragment))
    }

    /// A copy with every secret value (at any depth) replaced by [`REDACTED`].
    pub fn redacted(&self) -> ConnectionConfig {
        ConnectionConfig(redact_map(&self.0))
    }

    /// Takes the stored secret back wherever `self` (an update) sends [`REDACTED`], so a
    /// client can round-trip what it read without wiping the password it was never shown.
    pub fn keep_secrets_from(mut self, stored: &ConnectionConfig) -> ConnectionConfig {
        for (key, value) in self.0.iter_mut() {
            if value.as_str() == Some(REDACTED)
                && let Some(old) = stored.0.get(key)
            {
                *value = old.clone();
            }
        }
        self
    }

    /// Every secret value in the config, for tests and log scrubbing.
    pub fn secret_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_secrets(&self.0, &mut out);
        out
    }
}

fn redact_map(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .map(|(key, value)| {
            let value = match value {
                _ if ConnectionConfig::is_secret_key(key) && !value.is_null() => {
                    Value::String(REDACTED.into())
                }
                Value::Object(inner) => Value::Object(redact_map(inner)),
                other => other.clone(),
            };
            (key.clone(), value)
        })
        .collect()
}

fn collect_secrets(map: &Map<String, Value>, out: &mut Vec<String>) {
    for (key, value) in map {
        match value {
            Value::Object(inner) => collect_secrets(inner, out),
            Value::String(s) if ConnectionConfig::is_secret_key(key) => out.push(s.clone()),
            other if ConnectionConfig::is_secret_key(key) && !other.is_null() => {
                out.push(other.to_string())
            }
            _ => {}
        }
    }
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionConfig({})", Value::Object(self.redacted().0))
    }
}

impl utoipa::PartialSchema for ConnectionConfig {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .description(Some(
                "Connection settings as a JSON object. Values under keys containing password, \
                 secret, token, key, credential or auth are stored but always returned as \"***\"; \
                 sending \"***\" back keeps the stored value.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ConnectionConfig {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(value: Value) -> ConnectionConfig {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn secrets_are_redacted_at_any_depth_and_in_debug() {
        let cfg = config(json!({
            "host": "metastore", "port": 5432, "password": "hunter2",
            "auth": {"apiToken": "t0k"}, "nested": {"db_password": "p2"}
        }));
        let shown = serde_json::to_string(&cfg.redacted()).unwrap();
        for secret in ["hunter2", "t0k", "p2"] {
            assert!(!shown.contains(secret));
            assert!(!format!("{cfg:?}").contains(secret));
        }
        assert!(shown.contains("metastore"));
        let mut secrets = cfg.secret_values();
        secrets.sort();
        assert_eq!(secrets, ["hunter2", "p2", "t0k"]);
    }

    #[test]
    fn a_redacted_value_sent_back_keeps_the_stored_secret() {
        let stored = config(json!({"host": "a", "password": "hunter2"}));
        let update = config(json!({"host": "b", "password": REDACTED}));
        let merged = update.keep_secrets_from(&stored);
        assert_eq!(merged.0["password"], "hunter2");
        assert_eq!(merged.0["host"], "b");
    }
}
