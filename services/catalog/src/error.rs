//! Why a name, FQN or draft is not acceptable to the catalog.

/// A rule of the catalog's domain that some input broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("invalid FQN {input:?}: {reason}")]
    InvalidFqn { input: String, reason: String },
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("{fqn} names a {found} but a {expected} was expected")]
    WrongShape {
        fqn: String,
        expected: String,
        found: String,
    },
    #[error("invalid {field}: {reason}")]
    InvalidField { field: String, reason: String },
}
