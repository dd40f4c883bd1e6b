//! What every handler shares.

use std::sync::Arc;

use tributary_search::SearchIndex;
use tributary_store::Store;

use crate::applied_documents::AppliedDocuments;
use crate::ingestion::Ingestion;
use crate::live_graph::LiveGraph;
use crate::notifier::NotifierWaker;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub graph: Arc<LiveGraph>,
    pub search: Arc<SearchIndex>,
    /// Wakes the webhook notifier when an incident queues deliveries; `None` when no
    /// notifier runs (tests through `oneshot`, or a replica that leaves sending to others).
    pub notifier: Option<NotifierWaker>,
    /// Lineage documents applied, so an unchanged re-push is recognised cheaply.
    pub documents: Arc<AppliedDocuments>,
    /// How DataHub lineage files map to services (`documents.datahub_platforms`).
    pub platforms: Arc<[tributary_documents::PlatformRule]>,
    /// Starts ingestion runs of services (API triggers; the scheduler shares it).
    pub ingestion: Arc<Ingestion>,
    /// Whether requests without a token may read (`auth.anonymous_read`).
    pub anonymous_read: bool,
}
