//! Backend-agnostic planning of writes: compare what a write asserts with what is stored,
//! and decide which rows to insert, update or soft-delete and which change-log rows to add.
//!
//! Planning in Rust (rather than in `ON CONFLICT … WHERE` clauses) keeps the two backends'
//! SQL identical and lets unchanged rows go unwritten, so a repeated write leaves no noise.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;
use tributary_catalog::{Edge, EdgeDraft, Entity, EntityDraft, EntityKind, Fqn};
use uuid::Uuid;

use crate::{EntityState, PendingChange, ReferenceProblem, StoreError, TreeWritten, WriteCounts};

impl PendingChange {
    pub(crate) fn entity(op: &'static str, entity: &Entity) -> Self {
        PendingChange {
            op,
            entity_id: Some(entity.id),
            fqn: Some(entity.fqn.to_string()),
            detail: json!({ "kind": entity.kind }),
        }
    }

    /// The edge's id (what followers read it back by), its ends by name (what a person
    /// reading the log needs, even after an end is deleted) and its source. The ends' ids
    /// are left out: nothing reads them, and on a 5,000-edge write they were a third of
    /// the rows' bytes and about a quarter of PostgreSQL's time copying them in.
    pub(crate) fn edge(op: &'static str, edge: &Edge) -> Self {
        PendingChange {
            op,
            entity_id: None,
            fqn: None,
            detail: json!({
                "edge_id": edge.id,
                "from": edge.from, "to": edge.to, "source": edge.source,
            }),
        }
    }
}

/// What to do with one entity.
#[derive(Debug)]
pub(crate) enum EntityOutcome {
    Unchanged(Entity),
    Created(Entity),
    Updated(Entity),
}

impl EntityOutcome {
    pub fn entity(&self) -> &Entity {
        match self {
            EntityOutcome::Unchanged(e) | EntityOutcome::Created(e) | EntityOutcome::Updated(e) => {
                e
            }
        }
    }
}

