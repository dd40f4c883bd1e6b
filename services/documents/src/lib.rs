//! Lineage documents: the YAML (or JSON) file an ML team keeps in each model's repository,
//! saying which warehouse columns feed each feature, pushed by CI on every change.
//!
//! This crate reads a document — Tributary's own format (`version: 1` with `models:`) or
//! DataHub's lineage file (`version: 1` with `lineage:`) — checks every rule that needs
//! no catalog, and turns it into what to write: model trees, tables to create, the edges
//! the document asserts, and every reference it makes to the catalog with the line and
//! column it was made at, for the server to resolve. No I/O.
#![forbid(unsafe_code)]

mod datahub;
mod error;
mod plan;
mod schema;
mod v1;

pub use datahub::PlatformRule;
pub use error::{DocumentError, Problem};
pub use plan::{Document, Expect, Format, Reference};
pub use schema::{SCHEMA, check_schema};

/// Reads and checks a document. `platforms` maps DataHub platforms to services (unused
/// for Tributary's own format).
pub fn parse(text: &str, platforms: &[PlatformRule]) -> Result<Document, DocumentError> {
    if is_datahub(text) {
        datahub::parse(text, platforms)
    } else {
        v1::parse(text)
    }
}

/// Whether the document has a top-level `lineage:` key (DataHub's file), decided without a
/// second full YAML parse: as JSON when it is JSON, else by its unindented keys.
fn is_datahub(text: &str) -> bool {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text) {
        return map.contains_key("lineage");
    }
    text.lines().any(|line| {
        ["lineage:", "\"lineage\":", "'lineage':"]
            .iter()
            .any(|key| line.starts_with(key))
    })
}
