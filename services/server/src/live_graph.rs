//! The lineage graph of this server process, kept current from the change log (as is the
//! search index, through the same middleware and follower).
//!
//! Loaded from the store on start. This process's own writes are applied before their
//! response goes out (see [`sync_after_writes`]), so a client reads its own writes; writes
//! by other replicas arrive through a follower that polls the log. A bulk write that holds
//! its committed state (a lineage document) is applied from that state instead of being
//! read back ([`apply_committed`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tributary_catalog::{Edge, Fqn, Team};
use tributary_graph::LineageGraph;
use tributary_store::{CommittedWrite, Store, StoreError};
use uuid::Uuid;

use crate::state::AppState;

/// Rows read from the store per batch while loading or following.
const BATCH: u32 = 10_000;

pub struct LiveGraph {
    graph: RwLock<LineageGraph>,
    teams: RwLock<HashMap<String, Team>>,
    /// The change-log position the graph reflects.
    applied: AtomicI64,
    /// One sync at a time; readers never wait on it except for the final swap-in.
    syncing: tokio::sync::Mutex<()>,
}

impl LiveGraph {
    /// Loads every entity and edge, then catches up with writes made meanwhile.
    pub async fn load(store: &dyn Store) -> Result<Arc<LiveGraph>, StoreError> {
        let started = Instant::now();
        // Read the position first: changes racing with the scan are applied again after,
        // and applying a change twice gives the same graph.
        let from_seq = store.last_change_seq().await?;
        let mut graph = LineageGraph::new();
        let mut after = None;
        loop {
            let batch = store.scan_entities(after, BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            for entity in &batch {
                graph.apply_entity(entity);
            }
        }
        let mut after = None;
        loop {
            let batch = store.scan_edges(after, BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            let columns = resolve_mapped_columns(store, &batch).await?;
            for edge in &batch {
                graph.apply_edge(edge, &columns);
            }
        }
        let live = Arc::new(LiveGraph {
            graph: RwLock::new(graph),
            teams: RwLock::new(HashMap::new()),
            applied: AtomicI64::new(from_seq),
            syncing: tokio::sync::Mutex::new(()),
        });
        live.reload_teams(store).await?;
        live.sync(store).await?;
        let stats = live.read().stats();
        tracing::info!(
            nodes = stats.nodes,
            links = stats.links,
            edges = stats.lineage_edges,
            ms = started.elapsed().as_millis() as u64,
            "lineage graph loaded"
        );
        Ok(live)
    }

    pub fn read(&self) -> RwLockReadGuard<'_, LineageGraph> {
        self.graph
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers `question` from the graph. When it has no answer (the entity is in the store
    /// but not yet in the graph: another replica just wrote it), catches up once and asks again.
    pub async fn answer<T>(
        &self,
        store: &dyn Store,
        question: impl Fn(&LineageGraph) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        if let Some(answer) = question(&self.read()) {
            return Ok(Some(answer));
        }
        self.sync(store).await?;
        Ok(question(&self.read()))
    }

    pub fn team(&self, name: &str) -> Option<Team> {
        self.teams
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub fn applied_seq(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    async fn reload_teams(&self, store: &dyn Store) -> Result<(), StoreError> {
        let teams = store.list_teams().await?;
        *self.teams.write().unwrap_or_else(|p| p.into_inner()) =
            teams.into_iter().map(|t| (t.name.clone(), t)).collect();
        Ok(())
    }

    /// Applies every change-log row after the graph's position; returns how many.
    pub async fn sync(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let _one_at_a_time = self.syncing.lock().await;
        self.sync_locked(store).await
    }

    /// Applies a write this process just committed from the rows it holds, without reading
    /// them back — when the graph is right before it in the log; else catches up as usual.
    pub async fn apply_committed(
        &self,
        store: &dyn Store,
        write: &CommittedWrite,
    ) -> Result<(), StoreError> {
        let _one_at_a_time = self.syncing.lock().await;
        let applied = self.applied_seq();
        if applied >= write.last_seq {
            return Ok(());
        }
        if applied != write.after_seq {
            return self.sync_locked(store).await.map(|_| ());
        }
        {
            let mut graph = self.graph.write().unwrap_or_else(|p| p.into_inner());
            for entity in &write.entities {
                graph.apply_entity(entity);
            }
            for id in &write.removed_edges {
                graph.remove_edge(*id);
            }
            for edge in &write.edges {
                graph.apply_edge(edge, &write.ids);
            }
        }
        self.applied.store(write.last_seq, Ordering::Release);
        Ok(())
    }

    async fn sync_locked(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let mut applied = 0;
        loop {
            let from = self.applied_seq();
            let changes = store.changes_after(from, BATCH).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                break;
            };
            let mut entity_ids = HashSet::new();
            let mut edge_ids = HashSet::new();
            let mut teams_changed = false;
            for change in &changes {
                if change.op.starts_with("entity.") {
                    entity_ids.extend(change.entity_id);
                } else if change.op.starts_with("edge.") {
                    if let Some(id) = change.detail["edge_id"]
                        .as_str()
                        .and_then(|s| s.parse::<Uuid>().ok())
                    {
                        edge_ids.insert(id);
                    }
                } else if change.op.starts_with("team.") {
                    teams_changed = true;
                }
            }
            // The current state of everything touched, not each change in turn: the same
            // graph results, with one read per kind instead of one per change.
            let entity_ids: Vec<Uuid> = entity_ids.into_iter().collect();
            let entities = store.entities_by_id(&entity_ids).await?;
            let edge_ids: Vec<Uuid> = edge_ids.into_iter().collect();
            let edges = store.edges_by_id(&edge_ids).await?;
            let columns = resolve_mapped_columns(store, &edges).await?;
            if teams_changed {
                self.reload_teams(store).await?;
            }
            {
                let mut graph = self.graph.write().unwrap_or_else(|p| p.into_inner());
                for entity in &entities {
                    graph.apply_entity(entity);
                }
                let present: HashSet<Uuid> = edges.iter().map(|e| e.id).collect();
                for id in edge_ids.iter().filter(|id| !present.contains(id)) {
                    graph.remove_edge(*id);
                }
                for edge in &edges {
                    graph.apply_edge(edge, &columns);
                }
            }
            self.applied.store(last, Ordering::Release);
            applied += changes.len();
        }
        Ok(applied)
    }
}

/// Entity ids of the columns named in the edges' column mappings.
async fn resolve_mapped_columns(
    store: &dyn Store,
    edges: &[Edge],
) -> Result<HashMap<String, Uuid>, StoreError> {
    let mut fqns: Vec<Fqn> = edges
        .iter()
        .flat_map(|e| e.columns.iter())
        .flat_map(|m| m.from.iter().chain(std::iter::once(&m.to)))
        .cloned()
        .collect();
    if fqns.is_empty() {
        return Ok(HashMap::new());
    }
    fqns.sort();
    fqns.dedup();
    Ok(store
        .entities_by_fqn(&fqns)
        .await?
        .into_iter()
        .map(|e| (e.fqn.to_string(), e.id))
        .collect())
}

/// Middleware: after a request that may have written, bring the graph and the search
/// index up to date before answering, so the writer's next read sees its write — unless
/// the handler applied its write itself ([`Applied`]).
pub async fn sync_after_writes(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let writes = !request.method().is_safe();
    let response = next.run(request).await;
    if writes && response.status().is_success() && response.extensions().get::<Applied>().is_none()
    {
        follow(&state).await;
    }
    response
}

/// Marks a response whose handler brought the graph up to its write and handed the search
/// index its part ([`apply_committed`]).
#[derive(Debug, Clone, Copy)]
pub struct Applied;

/// Brings the graph up to a write this process committed, from the state the write holds,
/// before returning; the search index follows on a task of its own. A bulk write (a
/// lineage document: thousands of entities) is answered once impact analysis sees it;
/// indexing its text for search takes as long again and is not waited for, as search
/// engines beside other catalogs are not. Failures are logged and left for the follower.
pub async fn apply_committed(state: &AppState, write: Arc<CommittedWrite>) {
    tokio::spawn({
        let (state, write) = (state.clone(), write.clone());
        async move {
            let store = state.store.as_ref();
            if let Err(err) = state.search.apply_committed(store, &write).await {
                tracing::warn!(error = %err, "could not apply a write to the search index; retrying later");
            }
        }
    });
    if let Err(err) = state
        .graph
        .apply_committed(state.store.as_ref(), &write)
        .await
    {
        tracing::warn!(error = %err, "could not apply a write to the lineage graph; retrying later");
    }
}

/// Applies new change-log rows to the graph and the search index; failures are logged
/// and left for the next round.
pub(crate) async fn follow(state: &AppState) {
    let store = state.store.as_ref();
    // Independent readers of the same rows: side by side, the write waits for the slower.
    let (graph, search) = tokio::join!(state.graph.sync(store), state.search.sync(store));
    if let Err(err) = graph {
        tracing::warn!(error = %err, "could not apply changes to the lineage graph; retrying later");
    }
    if let Err(err) = search {
        tracing::warn!(error = %err, "could not apply changes to the search index; retrying later");
    }
}

/// Follows the change log every `interval`, for writes made by other replicas.
pub fn spawn_follower(state: AppState, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            follow(&state).await;
        }
    })
}
