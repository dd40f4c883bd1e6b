//! Why a name, FQN or draft is not acceptable to the catalog.

/// A rule of the catalog's domain that some input broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("invalid FQN {input:?}: {reason}")]
    InvalidFqn { input: String, reason: String },
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("{fqn} has {found} part(s), but a {kind} FQN has {expected}: {shape}")]
    WrongShape {
        fqn: String,
        kind: String,
        expected: usize,
        found: usize,
        shape: String,
    },
    #[error("invalid {field}: {reason}")]
    InvalidField { field: String, reason: String },
}
