//! Lineage edges between entities. Containment is the parent link, not an edge.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Fqn;

/// Column-level detail of a table-to-table (or column-to-feature) edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    /// Upstream column FQNs.
    pub from: Vec<Fqn>,
    /// Downstream column FQN.
    pub to: Fqn,
    /// The transform, e.g. `avg(check_sum)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
}

/// What identifies an edge: one per (from, to, source), so each source owns its own edges
/// and re-ingesting never duplicates them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EdgeKey {
    pub from: Fqn,
    pub to: Fqn,
    pub source: String,
}

/// What a write asserts about one edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeDraft {
    pub key: EdgeKey,
    pub columns: Vec<ColumnMapping>,
    pub transform: Option<String>,
}

/// An edge as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Edge {
    pub id: Uuid,
    pub from_id: Uuid,
    pub to_id: Uuid,
    pub from: Fqn,
    pub to: Fqn,
    pub source: String,
    pub columns: Vec<ColumnMapping>,
    pub transform: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
