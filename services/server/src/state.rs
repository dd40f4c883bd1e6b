//! What every handler shares.

use std::sync::Arc;

use tributary_store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Whether requests without a token may read (`auth.anonymous_read`).
    pub anonymous_read: bool,
}
