//! Tributary's persistence: one [`Store`] trait, two backends.
//!
//! SQLite is the embedded default; PostgreSQL serves shared, multi-replica deployments.
//! Every write is one transaction that also appends to the change log, which the graph,
//! the search index and other replicas follow. Both backends run the same SQL text
//! (see [`sql`]); only connection set-up, write locking and the migrations differ.
#![forbid(unsafe_code)]

mod error;
mod plan;
mod postgres;
mod records;
mod sql;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tributary_catalog::{
    ConnectionConfig, Edge, EdgeDraft, EdgeKey, Entity, EntityDraft, EntityKind, Fqn, Team,
    TeamDraft,
};
use uuid::Uuid;

pub use error::{ReferenceProblem, StoreError};
pub use postgres::PgStore;
pub use records::{
    Change, ChildCount, CommittedWrite, Delivery, DeliveryOutcome, DeliveryStatus, DocumentWrite,
    DocumentWritten, EdgesWritten, EntityState, EntityTree, ExpectedEntity, Incident,
    IncidentStatus, IncidentSummary, IngestionRun, ListQuery, NewDelivery, NewIncident, NewToken,
    Page, PendingChange, RunCounts, RunOutcome, RunStatus, RunTrigger, Severity, SnapshotWrite,
    SnapshotWritten, TokenRecord, TreeWritten, WriteCounts,
};
pub use sqlite::SqliteStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The catalog's persistence. Handlers and connectors talk to this trait only.
///
/// Reads of entities return live ones unless said otherwise. Writes take the actor (the
/// token name, `cli`, `demo`, …) that the change log records.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Succeeds when the database answers and every migration this build knows is applied.
    async fn readiness(&self) -> Result<()>;

    // --- entities ---------------------------------------------------------------------

    async fn get_entity(&self, fqn: &Fqn) -> Result<Entity>;

    /// The live entities at the given FQNs, in no particular order; missing ones are left out.
    async fn entities_by_fqn(&self, fqns: &[Fqn]) -> Result<Vec<Entity>>;

    /// Id, kind and liveness of the entities at the given FQNs, live or soft-deleted (to
    /// say which references point at something deleted); missing ones are left out.
    async fn entity_states(&self, fqns: &[Fqn]) -> Result<Vec<EntityState>>;

    /// Entities (live or soft-deleted) with the given ids, in no particular order.
    async fn entities_by_id(&self, ids: &[Uuid]) -> Result<Vec<Entity>>;

    /// A batch of live entities in id order, after `after`: for loading the graph.
    async fn scan_entities(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<Entity>>;

    /// Live children of `parent`, ordered by FQN.
    async fn children(&self, parent: Uuid) -> Result<Vec<Entity>>;

    /// How many live children of each kind `parent` has.
    async fn child_counts(&self, parent: Uuid) -> Result<Vec<ChildCount>>;

    /// A page of live entities of one kind, ordered by FQN.
    async fn list_entities(&self, query: &ListQuery) -> Result<Page<Entity>>;

    /// Writes an entity and, when the tree says so, the full set of its children (a table's
    /// columns, a model's features): children not listed are soft-deleted. Implied parents
    /// (databases, schemas) are created; other missing parents and unknown owners are
    /// reported as [`StoreError::References`]. One transaction; unchanged rows are not
    /// rewritten and leave no change-log rows.
    async fn put_entity_tree(&self, actor: &str, tree: EntityTree) -> Result<TreeWritten>;

    /// Soft-deletes the entity of `kind` at `fqn` with everything it contains; returns how
    /// many entities were deleted.
    async fn delete_entity(&self, actor: &str, kind: EntityKind, fqn: &Fqn) -> Result<u64>;

    // --- services ---------------------------------------------------------------------

    /// Writes a service entity and its connection config. A secret sent back as `"***"`
    /// keeps the stored value.
    async fn put_service(
        &self,
        actor: &str,
        service: EntityDraft,
        connection: ConnectionConfig,
    ) -> Result<TreeWritten>;

    /// The stored connection config, secrets included: for connectors, never for responses.
    async fn service_connection(&self, service: &Fqn) -> Result<ConnectionConfig>;

    /// Every live service's connection config, by service id, in one query.
    async fn service_connections(&self) -> Result<HashMap<Uuid, ConnectionConfig>>;

    // --- teams ------------------------------------------------------------------------

    /// Creates or updates a team; the flag says whether it was created.
    async fn put_team(&self, actor: &str, team: TeamDraft) -> Result<(Team, bool)>;
    async fn get_team(&self, name: &str) -> Result<Team>;
    async fn list_teams(&self) -> Result<Vec<Team>>;

    // --- lineage edges ----------------------------------------------------------------

    /// Upserts edges by (from, to, source). Every endpoint must be a live entity that can
    /// carry lineage, or nothing is written.
    async fn put_edges(&self, actor: &str, edges: Vec<EdgeDraft>) -> Result<EdgesWritten>;

    /// Applies a lineage document in one transaction: writes its models, creates its
    /// declared tables when missing, upserts its edges and deletes the edges of its source
    /// it no longer lists. Edges of other sources are untouched. A dry run rolls back.
    async fn apply_lineage_document(
        &self,
        actor: &str,
        write: DocumentWrite,
    ) -> Result<DocumentWritten>;

    /// Deletes edges by key; returns the keys that matched nothing.
    async fn delete_edges(&self, actor: &str, keys: Vec<EdgeKey>) -> Result<Vec<EdgeKey>>;

    /// Edges with the given ids; ids of deleted edges are left out.
    async fn edges_by_id(&self, ids: &[Uuid]) -> Result<Vec<Edge>>;

    /// A batch of edges in id order, after `after`: for loading the graph.
    async fn scan_edges(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<Edge>>;

    /// Edges into (`upstream`) and out of (`downstream`) an entity, at most `limit` each.
    async fn edges_of(&self, entity: Uuid, limit: u32) -> Result<(Vec<Edge>, Vec<Edge>)>;

    // --- API tokens -------------------------------------------------------------------

    /// Stores a token by the hash of its secret; a live token of the same name is a conflict.
    async fn create_token(&self, actor: &str, token: NewToken) -> Result<TokenRecord>;

    /// The live token whose secret hashes to `hash`, marking it used.
    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>>;
    async fn list_tokens(&self) -> Result<Vec<TokenRecord>>;
    async fn revoke_token(&self, actor: &str, name: &str) -> Result<()>;

    // --- incidents --------------------------------------------------------------------

    /// Opens an incident with the entities it touches and its webhook deliveries (pending,
    /// due now), in one transaction that logs `incident.opened`. Touched ids that name no
    /// entity are reported as [`StoreError::References`] and nothing is written.
    async fn open_incident(&self, actor: &str, incident: NewIncident) -> Result<Incident>;

    async fn get_incident(&self, id: Uuid) -> Result<Incident>;

    /// Incidents, newest first, optionally only those in one status.
    async fn list_incidents(
        &self,
        status: Option<IncidentStatus>,
        limit: u32,
    ) -> Result<Vec<Incident>>;

    /// Moves an open incident to acknowledged; any other status is a [`StoreError::Conflict`].
    async fn acknowledge_incident(&self, actor: &str, id: Uuid) -> Result<Incident>;

    /// Resolves an open or acknowledged incident; a resolved one is a [`StoreError::Conflict`].
    async fn resolve_incident(&self, actor: &str, id: Uuid) -> Result<Incident>;

    /// Open and acknowledged incidents that touch `entity_id`, newest first.
    async fn active_incidents_touching(&self, entity_id: Uuid) -> Result<Vec<IncidentSummary>>;

    // --- webhook deliveries -----------------------------------------------------------

    /// An incident's deliveries, in the order they were queued.
    async fn deliveries_of(&self, incident_id: Uuid) -> Result<Vec<Delivery>>;

    /// Takes up to `limit` pending deliveries due at `now`, earliest first, and pushes their
    /// next attempt out to `now + lease`: until then no other claimer (on any replica) gets
    /// them, and after it they come back should the claimer die before recording an attempt.
    async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Delivery>>;

    /// Records one attempt at a pending delivery: delivered, due again at `retry_at`, or
    /// failed for good. A delivery no longer pending is a [`StoreError::Conflict`].
    async fn record_delivery_attempt(&self, id: Uuid, outcome: DeliveryOutcome)
    -> Result<Delivery>;

    // --- ingestion ----------------------------------------------------------------------

    /// Takes the ingestion lease of a service for `holder` until `now + ttl`: when nobody
    /// holds it, when it ran out, or when `holder` holds it already (a renewal). `false`
    /// when another holder's lease is still live — that replica is running the service.
    async fn acquire_ingestion_lease(
        &self,
        service_id: Uuid,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool>;

    /// Gives the lease up, if `holder` has it.
    async fn release_ingestion_lease(&self, service_id: Uuid, holder: &str) -> Result<()>;

    /// Records a run starting now, serving the cron slot `scheduled_for` when the schedule
    /// started it. The caller holds the service's lease: a run of the service still marked
    /// running was abandoned by a replica that stopped, and is recorded as failed.
    async fn start_ingestion_run(
        &self,
        service_id: Uuid,
        trigger: RunTrigger,
        holder: &str,
        now: DateTime<Utc>,
        scheduled_for: Option<DateTime<Utc>>,
    ) -> Result<IngestionRun>;

    /// The latest cron slot a run of the service was started for.
    async fn last_scheduled_slot(&self, service_id: Uuid) -> Result<Option<DateTime<Utc>>>;

    /// The latest cron slot served, of every service that has had a scheduled run: what
    /// a scheduler tick needs, in one query.
    async fn last_scheduled_slots(&self) -> Result<HashMap<Uuid, DateTime<Utc>>>;

    /// Reconciles one batch of a connector's snapshot in one transaction: trees upserted
    /// (unchanged rows untouched, children no longer listed soft-deleted), edges upserted
    /// as the batch's source (those with an end the catalog does not hold left out and
    /// reported), and all of it remembered as seen by the run.
    async fn reconcile_batch(&self, actor: &str, write: SnapshotWrite) -> Result<SnapshotWritten>;

    /// After a run's last batch: soft-deletes up to `limit` entities under `service` that
    /// `source` wrote and `run` did not see (each with what it contains), and removes up to
    /// `limit` of `source`'s edges it did not see. One transaction; call until it returns
    /// empty counts.
    async fn sweep_unseen(
        &self,
        actor: &str,
        run: Uuid,
        service: &Fqn,
        source: &str,
        limit: u32,
    ) -> Result<RunCounts>;

    /// Records how a run ended, forgets what it saw, and gives up the service's lease if
    /// the run's holder still has it — in one transaction.
    async fn finish_ingestion_run(
        &self,
        id: Uuid,
        outcome: RunOutcome,
        now: DateTime<Utc>,
    ) -> Result<IngestionRun>;

    /// A service's runs, newest first.
    async fn ingestion_runs(&self, service_id: Uuid, limit: u32) -> Result<Vec<IngestionRun>>;

    /// The newest runs of any service, newest first.
    async fn recent_ingestion_runs(&self, limit: u32) -> Result<Vec<IngestionRun>>;

    // --- change log -------------------------------------------------------------------

    /// Change-log rows with `seq > after`, oldest first.
    async fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>>;

    /// The newest change-log position, 0 when the log is empty.
    async fn last_change_seq(&self) -> Result<i64>;
}

/// Opens the store a URL names (`sqlite:` or `postgres:`), creating and migrating it as needed.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl {
            scheme: url.split(':').next().unwrap_or_default().to_owned(),
        })
    }
}
