//! Checks on request fields beyond what their types enforce, collected per field so one
//! response lists every problem of a large document (a table of 20,000 columns, say).

use serde_json::{Value, json};
use tributary_catalog::validate_name;

use crate::error::ApiError;

/// Longest free text accepted (descriptions, transforms).
pub const MAX_TEXT_CHARS: usize = 64 * 1024;
pub const MAX_TAGS: usize = 64;

/// Problems found in one request, each tied to a field path like `columns[3].name`.
#[derive(Default)]
pub struct FieldErrors(Vec<Value>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0
            .push(json!({ "field": field.into(), "message": message.into() }));
    }

    pub fn check(&mut self, field: impl Into<String>, result: Result<(), ApiError>) {
        if let Err(err) = result {
            self.add(field, err.message);
        }
    }

    /// Ok when nothing was found; otherwise one 400 listing every problem.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            n => {
                let first = self.0[0]["field"].as_str().unwrap_or_default().to_owned();
                let message = self.0[0]["message"].as_str().unwrap_or_default().to_owned();
                let summary = if n == 1 {
                    format!("{first}: {message}")
                } else {
                    format!("{n} fields are invalid; first {first}: {message}")
                };
                Err(ApiError::bad_request("invalid_field", summary).with_details(self.0))
            }
        }
    }
}

/// Free text: bounded, and without control characters other than newlines and tabs.
pub fn validate_text(field: &str, value: Option<&str>) -> Result<(), ApiError> {
    let Some(value) = value else { return Ok(()) };
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{field} must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

/// Tags: valid names, deduplicated in their given order.
pub fn validate_tags(tags: Vec<String>) -> Result<Vec<String>, ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        validate_name(&tag)
            .map_err(|e| ApiError::bad_request("invalid_field", format!("tag: {e}")))?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}
