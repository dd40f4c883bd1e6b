//! Keeping the index current from the store: full rebuilds, and catching up with the
//! change log (this process's writes and other replicas').
//!
//! A document borrows from its neighbours — a column its table's owner, a model its
//! features' names — so a change reindexes more than the changed entity: a feature's
//! model, and a table's or model's contents when its owner changed.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tributary_catalog::{Entity, EntityKind, Fqn};
use tributary_store::{CommittedWrite, Store};
use uuid::Uuid;

use crate::document::EntityDoc;
use crate::error::SearchError;
use crate::index::{Found, IndexBatch, SearchIndex};

/// Rows read from the store per batch.
const BATCH: u32 = 10_000;

/// What a write already holds, so reindexing need not read it back.
#[derive(Default)]
struct Known {
    /// Entities as stored, by id.
    context: HashMap<Uuid, Entity>,
    /// A model's live features' names.
    feature_names: HashMap<Uuid, Vec<String>>,
}

/// How the index was brought up to date on opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// It was current: nothing was read or written.
    Current { seq: i64 },
    /// It was behind and applied the changes since.
    CaughtUp { from: i64, to: i64, changes: usize },
    /// It was missing, from another version or another catalog, or in memory.
    Rebuilt(Rebuilt),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub documents: u64,
    pub seq: i64,
    pub elapsed: Duration,
}

/// Opens the index in `dir` (in memory when `None`) and brings it up to the change log:
/// rebuilt only when it has nothing usable, else caught up from its stored position.
pub async fn open(
    dir: Option<&Path>,
    store: &dyn Store,
) -> Result<(Arc<SearchIndex>, Opening), SearchError> {
    let Some(dir) = dir else {
        let index = Arc::new(SearchIndex::in_ram()?);
        let rebuilt = index.rebuild(store).await?;
        return Ok((index, Opening::Rebuilt(rebuilt)));
    };
    let (index, found) = SearchIndex::open_dir(dir)?;
    let index = Arc::new(index);
    let last = store.last_change_seq().await?;
    let opening = match found {
        Found::At { seq } if seq == last => Opening::Current { seq },
        Found::At { seq } if seq < last => {
            let changes = index.sync(store).await?;
            Opening::CaughtUp {
                from: seq,
                to: index.applied_seq(),
                changes,
            }
        }
        // Ahead of the log: the index belongs to another catalog.
        Found::At { .. } | Found::Empty => Opening::Rebuilt(index.rebuild(store).await?),
    };
    Ok((index, opening))
}

impl SearchIndex {
    /// Reindexes every live entity from the store, then applies what changed meanwhile.
    pub async fn rebuild(&self, store: &dyn Store) -> Result<Rebuilt, SearchError> {
        let started = Instant::now();
        {
            let mut batch = self.batch().await;
            // The position first: changes racing with the scans are applied again after,
            // and applying a change twice gives the same index.
            let seq = store.last_change_seq().await?;
            // First pass: what children borrow from their parents.
            let mut parents: HashMap<Uuid, Entity> = HashMap::new();
            let mut features: HashMap<Uuid, Vec<String>> = HashMap::new();
            let mut after = None;
            loop {
                let entities = store.scan_entities(after, BATCH).await?;
                let Some(last) = entities.last() else { break };
                after = Some(last.id);
                for e in entities {
                    match e.kind {
                        EntityKind::Feature => {
                            if let Some(model) = e.parent_id {
                                features.entry(model).or_default().push(e.name);
                            }
                        }
                        EntityKind::Table | EntityKind::MlModel => {
                            parents.insert(e.id, e);
                        }
                        _ => {}
                    }
                }
            }
            batch.clear()?;
            let mut after = None;
            loop {
                let entities = store.scan_entities(after, BATCH).await?;
                let Some(last) = entities.last() else { break };
                after = Some(last.id);
                for e in &entities {
                    let parent = e.parent_id.and_then(|p| parents.get(&p));
                    let names = if e.kind == EntityKind::MlModel {
                        features.remove(&e.id).unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    batch.add(&EntityDoc::new(e, parent, names))?;
                }
            }
            batch.commit(seq)?;
        }
        self.sync(store).await?;
        let rebuilt = Rebuilt {
            documents: self.stats().documents,
            seq: self.applied_seq(),
            elapsed: started.elapsed(),
        };
        tracing::info!(
            documents = rebuilt.documents,
            seq = rebuilt.seq,
            ms = rebuilt.elapsed.as_millis() as u64,
            "search index rebuilt"
        );
        Ok(rebuilt)
    }

    /// Applies every change-log row after the index's position; returns how many.
    pub async fn sync(&self, store: &dyn Store) -> Result<usize, SearchError> {
        let mut batch = self.batch().await;
        let mut applied = 0;
        loop {
            let changes = store.changes_after(self.applied_seq(), BATCH).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                break;
            };
            let ids: HashSet<Uuid> = changes
                .iter()
                .filter(|c| c.op.starts_with("entity."))
                .filter_map(|c| c.entity_id)
                .collect();
            self.reindex(&mut batch, store, ids).await?;
            batch.commit(last)?;
            applied += changes.len();
        }
        Ok(applied)
    }

