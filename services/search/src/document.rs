//! What the index holds about one entity, and how it becomes a tantivy document.

use tantivy::TantivyDocument;
use tributary_catalog::{Entity, EntityKind};
use uuid::Uuid;

use crate::schema::{self, Fields};

/// One live entity as indexed, with what it borrows from its neighbours.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityDoc {
    pub id: Uuid,
    pub kind: EntityKind,
    pub fqn: String,
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// The entity's owner, else its parent's.
    pub owner: Option<String>,
    /// The service it belongs to (the first FQN part).
    pub service: String,
    /// FQN of the containing table or model (columns and features).
    pub parent_fqn: Option<String>,
    /// Name of that table or model, searched as words: columns are found by their table.
    pub parent_name: Option<String>,
    /// A model's live feature names; empty for other kinds.
    pub features: Vec<String>,
}

impl EntityDoc {
    /// The document for `entity`, given its parent (when it has one) and, for a model,
    /// its live features' names.
    pub fn new(entity: &Entity, parent: Option<&Entity>, features: Vec<String>) -> EntityDoc {
        let parent = parent.filter(|p| Some(p.id) == entity.parent_id);
        let inherits = matches!(entity.kind, EntityKind::Column | EntityKind::Feature);
        EntityDoc {
            id: entity.id,
            kind: entity.kind,
            fqn: entity.fqn.to_string(),
            name: entity.name.clone(),
            display_name: entity.display_name.clone(),
            description: entity.description.clone(),
            tags: entity.tags.clone(),
            owner: entity
                .owner
                .clone()
                .or_else(|| parent.filter(|_| inherits).and_then(|p| p.owner.clone())),
            service: entity.fqn.parts().first().cloned().unwrap_or_default(),
            parent_fqn: parent.filter(|_| inherits).map(|p| p.fqn.to_string()),
            parent_name: parent.filter(|_| inherits).map(|p| p.name.clone()),
            features: if entity.kind == EntityKind::MlModel {
                features
            } else {
                Vec::new()
            },
        }
    }

    pub(crate) fn to_tantivy(&self, f: &Fields) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        let (hi, lo) = self.id.as_u64_pair();
        doc.add_text(f.id, self.id.to_string());
        doc.add_u64(f.id_hi, hi);
        doc.add_u64(f.id_lo, lo);
        doc.add_text(f.kind, self.kind.as_str());
        doc.add_u64(f.kind_rank, schema::kind_rank(self.kind));
        doc.add_text(f.fqn, &self.fqn);
        doc.add_text(f.fqn_key, self.fqn.to_lowercase());
        doc.add_text(f.name, &self.name);
        doc.add_text(f.name_key, schema::key(&self.name));
        if let Some(display) = &self.display_name {
            doc.add_text(f.display_name, display);
            doc.add_text(f.context, display);
        }
        if let Some(description) = &self.description {
            doc.add_text(f.description, description);
        }
        for tag in &self.tags {
            doc.add_text(f.tags, tag);
            doc.add_text(f.context, tag);
        }
        if let Some(owner) = &self.owner {
            doc.add_text(f.owner, owner);
        }
        doc.add_text(f.service, &self.service);
        if let Some(parent) = &self.parent_fqn {
            doc.add_text(f.parent_fqn, parent);
        }
        if let Some(parent) = &self.parent_name {
            doc.add_text(f.context, parent);
        }
        for feature in &self.features {
            doc.add_text(f.features, feature);
            doc.add_text(f.feature_key, schema::key(feature));
        }
        doc
    }
}
