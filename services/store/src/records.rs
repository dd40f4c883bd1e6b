//! What the store takes and gives back beyond the catalog's own types.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tributary_catalog::{
    CatalogError, Edge, EdgeDraft, Entity, EntityDraft, EntityKind, Fqn, Role,
};
use utoipa::ToSchema;
use uuid::Uuid;

/// An entity with, optionally, the complete set of its children.
#[derive(Debug, Clone)]
pub struct EntityTree {
    pub root: EntityDraft,
    /// `Some` replaces the children: listed ones are upserted, others soft-deleted.
    /// `None` leaves existing children alone.
    pub children: Option<Vec<EntityDraft>>,
}

/// Entities created, updated, unchanged and deleted by one write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct WriteCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
}

/// The outcome of [`crate::Store::put_entity_tree`].
#[derive(Debug, Clone)]
pub struct TreeWritten {
    pub root: Entity,
    pub root_created: bool,
    pub counts: WriteCounts,
}

/// The outcome of [`crate::Store::put_edges`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct EdgesWritten {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// What reference checks need of an entity: its id, kind and whether it is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityState {
    pub id: Uuid,
    pub kind: EntityKind,
    pub fqn: String,
    pub live: bool,
}

/// A lineage document to apply: the desired state of everything one source asserts.
#[derive(Debug, Clone)]
pub struct DocumentWrite {
    /// The source the document's entities and edges carry; its edges are replaced.
    pub source: String,
    /// Models with the full set of their features.
    pub models: Vec<EntityTree>,
    /// Tables to create when missing (existing ones are left alone).
    pub tables_to_create: Vec<EntityTree>,
    /// Every edge of `source`; stored edges of `source` not listed are deleted.
    pub edges: Vec<EdgeDraft>,
    /// Entities the document names and the kinds each may be; checked in the transaction,
    /// with the edges' own checks, before it commits.
    pub expected: Vec<ExpectedEntity>,
    /// Work everything out, report it, and roll back.
    pub dry_run: bool,
}

/// A reference that must name a live entity of one of `kinds`.
#[derive(Debug, Clone)]
pub struct ExpectedEntity {
    pub fqn: String,
    pub kinds: &'static [EntityKind],
}

/// What applying a document did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct DocumentWritten {
    /// The change-log rows the document wrote, in order (rolled back in a dry run).
    pub changes: Vec<PendingChange>,
    /// Edges listed and already stored as listed.
    pub edges_unchanged: u64,
    /// What was committed, for in-memory views to apply without reading it back; `None`
    /// in a dry run.
    pub committed: Option<CommittedWrite>,
}

/// The state one write transaction left, with its place in the change log.
#[derive(Debug, Clone, Default)]
pub struct CommittedWrite {
    /// The change log's head before the write; every row after it up to `last_seq` is
    /// this write's, since writers are serialised.
    pub after_seq: i64,
    pub last_seq: i64,
    /// Every entity created, updated or soft-deleted, as stored.
    pub entities: Vec<Entity>,
    /// Each written tree's root as stored, with its live children after the write.
    pub trees: Vec<(Entity, Vec<EntityState>)>,
    /// Every edge created or updated, as stored.
    pub edges: Vec<Edge>,
    pub removed_edges: Vec<Uuid>,
    /// Ids of the entities the written edges name, their column mappings included.
    pub ids: HashMap<String, Uuid>,
}

/// A change-log row as a write records it, before the log gives it a position.
#[derive(Debug, Clone)]
pub struct PendingChange {
    pub op: &'static str,
    pub entity_id: Option<Uuid>,
    pub fqn: Option<String>,
    pub detail: serde_json::Value,
}

/// How many live children of one kind an entity has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChildCount {
    pub kind: EntityKind,
    pub count: i64,
}

/// A page request over entities of one kind, by FQN order.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub kind: EntityKind,
    /// Only descendants of this entity.
    pub within: Option<Fqn>,
    /// Only entities owned by this team.
    pub owner: Option<String>,
    /// Resume after this FQN (the previous page's last).
    pub after: Option<String>,
    pub limit: u32,
}

impl ListQuery {
    /// The first `limit` entities of `kind`, unfiltered.
    pub fn first(kind: EntityKind, limit: u32) -> Self {
        ListQuery {
            kind,
            within: None,
            owner: None,
            after: None,
            limit,
        }
    }
}

/// One page and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The FQN to resume after, when more may follow.
    pub next_after: Option<String>,
}

/// A token to store: only the hash of its secret is kept.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub hash: String,
}

/// A stored API token, without its secret.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TokenRecord {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One change-log row: who changed what, when, in commit order.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Change {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `entity.created`, `entity.updated`, `entity.deleted`, `edge.created`, …
    pub op: String,
    pub entity_id: Option<Uuid>,
    pub fqn: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// Declares a closed set of lowercase names stored as TEXT, with `as_str`, `Display` and
/// `FromStr` (whose error names the field and the accepted values).
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident as $field:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = CatalogError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| CatalogError::InvalidField {
                        field: $field.into(),
                        reason: format!(
                            "unknown {} {s:?}; expected one of {}",
                            $field,
                            $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    })
            }
        }
    };
}

text_enum! {
    /// How bad an incident is, most severe first.
    Severity as "severity" {
        Critical = "critical",
        High = "high",
        Medium = "medium",
        Low = "low",
    }
}

text_enum! {
    /// Where an incident is in its life: open → acknowledged → resolved, or open → resolved.
    IncidentStatus as "status" {
        Open = "open",
        /// Someone is on it.
        Acknowledged = "acknowledged",
        Resolved = "resolved",
    }
}