/// Plans writing `draft` over `stored` (the row at the same FQN, live or not). The draft
/// is taken by value: a planned row moves its fields rather than copying them, which
/// counts for thousands of features.
pub(crate) fn plan_entity(
    stored: Option<&Entity>,
    draft: EntityDraft,
    parent_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<EntityOutcome, StoreError> {
    let Some(stored) = stored else {
        return Ok(EntityOutcome::Created(first_version(draft, parent_id, now)));
    };
    if stored.kind != draft.kind {
        return Err(StoreError::Conflict {
            key: draft.fqn.to_string(),
            reason: format!(
                "this FQN already names a {}, not a {}",
                stored.kind, draft.kind
            ),
        });
    }
    if stored.matches(&draft, parent_id) {
        return Ok(EntityOutcome::Unchanged(stored.clone()));
    }
    // Same FQN (it was looked up by it) and kind: the draft's row, under the stored
    // row's identity and history.
    Ok(EntityOutcome::Updated(Entity {
        id: stored.id,
        version: stored.version + 1,
        created_at: stored.created_at,
        ..first_version(draft, parent_id, now)
    }))
}

/// The row `draft` asserts, as a new entity would be written.
fn first_version(draft: EntityDraft, parent_id: Option<Uuid>, now: DateTime<Utc>) -> Entity {
    Entity {
        id: Uuid::now_v7(),
        kind: draft.kind,
        name: draft.fqn.name().to_owned(),
        fqn: draft.fqn,
        parent_id,
        display_name: draft.display_name,
        description: draft.description,
        owner: draft.owner,
        tags: draft.tags,
        attrs: draft.attrs,
        source: draft.source,
        version: 1,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

/// Rows to write for one tree (or any batch of entities), and the log of it.
#[derive(Debug, Default)]
pub(crate) struct EntityWrites {
    pub upserts: Vec<Entity>,
    pub soft_deletes: Vec<Entity>,
    pub changes: Vec<PendingChange>,
    pub counts: WriteCounts,
    /// Every entity planned, live after the write.
    pub live: Vec<EntityState>,
}

impl EntityWrites {
    pub fn record(&mut self, outcome: EntityOutcome) {
        let e = outcome.entity();
        self.live.push(EntityState {
            id: e.id,
            kind: e.kind,
            fqn: e.fqn.to_string(),
            live: true,
        });
        match outcome {
            EntityOutcome::Unchanged(_) => self.counts.unchanged += 1,
            EntityOutcome::Created(e) => {
                self.counts.created += 1;
                self.changes
                    .push(PendingChange::entity("entity.created", &e));
                self.upserts.push(e);
            }
            EntityOutcome::Updated(e) => {
                self.counts.updated += 1;
                self.changes
                    .push(PendingChange::entity("entity.updated", &e));
                self.upserts.push(e);
            }
        }
    }

    pub fn soft_delete(&mut self, entity: Entity) {
        self.counts.deleted += 1;
        self.changes
            .push(PendingChange::entity("entity.deleted", &entity));
        self.soft_deletes.push(entity);
    }
}

/// Plans the full set of a parent's children: listed ones upserted, live ones not listed
/// soft-deleted. `stored` holds every stored child, live or not.
pub(crate) fn plan_children(
    writes: &mut EntityWrites,
    parent_id: Uuid,
    stored: Vec<Entity>,
    drafts: Vec<EntityDraft>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut seen = HashSet::with_capacity(drafts.len());
    if let Some(twice) = drafts.iter().find(|d| !seen.insert(d.fqn.as_str())) {
        return Err(StoreError::Conflict {
            key: twice.fqn.to_string(),
            reason: "listed twice in one write".into(),
        });
    }
    let mut by_fqn: HashMap<String, Entity> =
        stored.into_iter().map(|e| (e.fqn.to_string(), e)).collect();
    for draft in drafts {
        let stored = by_fqn.remove(draft.fqn.as_str());
        let outcome = plan_entity(stored.as_ref(), draft, Some(parent_id), now)?;
        writes.record(outcome);
    }
    let mut gone: Vec<Entity> = by_fqn.into_values().filter(Entity::is_live).collect();
    gone.sort_by(|a, b| a.fqn.cmp(&b.fqn));
    for entity in gone {
        writes.soft_delete(entity);
    }
    Ok(())
}

/// A tree compared with what is stored, everything planned but its children, which
/// [`TreeRead::plan`] plans without the database (so it can run beside the transaction).
#[derive(Debug)]
pub(crate) struct TreeRead {
    pub children: Option<Vec<EntityDraft>>,
    pub root: Entity,
    pub root_created: bool,
    /// The root's stored children, live or not (none when the root is new).
    pub stored_children: Vec<Entity>,
    /// The ancestors created and the root, planned.
    pub writes: EntityWrites,
}

impl TreeRead {
    pub fn plan(mut self, now: DateTime<Utc>) -> Result<(TreeWritten, EntityWrites), StoreError> {
        if let Some(children) = self.children {
            plan_children(
                &mut self.writes,
                self.root.id,
                self.stored_children,
                children,
                now,
            )?;
        }
        let written = TreeWritten {
            root: self.root,
            root_created: self.root_created,
            counts: self.writes.counts,
        };
        Ok((written, self.writes))
    }
}

/// Every FQN an edge draft names: its ends, then its column mappings' columns, each with
/// whether it is named in a mapping.
pub(crate) fn names_in(edge: &EdgeDraft) -> impl Iterator<Item = (&Fqn, bool)> {
    [(&edge.key.from, false), (&edge.key.to, false)]
        .into_iter()
        .chain(edge.columns.iter().flat_map(|mapping| {
            mapping
                .from
                .iter()
                .chain([&mapping.to])
                .map(|fqn| (fqn, true))
        }))
}

/// Why an edge cannot end at `state`, if it cannot; `in_mapping` when the end is named in
/// a column mapping.
pub(crate) fn edge_end_problem(state: Option<&EntityState>, in_mapping: bool) -> Option<String> {
    Some(match state {
        None => "does not exist".to_owned(),
        Some(e) if !e.live => "was deleted".to_owned(),
        // A model's features are its input columns: OpenMetadata and lineage documents
        // map table columns onto them.
        Some(e) if in_mapping && !matches!(e.kind, EntityKind::Column | EntityKind::Feature) => {
            format!("is a {}; column mappings name columns or features", e.kind)
        }
        Some(e) if !e.kind.carries_lineage() => format!(
            "is a {}, which cannot carry lineage; link its tables or columns",
            e.kind
        ),
        Some(_) => return None,
    })
}

/// Every FQN the drafts name must be in `states` (resolved by the caller), live and able
/// to carry lineage; no edge may join an entity to itself. All problems come back
/// together, one per FQN in FQN order.
pub(crate) fn check_edge_ends(
    edges: &[EdgeDraft],
    states: &HashMap<String, EntityState>,
) -> Result<(), StoreError> {
    // Per FQN: whether any draft names it in a column mapping.
    let mut named: HashMap<&str, bool> = HashMap::new();
    for (fqn, in_mapping) in edges.iter().flat_map(names_in) {
        *named.entry(fqn.as_str()).or_default() |= in_mapping;
    }
    let mut named: Vec<(&str, bool)> = named.into_iter().collect();
    named.sort_unstable();
    let mut problems: Vec<ReferenceProblem> = named
        .into_iter()
        .filter_map(|(fqn, in_mapping)| {
            edge_end_problem(states.get(fqn), in_mapping).map(|problem| ReferenceProblem {
                reference: fqn.to_owned(),
                problem,
            })
        })
        .collect();
    problems.extend(
        edges
            .iter()
            .filter(|edge| edge.key.from == edge.key.to)
            .map(|edge| ReferenceProblem {
                reference: edge.key.from.to_string(),
                problem: "an edge cannot join an entity to itself".into(),
            }),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StoreError::References(problems))
    }
}

/// Stored edges by (from_id, to_id, source), the key drafts are matched on.
pub(crate) fn by_key(edges: Vec<Edge>) -> HashMap<(Uuid, Uuid, String), Edge> {
    edges
        .into_iter()
        .map(|e| ((e.from_id, e.to_id, e.source.clone()), e))
        .collect()
}

/// Rows to write for a batch of edges.
#[derive(Debug, Default)]
pub(crate) struct EdgeWrites {
    pub upserts: Vec<Edge>,
    pub changes: Vec<PendingChange>,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// The id of every edge the drafts assert, written or unchanged.
    pub ids: Vec<Uuid>,
}

/// Plans edge upserts. `states` resolves every endpoint's FQN; `stored` holds the stored
/// edges keyed by (from_id, to_id, source). A key listed twice keeps its last listing.
pub(crate) fn plan_edges(
    drafts: Vec<EdgeDraft>,
    states: &HashMap<String, EntityState>,
    stored: &HashMap<(Uuid, Uuid, String), Edge>,
    now: DateTime<Utc>,
) -> EdgeWrites {
    let mut latest: HashMap<(Uuid, Uuid, String), EdgeDraft> = HashMap::new();
    let mut order = Vec::new();
    for draft in drafts {
        let key = (
            states[draft.key.from.as_str()].id,
            states[draft.key.to.as_str()].id,
            draft.key.source.clone(),
        );
        if latest.insert(key.clone(), draft).is_none() {
            order.push(key);
        }
    }
    let mut writes = EdgeWrites::default();
    for key in order {
        let draft = latest.remove(&key).expect("every ordered key has a draft");
        match stored.get(&key) {
            Some(edge) if edge.columns == draft.columns && edge.transform == draft.transform => {
                writes.unchanged += 1;
                writes.ids.push(edge.id);
            }
            Some(edge) => {
                writes.ids.push(edge.id);
                let updated = Edge {
                    columns: draft.columns,
                    transform: draft.transform,
                    updated_at: now,
                    ..edge.clone()
                };
                writes.updated += 1;
                writes
                    .changes
                    .push(PendingChange::edge("edge.updated", &updated));
                writes.upserts.push(updated);
            }
            None => {
                let created = Edge {
                    id: Uuid::now_v7(),
                    from_id: key.0,
                    to_id: key.1,
                    from: draft.key.from,
                    to: draft.key.to,
                    source: draft.key.source,
                    columns: draft.columns,
                    transform: draft.transform,
                    created_at: now,
                    updated_at: now,
                };
                writes.created += 1;
                writes.ids.push(created.id);
                writes
                    .changes
                    .push(PendingChange::edge("edge.created", &created));
                writes.upserts.push(created);
            }
        }
    }
    writes
}

#[cfg(test)]
mod tests {
    use tributary_catalog::{EntityKind, Fqn};

    use super::*;

    fn column(name: &str) -> EntityDraft {
        EntityDraft::bare(
            EntityKind::Column,
            Fqn::parse(&format!("s.d.sc.t.{name}")).unwrap(),
            "api",
        )
    }

    #[test]
    fn unchanged_children_are_not_rewritten_and_missing_ones_are_deleted() {
        let now = Utc::now();
        let parent = Uuid::now_v7();
        let mut first = EntityWrites::default();
        plan_children(
            &mut first,
            parent,
            vec![],
            vec![column("a"), column("b")],
            now,
        )
        .unwrap();
        assert_eq!(first.counts.created, 2);

        let mut second = EntityWrites::default();
        plan_children(
            &mut second,
            parent,
            first.upserts.clone(),
            vec![column("a")],
            now,
        )
        .unwrap();
        assert_eq!(second.counts.unchanged, 1);
        assert_eq!(second.counts.deleted, 1);
        assert!(second.upserts.is_empty());
        assert_eq!(second.soft_deletes[0].name, "b");
    }

    #[test]
    fn a_child_listed_twice_is_refused() {
        let err = plan_children(
            &mut EntityWrites::default(),
            Uuid::now_v7(),
            vec![],
            vec![column("a"), column("a")],
            Utc::now(),
        )
        .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }));
    }
}
