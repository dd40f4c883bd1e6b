//! MLflow's REST API as this connector uses it: authenticated GETs, errors worded for the
//! run history, URLs shown without query strings or credentials.

use std::error::Error as _;

use serde::de::DeserializeOwned;
use tributary_connectors::ConnectorError;

use crate::config::{Auth, MlflowConfig};

pub(crate) struct Client {
    http: reqwest::Client,
    base: reqwest::Url,
    auth: Auth,
}

/// MLflow's error body: `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "…"}`.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error_code: Option<String>,
    message: Option<String>,
}

impl Client {
    pub fn new(config: &MlflowConfig) -> Result<Self, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(std::time::Duration::from_secs(10)))
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Config(format!("cannot build an HTTP client: {e}")))?;
        let mut base = config.url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Client {
            http,
            base,
            auth: config.auth.clone(),
        })
    }

    fn endpoint(&self, path: &str) -> Result<reqwest::Url, ConnectorError> {
        self.base
            .join(path)
            .map_err(|e| ConnectorError::Config(format!("cannot form the URL of {path}: {e}")))
    }

    /// GETs `path` (relative to the server's root); `None` when MLflow answers 404.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<String>, ConnectorError> {
        let mut url = self.endpoint(path)?;
        // Shown without the query: it is the endpoint a person checks, not the values.
        let shown = url.to_string();
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self.http.get(url);
        request = match &self.auth {
            Auth::None => request,
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
            Auth::Bearer { token } => request.bearer_auth(token),
        };
        let unreachable = |e: reqwest::Error| ConnectorError::Unreachable {
            url: shown.clone(),
            reason: reason(&e),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body = response.text().await.map_err(unreachable)?;
        match status.as_u16() {
            200..=299 => Ok(Some(body)),
            401 | 403 => Err(ConnectorError::Unauthorized {
                url: shown,
                status: status.as_u16(),
            }),
            404 => Ok(None),
            code => {
                let message = match serde_json::from_str::<ErrorBody>(&body) {
                    Ok(ErrorBody {
                        error_code,
                        message: Some(message),
                    }) => match error_code {
                        Some(code) => format!("{code}: {message}"),
                        None => message,
                    },
                    _ => body.chars().take(300).collect(),
                };
                Err(ConnectorError::Source {
                    url: shown,
                    status: code,
                    message,
                })
            }
        }
    }

    /// GETs and decodes JSON; `None` when MLflow answers 404.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<T>, ConnectorError> {
        let Some(body) = self.get(path, query).await? else {
            return Ok(None);
        };
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|e| ConnectorError::Unreadable {
                url: self
                    .endpoint(path)
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
                reason: e.to_string(),
            })
    }
}

/// The innermost cause of a transport error ("Connection refused"), without the URL
/// reqwest puts in its own message.
fn reason(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".into();
    }
    let mut innermost = err.source();
    while let Some(inner) = innermost.and_then(|e| e.source()) {
        innermost = Some(inner);
    }
    match innermost {
        Some(cause) => cause.to_string(),
        None => {
            let text = err.to_string();
            match err.url() {
                Some(url) => text.replace(url.as_str(), "…"),
                None => text,
            }
        }
    }
}
