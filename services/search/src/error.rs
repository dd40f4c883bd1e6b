//! What can go wrong in the search layer.

use std::path::PathBuf;

use tributary_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),

    #[error("search index directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the search index in {dir} is in use by another process (a running server?); stop it or configure another search.dir"
    )]
    Locked { dir: PathBuf },

    #[error(transparent)]
    Store(#[from] StoreError),

    #[error("a search index task failed: {0}")]
    Task(String),
}

impl From<tantivy::directory::error::OpenDirectoryError> for SearchError {
    fn from(err: tantivy::directory::error::OpenDirectoryError) -> Self {
        SearchError::Index(err.into())
    }
}
