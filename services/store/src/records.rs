//! What the store takes and gives back beyond the catalog's own types.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tributary_catalog::{Entity, EntityDraft, EntityKind, Fqn, Role};
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
