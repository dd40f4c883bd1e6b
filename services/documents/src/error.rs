//! What is wrong with a document, with where.

use serde::Serialize;
use utoipa::ToSchema;

/// One thing wrong at one place in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// 1-based line and column; 0 when the place is unknown.
    pub line: u64,
    pub column: u64,
    /// Where in the document, e.g. `models[0].features[2].source`.
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum DocumentError {
    /// Not YAML or JSON, or not shaped as the format says (unknown key, wrong type).
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: u64,
        column: u64,
        message: String,
    },
    /// Well-formed, but breaking the format's rules; every problem found is listed.
    #[error("{} problem(s) in the document", .0.len())]
    Invalid(Vec<Problem>),
}

impl DocumentError {
    pub(crate) fn from_yaml(err: serde_saphyr::Error) -> DocumentError {
        let (line, column) = err.location().map_or((0, 0), |l| (l.line(), l.column()));
        // The library's Display may append a snippet of the input; the first line is the
        // message, and the position is reported separately.
        let message = err
            .to_string()
            .lines()
            .next()
            .unwrap_or("not a valid document")
            .trim()
            .to_owned();
        DocumentError::Syntax {
            line,
            column,
            message,
        }
    }
}