    /// Applies a write this process just committed from the state it holds, without reading
    /// it back — when the index is right before it in the log; else catches up as usual.
    pub async fn apply_committed(
        &self,
        store: &dyn Store,
        write: &CommittedWrite,
    ) -> Result<(), SearchError> {
        let mut batch = self.batch().await;
        let applied = self.applied_seq();
        if applied >= write.last_seq {
            return Ok(());
        }
        if applied != write.after_seq {
            drop(batch);
            return self.sync(store).await.map(|_| ());
        }
        let entities = write.entities.iter().map(|e| (e.id, e.clone())).collect();
        let mut known = Known::default();
        for (root, children) in &write.trees {
            known.context.insert(root.id, root.clone());
            let names = children
                .iter()
                .filter(|c| c.kind == EntityKind::Feature)
                .filter_map(|c| Fqn::parse(&c.fqn).ok().map(|f| f.name().to_owned()));
            known.feature_names.insert(root.id, names.collect());
        }
        self.reindex_with(&mut batch, store, entities, known)
            .await?;
        batch.commit(write.last_seq)
    }

    /// Brings the documents of `ids` (and of those borrowing from them) to the stored state.
    async fn reindex(
        &self,
        batch: &mut IndexBatch<'_>,
        store: &dyn Store,
        ids: HashSet<Uuid>,
    ) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = ids.into_iter().collect();
        let entities: HashMap<Uuid, Entity> = store
            .entities_by_id(&ids)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        self.reindex_with(batch, store, entities, Known::default())
            .await
    }

    /// Reindexes `entities` (as stored) and those borrowing from them, reading from the
    /// store only what `known` does not hold.
    async fn reindex_with(
        &self,
        batch: &mut IndexBatch<'_>,
        store: &dyn Store,
        mut entities: HashMap<Uuid, Entity>,
        known: Known,
    ) -> Result<(), SearchError> {
        let Known {
            context: mut known_context,
            feature_names: mut known_names,
        } = known;
        // Models whose feature list may have changed, and parents children borrow from.
        let mut models: HashSet<Uuid> = HashSet::new();
        let mut wanted: HashSet<Uuid> = HashSet::new();
        for e in entities.values() {
            if e.kind == EntityKind::Feature
                && let Some(model) = e.parent_id
            {
                models.insert(model);
            }
            if e.kind == EntityKind::MlModel && e.is_live() {
                models.insert(e.id);
            }
            if e.is_live()
                && matches!(e.kind, EntityKind::Column | EntityKind::Feature)
                && let Some(parent) = e.parent_id
            {
                wanted.insert(parent);
            }
        }
        wanted.extend(models.iter().copied());
        let missing: Vec<Uuid> = wanted
            .into_iter()
            .filter(|id| !entities.contains_key(id) && !known_context.contains_key(id))
            .collect();
        let mut context: HashMap<Uuid, Entity> = store
            .entities_by_id(&missing)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        context.extend(known_context.drain());

        // Containers whose owner changed: their contents inherit it.
        let mut owner_changed = Vec::new();
        for e in entities.values() {
            if e.is_live()
                && matches!(e.kind, EntityKind::Table | EntityKind::MlModel)
                && let Some(indexed) = self.indexed_owner(e.id)?
                && indexed != e.owner
            {
                owner_changed.push(e.id);
            }
        }

        let mut feature_names: HashMap<Uuid, Vec<String>> = HashMap::new();
        for &model in &models {
            let live = entities
                .get(&model)
                .or_else(|| context.get(&model))
                .is_some_and(Entity::is_live);
            if live && let Some(names) = known_names.remove(&model) {
                feature_names.insert(model, names);
            } else if live {
                let names = store
                    .children(model)
                    .await?
                    .into_iter()
                    .filter(|c| c.kind == EntityKind::Feature)
                    .map(|c| c.name)
                    .collect();
                feature_names.insert(model, names);
            }
        }
        for id in owner_changed {
            for child in store.children(id).await? {
                entities.entry(child.id).or_insert(child);
            }
        }
        // Models touched only through their features are reindexed too.
        for model in models {
            if !entities.contains_key(&model)
                && let Some(e) = context.remove(&model)
            {
                entities.insert(model, e);
            }
        }

        for e in entities.values() {
            if !e.is_live() {
                batch.remove(e.id);
                continue;
            }
            let parent = e
                .parent_id
                .and_then(|p| entities.get(&p).or_else(|| context.get(&p)));
            let names = feature_names.remove(&e.id).unwrap_or_default();
            batch.upsert(&EntityDoc::new(e, parent, names))?;
        }
        Ok(())
    }
}
