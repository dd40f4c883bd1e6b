//! Request extractors whose rejections speak the API's error format: malformed JSON comes
//! back as 400 with its line and column, an oversized body as 413, a bad query as 400.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ApiError;

/// A JSON body, parsed with errors that point at the offending line and column.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A document body as text: YAML or JSON (`application/yaml`, `application/x-yaml`,
/// `text/yaml`, `application/json`, `text/plain`), UTF-8, without NUL characters.
pub struct DocumentText(pub String);

impl<S> FromRequest<S> for DocumentText
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let accepted = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                matches!(
                    mime.trim(),
                    "application/yaml"
                        | "application/x-yaml"
                        | "text/yaml"
                        | "text/x-yaml"
                        | "application/json"
                        | "text/plain"
                )
            });
        if !accepted {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the document as YAML (Content-Type: application/yaml) or JSON \
                 (application/json)",
            ));
        }
        let bytes = read_body(req, state).await?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|e| {
            ApiError::bad_request(
                "invalid_document",
                format!(
                    "the document is not UTF-8 (bad byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        if text.contains('\0') {
            return Err(ApiError::bad_request(
                "invalid_document",
                "the document holds a NUL character, which the catalog cannot store",
            ));
        }
        Ok(DocumentText(text))
    }
}

/// The body within `http.body_limit` (413 beyond it).
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is over the server's limit (http.body_limit); split it",
            )
        } else {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        }
    })
}

/// Parses JSON, reporting where it went wrong. Strings holding NUL are refused: the
/// catalog cannot store them (PostgreSQL's text and jsonb reject them), so they are bad
/// input here rather than a database failure later.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let parsed = serde_json::from_slice(bytes).map_err(|err| {
        let (line, column) = (err.line(), err.column());
        let code = match err.classify() {
            serde_json::error::Category::Data => "invalid_body",
            _ => "malformed_json",
        };
        let message = match code {
            "malformed_json" => format!("malformed JSON: {err}"),
            _ => format!("the body does not have the expected shape: {err}"),
        };
        ApiError::bad_request(code, message)
            .with_details(vec![json!({"line": line, "column": column})])
    })?;
    // A NUL can only arrive escaped; look closer only when the escape appears at all.
    if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"))
        && serde_json::from_slice::<Value>(bytes).is_ok_and(|v| holds_nul(&v))
    {
        return Err(ApiError::bad_request(
            "invalid_body",
            "the body holds a NUL character (\\u0000), which the catalog cannot store",
        ));
    }
    Ok(parsed)
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// Refuses an escaped NUL (`%00`) in a path or query string, for the same reason.
fn refuse_nul(raw: &str, what: &'static str) -> Result<(), ApiError> {
    if raw.contains("%00") {
        let code = if what == "path" {
            "invalid_path"
        } else {
            "invalid_query"
        };
        return Err(ApiError::bad_request(
            code,
            format!("the {what} holds a NUL character (%00), which the catalog cannot store"),
        ));
    }
    Ok(())
}

/// Query-string parameters.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        refuse_nul(parts.uri.query().unwrap_or_default(), "query")?;
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        refuse_nul(parts.uri.path(), "path")?;
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| ApiPath(p))
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))
    }
}
