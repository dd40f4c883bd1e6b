//! Entities: every node of the catalog (service, table, column, model, feature, …).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{EntityKind, Fqn};

/// An entity as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Entity {
    pub id: Uuid,
    pub kind: EntityKind,
    pub fqn: Fqn,
    pub name: String,
    /// Id of the containing entity (a column's table, a feature's model).
    pub parent_id: Option<Uuid>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// Name of the owning team.
    pub owner: Option<String>,
    pub tags: Vec<String>,
    /// Kind-specific attributes (a column's data type, a model's algorithm, …).
    #[schema(value_type = Object)]
    pub attrs: serde_json::Value,
    /// Who asserted this entity: `api`, `yaml:<doc>`, a connector run, `demo`.
    pub source: String,
    /// Bumped on every change; clients can compare it to notice concurrent edits.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when soft-deleted; a later write of the same FQN brings the entity back.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Entity {
    pub fn is_live(&self) -> bool {
        self.deleted_at.is_none()
    }

    /// Whether writing `draft` over this entity would change nothing a reader can see.
    pub fn matches(&self, draft: &EntityDraft, parent_id: Option<Uuid>) -> bool {
        self.is_live()
            && self.kind == draft.kind
            && self.name == draft.fqn.name()
            && self.parent_id == parent_id
            && self.display_name == draft.display_name
            && self.description == draft.description
            && self.owner == draft.owner
            && self.tags == draft.tags
            && self.attrs == draft.attrs
            && self.source == draft.source
    }
}

/// What a write asserts about one entity; the store assigns ids, versions and times.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityDraft {
    pub kind: EntityKind,
    pub fqn: Fqn,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    pub attrs: serde_json::Value,
    pub source: String,
}

impl EntityDraft {
    /// A bare entity with nothing but its kind, FQN and source (an implied parent, say).
    pub fn bare(kind: EntityKind, fqn: Fqn, source: impl Into<String>) -> Self {
        EntityDraft {
            kind,
            fqn,
            display_name: None,
            description: None,
            owner: None,
            tags: Vec::new(),
            attrs: serde_json::Value::Object(Default::default()),
            source: source.into(),
        }
    }
}
