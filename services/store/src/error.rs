//! What can go wrong in the store, named so the HTTP layer can map it to a status.

use serde::Serialize;
use utoipa::ToSchema;

/// One reference in a write that does not resolve to something usable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReferenceProblem {
    /// The FQN or name that was referenced.
    pub reference: String,
    /// Why it cannot be used: missing, deleted, or the wrong kind.
    pub problem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} {key} not found")]
    NotFound { kind: &'static str, key: String },

    #[error("{} reference(s) do not resolve", .0.len())]
    References(Vec<ReferenceProblem>),

    #[error("conflict on {key}: {reason}")]
    Conflict { key: String, reason: String },

    #[error("unsupported database URL scheme {scheme:?}; use sqlite:// or postgres://")]
    UnsupportedUrl { scheme: String },

    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error("the database holds a value this build cannot read: {0}")]
    Corrupt(String),

    #[error("not ready: {0}")]
    NotReady(String),
}

impl StoreError {
    /// Whether the database could not be reached (worth a retry), rather than refusing.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
            )
        )
    }

    pub(crate) fn not_found(kind: &'static str, key: impl ToString) -> Self {
        StoreError::NotFound {
            kind,
            key: key.to_string(),
        }
    }
}
