//! The JSON Schema of Tributary's document format, as committed for editors and CI.

use std::sync::LazyLock;

use serde_json::Value;

use crate::error::Problem;

/// `openapi/lineage-document.schema.json`.
pub const SCHEMA: &str = include_str!("../../../openapi/lineage-document.schema.json");

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the committed schema is JSON");
    jsonschema::validator_for(&schema).expect("the committed schema is a valid JSON Schema")
});

/// What the JSON Schema finds wrong with a document in Tributary's format (a DataHub file
/// is not checked: the schema is not DataHub's). Places are JSON pointers; the parser
/// reports lines.
pub fn check_schema(document: &Value) -> Vec<Problem> {
    if document.get("lineage").is_some() {
        return Vec::new();
    }
    VALIDATOR
        .iter_errors(document)
        .map(|err| Problem {
            line: 0,
            column: 0,
            path: err.instance_path().to_string(),
            message: err.to_string(),
        })
        .collect()
}