impl IncidentStatus {
    /// Whether an incident in this status may move to `next`.
    pub fn can_become(self, next: IncidentStatus) -> bool {
        use IncidentStatus::*;
        matches!(
            (self, next),
            (Open, Acknowledged) | (Open, Resolved) | (Acknowledged, Resolved)
        )
    }

    /// Whether the incident still needs attention.
    pub fn is_active(self) -> bool {
        self != IncidentStatus::Resolved
    }
}

text_enum! {
    /// Where a webhook delivery stands.
    DeliveryStatus as "delivery status" {
        /// Not yet delivered; will be tried (again) at `next_attempt_at`.
        Pending = "pending",
        Delivered = "delivered",
        /// Given up on after its last attempt.
        Failed = "failed",
    }
}

text_enum! {
    /// Why an ingestion run started.
    RunTrigger as "trigger" {
        /// The service's cron schedule came due.
        Schedule = "schedule",
        /// Someone asked through the API.
        Manual = "manual",
        /// `tributary ingest` on the command line.
        Cli = "cli",
    }
}

text_enum! {
    /// Where an ingestion run stands.
    RunStatus as "run status" {
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

/// What an ingestion run changed in the catalog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RunCounts {
    pub entities_created: u64,
    pub entities_updated: u64,
    pub entities_deleted: u64,
    pub edges_added: u64,
    pub edges_updated: u64,
    pub edges_removed: u64,
}

impl RunCounts {
    pub fn add(&mut self, other: RunCounts) {
        self.entities_created += other.entities_created;
        self.entities_updated += other.entities_updated;
        self.entities_deleted += other.entities_deleted;
        self.edges_added += other.edges_added;
        self.edges_updated += other.edges_updated;
        self.edges_removed += other.edges_removed;
    }

    /// Whether the run changed nothing.
    pub fn is_empty(&self) -> bool {
        *self == RunCounts::default()
    }
}

/// One batch of a connector's snapshot, to reconcile with the catalog
/// ([`crate::Store::reconcile_batch`]).
#[derive(Debug, Clone)]
pub struct SnapshotWrite {
    /// The run reporting it: what it writes is remembered as seen by this run.
    pub run_id: Uuid,
    /// The service the connector reads; every tree must lie under it.
    pub service: Fqn,
    /// Who owns what the batch writes (`mlflow:mlflow_prod`): set as the entities' and
    /// edges' source, and what the end of the run sweeps.
    pub source: String,
    pub trees: Vec<EntityTree>,
    pub edges: Vec<EdgeDraft>,
}

/// What one reconciled batch changed, and the edges it left out.
#[derive(Debug, Clone, Default)]
pub struct SnapshotWritten {
    pub counts: RunCounts,
    /// Edges not written because an end is missing, deleted or of the wrong kind (a
    /// feature whose column the catalog does not hold): warnings, not failures.
    pub skipped_edges: Vec<crate::ReferenceProblem>,
}

/// One ingestion run of a service, running or finished.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IngestionRun {
    pub id: Uuid,
    pub service_id: Uuid,
    pub trigger: RunTrigger,
    pub status: RunStatus,
    /// The replica that ran it.
    pub holder: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The cron slot a scheduled run serves.
    pub scheduled_for: Option<DateTime<Utc>>,
    pub counts: RunCounts,
    /// What the run read past without using.
    pub warnings: Vec<String>,
    /// Why it failed, for a person to act on.
    pub error: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub counts: RunCounts,
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

/// An incident to open: where, how bad, what it affected, and whom to tell.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// Chosen by the caller, so notifications queued with the incident can name it.
    pub id: Uuid,
    /// The entity the incident is about.
    pub entity_id: Uuid,
    /// The root's FQN, kept with the incident as it was at opening.
    pub fqn: String,
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    /// The impact report at opening; stored as given.
    pub snapshot: serde_json::Value,
    /// Ids of the entities the incident touches; the root is added if missing, repeats
    /// are ignored.
    pub touched: Vec<Uuid>,
    /// One webhook call per team to notify.
    pub deliveries: Vec<NewDelivery>,
}

/// A webhook call to queue with a new incident.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub team: String,
    pub url: String,
    pub payload: serde_json::Value,
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Incident {
    pub id: Uuid,
    /// The entity the incident was opened on.
    pub entity_id: Uuid,
    /// That entity's FQN when the incident was opened.
    pub fqn: String,
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub status: IncidentStatus,
    /// The impact report at opening.
    #[schema(value_type = Object)]
    pub snapshot: serde_json::Value,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// An incident in brief, for showing next to an entity it touches.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentSummary {
    pub id: Uuid,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    /// The FQN of the entity the incident was opened on.
    pub fqn: String,
    pub opened_at: DateTime<Utc>,
}

/// One webhook call announcing an incident to a team, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub incident_id: Uuid,
    pub team: String,
    pub url: String,
    /// The JSON body POSTed to `url`.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// Why the latest failed attempt failed; kept after a later success, as the reason
    /// it took more than one attempt.
    pub last_error: Option<String>,
    /// The HTTP status of the last answer, when there was one.
    pub last_status_code: Option<u16>,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The webhook answered 2xx.
    Delivered { status_code: u16 },
    Failed {
        /// What went wrong, for a person reading the delivery.
        error: String,
        /// The HTTP status, when the webhook answered at all.
        status_code: Option<u16>,
        /// When to try again; `None` gives up and marks the delivery failed.
        retry_at: Option<DateTime<Utc>>,
    },
}
