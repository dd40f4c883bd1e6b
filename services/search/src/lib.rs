//! Tributary's search index: every live entity by FQN, name, feature names, description,
//! tags and owner, tolerant of case, separators, unfinished words and typos.
//!
//! A tantivy index on disk (beside the SQLite file, or a configured directory) or in
//! memory, kept current from the store's change log the way the lineage graph is. Each
//! commit stores the change-log position it reflects, so a restart with nothing new opens
//! the index as it is, and one after other processes' writes applies only those.
#![forbid(unsafe_code)]

mod document;
mod error;
mod index;
mod query;
pub mod schema;
mod sync;

pub use document::EntityDoc;
pub use error::SearchError;
pub use index::{Found, IndexBatch, IndexStats, SearchIndex};
pub use query::{
    FUZZY_MAX_DISTANCE, FUZZY_MIN_CHARS, FeatureHit, Filters, Highlight, MatchReason, SearchHit,
    SearchRequest, SearchResults, Suggestion, Tier,
};
pub use sync::{Opening, Rebuilt, open};
