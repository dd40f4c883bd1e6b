//! The kinds of entity the catalog holds and where each sits in the containment tree.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CatalogError;

/// What an entity is. Stored as its snake_case name, so adding a kind needs no migration.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Service,
    Database,
    Schema,
    Table,
    Column,
    MlModel,
    Feature,
    Pipeline,
    Dashboard,
    Team,
}

impl EntityKind {
    pub const ALL: [EntityKind; 10] = [
        EntityKind::Service,
        EntityKind::Database,
        EntityKind::Schema,
        EntityKind::Table,
        EntityKind::Column,
        EntityKind::MlModel,
        EntityKind::Feature,
        EntityKind::Pipeline,
        EntityKind::Dashboard,
        EntityKind::Team,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Service => "service",
            EntityKind::Database => "database",
            EntityKind::Schema => "schema",
            EntityKind::Table => "table",
            EntityKind::Column => "column",
            EntityKind::MlModel => "ml_model",
            EntityKind::Feature => "feature",
            EntityKind::Pipeline => "pipeline",
            EntityKind::Dashboard => "dashboard",
            EntityKind::Team => "team",
        }
    }

    /// The kind of this kind's parent in the containment tree; `None` for roots.
    pub fn parent_kind(self) -> Option<EntityKind> {
        match self {
            EntityKind::Service | EntityKind::Team => None,
            EntityKind::Database
            | EntityKind::MlModel
            | EntityKind::Pipeline
            | EntityKind::Dashboard => Some(EntityKind::Service),
            EntityKind::Schema => Some(EntityKind::Database),
            EntityKind::Table => Some(EntityKind::Schema),
            EntityKind::Column => Some(EntityKind::Table),
            EntityKind::Feature => Some(EntityKind::MlModel),
        }
    }

    /// How many FQN parts an entity of this kind has (`service.database.schema.table` is 4).
    pub fn fqn_depth(self) -> usize {
        match self.parent_kind() {
            None => 1,
            Some(parent) => parent.fqn_depth() + 1,
        }
    }

    /// The parts of this kind's FQN, e.g. `service.database.schema.table`.
    pub fn fqn_shape(self) -> String {
        match self.parent_kind() {
            None => self.as_str().to_owned(),
            Some(parent) => format!("{}.{}", parent.fqn_shape(), self.as_str()),
        }
    }

    /// Whether lineage edges may start or end at this kind. Containers (services,
    /// databases, schemas) and teams take part through containment and ownership only.
    pub fn carries_lineage(self) -> bool {
        !matches!(
            self,
            EntityKind::Service | EntityKind::Database | EntityKind::Schema | EntityKind::Team
        )
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityKind {
    type Err = CatalogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| CatalogError::InvalidField {
                field: "kind".into(),
                reason: format!(
                    "unknown kind {s:?}; expected one of {}",
                    EntityKind::ALL.map(EntityKind::as_str).join(", ")
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in EntityKind::ALL {
            assert_eq!(kind.as_str().parse::<EntityKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert!("mlmodel".parse::<EntityKind>().is_err());
    }

    #[test]
    fn depths_follow_the_containment_tree() {
        assert_eq!(EntityKind::Service.fqn_depth(), 1);
        assert_eq!(EntityKind::Table.fqn_depth(), 4);
        assert_eq!(EntityKind::Column.fqn_depth(), 5);
        assert_eq!(EntityKind::MlModel.fqn_depth(), 2);
        assert_eq!(EntityKind::Feature.fqn_depth(), 3);
        assert_eq!(
            EntityKind::Column.fqn_shape(),
            "service.database.schema.table.column"
        );
    }
}
