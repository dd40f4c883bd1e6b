//! The HTTP layer's one error type: a status, a stable machine-readable `code`, a message a
//! person can act on, and details. Library errors convert into it, so handlers use `?`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use tributary_catalog::CatalogError;
use tributary_store::StoreError;
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable identifier for programs: `invalid_fqn`, `not_found`, `unknown_reference`, …
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// Per-item problems (one per bad reference or field), when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub details: Vec<Value>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn with_details(mut self, details: Vec<Value>) -> Self {
        self.details = details;
        self
    }

    /// A fault of ours. The cause goes to the log; the client sees only that it happened.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has the details",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<tributary_search::SearchError> for ApiError {
    fn from(err: tributary_search::SearchError) -> Self {
        match err {
            tributary_search::SearchError::Store(store) => store.into(),
            other => ApiError::internal(&other),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { kind, key } => {
                ApiError::not_found(format!("{kind} {key} not found"))
            }
            StoreError::References(problems) => {
                let message = match problems.as_slice() {
                    [one] => format!("{}: {}", one.reference, one.problem),
                    many => format!("{} references do not resolve", many.len()),
                };
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_reference",
                    message,
                )
                .with_details(
                    problems
                        .into_iter()
                        .map(|p| json!({"reference": p.reference, "problem": p.problem}))
                        .collect(),
                )
            }
            StoreError::Conflict { key, reason } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", format!("{key}: {reason}"))
            }
            StoreError::NotReady(reason) => {
                tracing::warn!(%reason, "store not ready");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not_ready",
                    "the catalog database is not ready",
                )
            }
            ref err if err.is_unavailable() => {
                tracing::error!(error = %err, "store unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the catalog database is unavailable; retry shortly",
                )
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        let code = match &err {
            CatalogError::InvalidFqn { .. } | CatalogError::WrongShape { .. } => "invalid_fqn",
            CatalogError::InvalidName { .. } => "invalid_name",
            CatalogError::InvalidField { .. } => "invalid_field",
        };
        ApiError::bad_request(code, err.to_string())
    }
}

/// Fallback for paths no router serves.
pub async fn no_route() -> ApiError {
    ApiError::not_found("no such endpoint; the API is described at /api/openapi.json")
}

/// Fallback for a known path with a method it does not serve.
pub async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not serve that method; see /api/openapi.json",
    )
}
