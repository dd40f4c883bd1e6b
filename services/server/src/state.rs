//! What every handler shares.

use std::sync::Arc;

use tributary_store::Store;

use crate::live_graph::LiveGraph;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub graph: Arc<LiveGraph>,
    /// Whether requests without a token may read (`auth.anonymous_read`).
    pub anonymous_read: bool,
}
