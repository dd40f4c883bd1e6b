//! The SQL both backends run, written once.
//!
//! [`sql_store!`] expands to the `Store` implementation inside each backend module, where
//! `Db` names the sqlx database. The SQL text is shared (both accept `$N` placeholders,
//! `ON CONFLICT … DO UPDATE`, `RETURNING` and row values), while binds use each backend's
//! native types: UUID, TIMESTAMPTZ and JSONB on PostgreSQL; BLOB and TEXT on SQLite.
//! A backend supplies `self.pool`, `self.begin_write()` (a transaction holding the write
//! lock, so change-log order is commit order) and `MIGRATOR`.
//!
//! Bulk inserts are the exception: SQLite takes multi-row `VALUES`, PostgreSQL one
//! `UNNEST` of array binds (a 15,000-bind statement costs it more to plan than to run),
//! so each backend module supplies `upsert_entities`, `upsert_edges` and `append_changes`.
//!
//! The queries live in one file per area (`catalog`, `edges`, `incidents`, `access`),
//! each a macro of free functions taking the store; all of them expand into the backend
//! module, where the `Store` implementation below delegates to them.

/// Rows per multi-row statement: 1,000 rows of up to 15 binds stays under SQLite's 32,766
/// and PostgreSQL's 65,535 bind limits.
pub(crate) const BATCH_ROWS: usize = 1000;

pub(crate) const ENTITY_COLUMNS: &str = "id, kind, fqn, name, parent_id, display_name, \
    description, owner, tags, attrs, source, version, created_at, updated_at, deleted_at";

/// What an entity upsert overwrites when the id exists (identity and kind never change).
pub(crate) const ENTITY_ON_CONFLICT: &str = " ON CONFLICT (id) DO UPDATE SET \
    parent_id = excluded.parent_id, display_name = excluded.display_name, \
    description = excluded.description, owner = excluded.owner, tags = excluded.tags, \
    attrs = excluded.attrs, source = excluded.source, version = excluded.version, \
    updated_at = excluded.updated_at, deleted_at = excluded.deleted_at";

pub(crate) const EDGE_COLUMNS: &str =
    "id, from_id, to_id, kind, source, columns, transform, created_at, updated_at";

/// What an edge upsert overwrites when (from, to, source) exists.
pub(crate) const EDGE_ON_CONFLICT: &str = " ON CONFLICT (from_id, to_id, source) DO UPDATE SET \
    columns = excluded.columns, transform = excluded.transform, updated_at = excluded.updated_at";

pub(crate) const INCIDENT_COLUMNS: &str = "id, entity_id, fqn, title, description, severity, \
    status, snapshot, opened_by, opened_at, acknowledged_by, acknowledged_at, resolved_by, \
    resolved_at";

pub(crate) const DELIVERY_COLUMNS: &str = "id, incident_id, team, url, payload, status, \
    attempts, last_error, last_status_code, next_attempt_at, delivered_at, created_at, updated_at";

/// Why `incident` cannot move to `to`, worded for the person who asked.
pub(crate) fn refused_move(incident: &crate::Incident, to: crate::IncidentStatus) -> String {
    use crate::IncidentStatus::*;
    let by_at = |by: &Option<String>, at: &Option<chrono::DateTime<chrono::Utc>>| match (by, at) {
        (Some(by), Some(at)) => format!(" by {by} at {}", at.to_rfc3339()),
        _ => String::new(),
    };
    let acknowledged = by_at(&incident.acknowledged_by, &incident.acknowledged_at);
    let resolved = by_at(&incident.resolved_by, &incident.resolved_at);
    match (incident.status, to) {
        (Acknowledged, Acknowledged) => {
            format!("the incident was already acknowledged{acknowledged}; resolve it when fixed")
        }
        (Resolved, Acknowledged) => format!(
            "the incident was resolved{resolved}; a resolved incident cannot be acknowledged \
             (open a new one if the problem is back)"
        ),
        (Resolved, Resolved) => format!(
            "the incident was already resolved{resolved}; open a new one if the problem is back"
        ),
        (from, to) => format!("an incident cannot move from {from} to {to}"),
    }
}

