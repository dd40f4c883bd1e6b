//! Configuration, layered: built-in defaults, then `tributary.toml`, then `TRIBUTARY_*`
//! environment variables (`__` separates nesting: `TRIBUTARY_AUTH__ANONYMOUS_READ=false`),
//! then command-line flags.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Where the embedded default keeps its catalog, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./tributary-data/catalog.db";

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://path` (embedded) or `postgres://user:pass@host/db` (shared).
    pub database_url: String,
    pub auth: AuthConfig,
    pub http: HttpConfig,
    pub graph: GraphConfig,
    pub search: SearchConfig,
    pub documents: DocumentsConfig,
    pub notifier: crate::notifier::NotifierConfig,
    pub ingestion: crate::ingestion::IngestionConfig,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DocumentsConfig {
    /// How DataHub lineage files' datasets map to services: `[[documents.datahub_platforms]]`
    /// with `platform`, optional `platform_instance`, `service`, and the `database` and
    /// `schema` short dataset names lack. A platform without a rule maps to the service of
    /// its instance's (else its own) name.
    pub datahub_platforms: Vec<tributary_documents::PlatformRule>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchConfig {
    /// Where the search index lives. Unset: beside an SQLite catalog file
    /// (`catalog.db` → `catalog.search/`); in memory, rebuilt at each start, for PostgreSQL.
    pub dir: Option<std::path::PathBuf>,
    /// Keep the index in memory even where a directory could be used.
    pub in_memory: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphConfig {
    /// How often to read the change log for writes made by other replicas, in ms.
    pub follow_interval_ms: u64,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            follow_interval_ms: 500,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Let requests without a token read the catalog. On by default for a local install;
    /// turn it off for a shared deployment.
    pub anonymous_read: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes (413 beyond it).
    pub body_limit: usize,
    /// A request taking longer is answered 408.
    pub request_timeout_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8585)),
            database_url: DEFAULT_DATABASE_URL.into(),
            auth: AuthConfig::default(),
            http: HttpConfig::default(),
            graph: GraphConfig::default(),
            search: SearchConfig::default(),
            documents: DocumentsConfig::default(),
            notifier: Default::default(),
            ingestion: Default::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            anonymous_read: true,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit: 16 * 1024 * 1024,
            request_timeout_secs: 60,
        }
    }
}

/// Values given on the command line; only those set override the other layers.
#[derive(Debug, Default, Serialize)]
pub struct ConfigOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// A configuration that cannot be loaded: the message names the key and the layer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(Box<figment::Error>);

impl From<figment::Error> for ConfigError {
    fn from(err: figment::Error) -> Self {
        ConfigError(Box::new(err))
    }
}

impl Config {
    /// Loads the layers. A missing config file is fine unless it was named explicitly.
    pub fn load(file: Option<&Path>, overrides: ConfigOverrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(figment::Error::from(format!(
                    "config file {} does not exist",
                    path.display()
                ))
                .into());
            }
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file("tributary.toml")),
        }
        figment
            // Variables the CLI and tests read are not config keys.
            .merge(
                Env::prefixed("TRIBUTARY_")
                    .ignore(&["TOKEN", "SERVER", "TEST_POSTGRES_URL", "REQUIRE_POSTGRES"])
                    .split("__"),
            )
            .merge(Serialized::defaults(overrides))
            .extract::<Config>()
            .map(Config::with_search_dir)
            .map_err(ConfigError::from)
    }

    /// Fills in the default search index directory: beside an SQLite catalog file.
    fn with_search_dir(mut self) -> Config {
        if self.search.in_memory {
            self.search.dir = None;
        } else if self.search.dir.is_none() {
            self.search.dir = sqlite_file(&self.database_url).map(|db| db.with_extension("search"));
        }
        self
    }
}

/// The file an `sqlite:` URL names; `None` for in-memory databases and other backends.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:") && !rest.contains("mode=memory"))
        .then(|| std::path::PathBuf::from(path))
}

/// A database URL with its password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("auth", &self.auth)
            .field("http", &self.http)
            .field("graph", &self.graph)
            .field("notifier", &self.notifier)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_index_sits_beside_an_sqlite_file() {
        let dir = |url: &str| {
            Config {
                database_url: url.into(),
                ..Config::default()
            }
            .with_search_dir()
            .search
            .dir
        };
        assert_eq!(
            dir("sqlite://./tributary-data/catalog.db"),
            Some("./tributary-data/catalog.search".into())
        );
        assert_eq!(
            dir("sqlite:/var/lib/t/c.db?mode=rwc"),
            Some("/var/lib/t/c.search".into())
        );
        assert_eq!(dir("sqlite::memory:"), None);
        assert_eq!(dir("postgres://db/catalog"), None);
    }

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://cat:s3cret@db:5432/catalog"),
            "postgres://cat:***@db:5432/catalog"
        );
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
        let config = Config {
            database_url: "postgres://cat:s3cret@db/c".into(),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    #[allow(clippy::result_large_err)] // the closure's type is figment::Jail's, not ours
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "tributary.toml",
                "listen = \"127.0.0.1:9000\"\n[auth]\nanonymous_read = false\n",
            )?;
            jail.set_env("TRIBUTARY_LISTEN", "127.0.0.1:9001");
            jail.set_env("TRIBUTARY_HTTP__BODY_LIMIT", "1024");
            let config = Config::load(None, ConfigOverrides::default()).map_err(|e| *e.0)?;
            assert_eq!(config.listen.port(), 9001, "env beats the file");
            assert!(!config.auth.anonymous_read, "the file beats defaults");
            assert_eq!(config.http.body_limit, 1024);
            let flags = ConfigOverrides {
                listen: Some("127.0.0.1:9002".parse().unwrap()),
                ..Default::default()
            };
            let config = Config::load(None, flags).map_err(|e| *e.0)?;
            assert_eq!(config.listen.port(), 9002, "flags beat env");
            Ok(())
        });
    }
}