/// A blocking task's result; a panic in it goes on in the caller.
pub(crate) fn joined<T>(result: Result<T, tokio::task::JoinError>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

pub(crate) mod access;
pub(crate) mod catalog;
pub(crate) mod edges;
pub(crate) mod incidents;
pub(crate) mod ingestion;
pub(crate) mod reconcile;

macro_rules! sql_store {
    ($store:ty) => {
        use std::collections::{HashMap, HashSet};

        use async_trait::async_trait;
        use chrono::{DateTime, Utc};
        use sqlx::types::Json;
        use sqlx::{AssertSqlSafe, QueryBuilder, Row};
        use tributary_catalog::{
            ConnectionConfig, Edge, EdgeDraft, EdgeKey, Entity, EntityDraft, EntityKind, Fqn, Team,
            TeamDraft,
        };
        use uuid::Uuid;

        use crate::plan::{self, EntityOutcome, EntityWrites, TreeRead};
        use crate::sql::{BATCH_ROWS, DELIVERY_COLUMNS, ENTITY_COLUMNS, INCIDENT_COLUMNS};
        use crate::{
            Backend, Change, ChildCount, CommittedWrite, Delivery, DeliveryOutcome, DeliveryStatus,
            DocumentWrite, DocumentWritten, EdgesWritten, EntityState, EntityTree, Incident,
            IncidentStatus, IncidentSummary, IngestionRun, ListQuery, NewIncident, NewToken, Page,
            PendingChange, ReferenceProblem, Result, RunCounts, RunOutcome, RunStatus, RunTrigger,
            SnapshotWrite, SnapshotWritten, Store, StoreError, TokenRecord, TreeWritten,
        };

        type Conn = <Db as sqlx::Database>::Connection;
        type DbRow = <Db as sqlx::Database>::Row;

        fn corrupt(what: impl std::fmt::Display) -> StoreError {
            StoreError::Corrupt(what.to_string())
        }

        fn entity_from_row(row: &DbRow) -> Result<Entity> {
            let kind: String = row.try_get("kind")?;
            let fqn: String = row.try_get("fqn")?;
            Ok(Entity {
                id: row.try_get("id")?,
                kind: kind.parse().map_err(corrupt)?,
                fqn: Fqn::parse(&fqn).map_err(corrupt)?,
                name: row.try_get("name")?,
                parent_id: row.try_get("parent_id")?,
                display_name: row.try_get("display_name")?,
                description: row.try_get("description")?,
                owner: row.try_get("owner")?,
                tags: row.try_get::<Json<Vec<String>>, _>("tags")?.0,
                attrs: row.try_get::<Json<serde_json::Value>, _>("attrs")?.0,
                source: row.try_get("source")?,
                version: row.try_get("version")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                deleted_at: row.try_get("deleted_at")?,
            })
        }

        /// Entities at the given FQNs (live or soft-deleted).
        async fn entities_at(conn: &mut Conn, fqns: &[String]) -> Result<Vec<Entity>> {
            if fqns.is_empty() {
                return Ok(Vec::new());
            }
            let mut qb =
                QueryBuilder::<Db>::new(format!("SELECT {ENTITY_COLUMNS} FROM entities WHERE "));
            push_in_texts(&mut qb, "fqn", fqns);
            let rows = qb.build().fetch_all(&mut *conn).await?;
            rows.iter().map(entity_from_row).collect()
        }

        /// Id, kind and liveness of the entities at `fqns`, by FQN: the light lookup for
        /// checking and resolving thousands of references.
        async fn entity_states_at(
            conn: &mut Conn,
            fqns: &[String],
        ) -> Result<HashMap<String, EntityState>> {
            let mut out = HashMap::with_capacity(fqns.len());
            if fqns.is_empty() {
                return Ok(out);
            }
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT id, kind, fqn, deleted_at IS NULL AS live FROM entities WHERE ",
            );
            push_in_texts(&mut qb, "fqn", fqns);
            for row in qb.build().fetch_all(&mut *conn).await? {
                let kind: String = row.try_get("kind")?;
                let fqn: String = row.try_get("fqn")?;
                out.insert(
                    fqn.clone(),
                    EntityState {
                        id: row.try_get("id")?,
                        kind: kind.parse().map_err(corrupt)?,
                        fqn,
                        live: row.try_get("live")?,
                    },
                );
            }
            Ok(out)
        }

        async fn soft_delete(conn: &mut Conn, ids: &[Uuid], now: DateTime<Utc>) -> Result<()> {
            if ids.is_empty() {
                return Ok(());
            }
            let mut qb = QueryBuilder::<Db>::new("UPDATE entities SET deleted_at = ");
            qb.push_bind(now)
                .push(", updated_at = ")
                .push_bind(now)
                .push(", version = version + 1 WHERE ");
            push_in_ids(&mut qb, "id", ids);
            qb.build().execute(&mut *conn).await?;
            Ok(())
        }

        crate::sql::catalog::sql_catalog!($store);

        crate::sql::edges::sql_edges!($store);

        crate::sql::incidents::sql_incidents!($store);

        crate::sql::access::sql_access!($store);

        crate::sql::ingestion::sql_ingestion!($store);

        crate::sql::reconcile::sql_reconcile!($store);

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                Self::BACKEND
            }

            async fn get_entity(&self, fqn: &Fqn) -> Result<Entity> {
                get_entity(self, fqn).await
            }

            async fn entities_by_fqn(&self, fqns: &[Fqn]) -> Result<Vec<Entity>> {
                entities_by_fqn(self, fqns).await
            }

            async fn entity_states(&self, fqns: &[Fqn]) -> Result<Vec<EntityState>> {
                let mut conn = self.pool.acquire().await?;
                let texts: Vec<String> = fqns.iter().map(|f| f.to_string()).collect();
                Ok(entity_states_at(&mut conn, &texts)
                    .await?
                    .into_values()
                    .collect())
            }

            async fn entities_by_id(&self, ids: &[Uuid]) -> Result<Vec<Entity>> {
                entities_by_id(self, ids).await
            }

            async fn scan_entities(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<Entity>> {
                scan_entities(self, after, limit).await
            }

            async fn children(&self, parent: Uuid) -> Result<Vec<Entity>> {
                children(self, parent).await
            }

            async fn child_counts(&self, parent: Uuid) -> Result<Vec<ChildCount>> {
                child_counts(self, parent).await
            }

            async fn list_entities(&self, query: &ListQuery) -> Result<Page<Entity>> {
                list_entities(self, query).await
            }

            async fn put_entity_tree(&self, actor: &str, tree: EntityTree) -> Result<TreeWritten> {
                put_entity_tree(self, actor, tree).await
            }

            async fn delete_entity(&self, actor: &str, kind: EntityKind, fqn: &Fqn) -> Result<u64> {
                delete_entity(self, actor, kind, fqn).await
            }

            async fn put_service(
                &self,
                actor: &str,
                service: EntityDraft,
                connection: ConnectionConfig,
            ) -> Result<TreeWritten> {
                put_service(self, actor, service, connection).await
            }

            async fn service_connection(&self, service: &Fqn) -> Result<ConnectionConfig> {
                service_connection(self, service).await
            }

            async fn service_connections(&self) -> Result<HashMap<Uuid, ConnectionConfig>> {
                service_connections(self).await
            }

            async fn put_team(&self, actor: &str, team: TeamDraft) -> Result<(Team, bool)> {
                put_team(self, actor, team).await
            }

            async fn get_team(&self, name: &str) -> Result<Team> {
                get_team(self, name).await
            }

            async fn list_teams(&self) -> Result<Vec<Team>> {
                list_teams(self).await
            }

            async fn put_edges(&self, actor: &str, edges: Vec<EdgeDraft>) -> Result<EdgesWritten> {
                put_edges(self, actor, edges).await
            }

            async fn apply_lineage_document(
                &self,
                actor: &str,
                write: DocumentWrite,
            ) -> Result<DocumentWritten> {
                apply_lineage_document(self, actor, write).await
            }

            async fn delete_edges(&self, actor: &str, keys: Vec<EdgeKey>) -> Result<Vec<EdgeKey>> {
                delete_edges(self, actor, keys).await
            }

            async fn edges_by_id(&self, ids: &[Uuid]) -> Result<Vec<Edge>> {
                edges_by_id(self, ids).await
            }

            async fn scan_edges(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<Edge>> {
                scan_edges(self, after, limit).await
            }

            async fn edges_of(&self, entity: Uuid, limit: u32) -> Result<(Vec<Edge>, Vec<Edge>)> {
                edges_of(self, entity, limit).await
            }

            async fn open_incident(&self, actor: &str, incident: NewIncident) -> Result<Incident> {
                open_incident(self, actor, incident).await
            }

            async fn get_incident(&self, id: Uuid) -> Result<Incident> {
                get_incident(self, id).await
            }

            async fn list_incidents(
                &self,
                status: Option<IncidentStatus>,
                limit: u32,
            ) -> Result<Vec<Incident>> {
                list_incidents(self, status, limit).await
            }

            async fn acknowledge_incident(&self, actor: &str, id: Uuid) -> Result<Incident> {
                acknowledge_incident(self, actor, id).await
            }

            async fn resolve_incident(&self, actor: &str, id: Uuid) -> Result<Incident> {
                resolve_incident(self, actor, id).await
            }

            async fn active_incidents_touching(
                &self,
                entity_id: Uuid,
            ) -> Result<Vec<IncidentSummary>> {
                active_incidents_touching(self, entity_id).await
            }

            async fn deliveries_of(&self, incident_id: Uuid) -> Result<Vec<Delivery>> {
                deliveries_of(self, incident_id).await
            }

            async fn claim_due_deliveries(
                &self,
                now: DateTime<Utc>,
                lease: std::time::Duration,
                limit: u32,
            ) -> Result<Vec<Delivery>> {
                claim_due_deliveries(self, now, lease, limit).await
            }

            async fn record_delivery_attempt(
                &self,
                id: Uuid,
                outcome: DeliveryOutcome,
            ) -> Result<Delivery> {
                record_delivery_attempt(self, id, outcome).await
            }

            async fn readiness(&self) -> Result<()> {
                readiness(self).await
            }

            async fn create_token(&self, actor: &str, token: NewToken) -> Result<TokenRecord> {
                create_token(self, actor, token).await
            }

            async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
                token_by_hash(self, hash).await
            }

            async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
                list_tokens(self).await
            }

            async fn revoke_token(&self, actor: &str, name: &str) -> Result<()> {
                revoke_token(self, actor, name).await
            }

            async fn acquire_ingestion_lease(
                &self,
                service_id: Uuid,
                holder: &str,
                now: DateTime<Utc>,
                ttl: std::time::Duration,
            ) -> Result<bool> {
                acquire_ingestion_lease(self, service_id, holder, now, ttl).await
            }

            async fn release_ingestion_lease(&self, service_id: Uuid, holder: &str) -> Result<()> {
                release_ingestion_lease(self, service_id, holder).await
            }

            async fn start_ingestion_run(
                &self,
                service_id: Uuid,
                trigger: RunTrigger,
                holder: &str,
                now: DateTime<Utc>,
                scheduled_for: Option<DateTime<Utc>>,
            ) -> Result<IngestionRun> {
                start_ingestion_run(self, service_id, trigger, holder, now, scheduled_for).await
            }

            async fn last_scheduled_slot(&self, service_id: Uuid) -> Result<Option<DateTime<Utc>>> {
                last_scheduled_slot(self, service_id).await
            }

            async fn last_scheduled_slots(&self) -> Result<HashMap<Uuid, DateTime<Utc>>> {
                last_scheduled_slots(self).await
            }

            async fn reconcile_batch(
                &self,
                actor: &str,
                write: SnapshotWrite,
            ) -> Result<SnapshotWritten> {
                reconcile_batch(self, actor, write).await
            }

            async fn sweep_unseen(
                &self,
                actor: &str,
                run: Uuid,
                service: &Fqn,
                source: &str,
                limit: u32,
            ) -> Result<RunCounts> {
                sweep_unseen(self, actor, run, service, source, limit).await
            }

            async fn finish_ingestion_run(
                &self,
                id: Uuid,
                outcome: RunOutcome,
                now: DateTime<Utc>,
            ) -> Result<IngestionRun> {
                finish_ingestion_run(self, id, outcome, now).await
            }

            async fn ingestion_runs(
                &self,
                service_id: Uuid,
                limit: u32,
            ) -> Result<Vec<IngestionRun>> {
                ingestion_runs(self, service_id, limit).await
            }

            async fn recent_ingestion_runs(&self, limit: u32) -> Result<Vec<IngestionRun>> {
                recent_ingestion_runs(self, limit).await
            }

            async fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>> {
                changes_after(self, after, limit).await
            }

            async fn last_change_seq(&self) -> Result<i64> {
                last_change_seq(self).await
            }
        }
    };
}

pub(crate) use sql_store;
