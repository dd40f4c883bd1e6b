//! The SQL both backends run, written once.
//!
//! [`sql_store!`] expands to the `Store` implementation inside each backend module, where
//! `Db` names the sqlx database. The SQL text is shared (both accept `$N` placeholders,
//! `ON CONFLICT … DO UPDATE`, `RETURNING` and row values), while binds use each backend's
//! native types: UUID, TIMESTAMPTZ and JSONB on PostgreSQL; BLOB and TEXT on SQLite.
//! A backend supplies `self.pool`, `self.begin_write()` (a transaction holding the write
//! lock, so change-log order is commit order) and `MIGRATOR`.

/// Rows per multi-row statement: 1,000 rows of up to 15 binds stays under SQLite's 32,766
/// and PostgreSQL's 65,535 bind limits.
pub(crate) const BATCH_ROWS: usize = 1000;

pub(crate) const ENTITY_COLUMNS: &str = "id, kind, fqn, name, parent_id, display_name, \
    description, owner, tags, attrs, source, version, created_at, updated_at, deleted_at";

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

macro_rules! sql_store {
    ($store:ty) => {
        use std::collections::{HashMap, HashSet};

        use async_trait::async_trait;
        use chrono::{DateTime, Utc};
        use sqlx::types::Json;
        use sqlx::{AssertSqlSafe, QueryBuilder, Row};
        use tributary_catalog::{
            ConnectionConfig, Edge, EdgeDraft, EdgeKey, Entity, EntityDraft, EntityKind, Fqn,
            Team, TeamDraft,
        };
        use uuid::Uuid;

        use crate::plan::{self, EntityOutcome, EntityWrites, PendingChange};
        use crate::sql::{BATCH_ROWS, DELIVERY_COLUMNS, ENTITY_COLUMNS, INCIDENT_COLUMNS};
        use crate::{
            Backend, Change, ChildCount, Delivery, DeliveryOutcome, DeliveryStatus, EdgesWritten,
            EntityTree, Incident, IncidentStatus, IncidentSummary, ListQuery, NewIncident,
            NewToken, Page, ReferenceProblem, Result, Store, StoreError, TokenRecord, TreeWritten,
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

        fn edge_from_row(row: &DbRow) -> Result<Edge> {
            let from: String = row.try_get("from_fqn")?;
            let to: String = row.try_get("to_fqn")?;
            Ok(Edge {
                id: row.try_get("id")?,
                from_id: row.try_get("from_id")?,
                to_id: row.try_get("to_id")?,
                from: Fqn::parse(&from).map_err(corrupt)?,
                to: Fqn::parse(&to).map_err(corrupt)?,
                source: row.try_get("source")?,
                columns: row.try_get::<Json<Vec<tributary_catalog::ColumnMapping>>, _>("columns")?.0,
                transform: row.try_get("transform")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        fn team_from_row(row: &DbRow) -> Result<Team> {
            Ok(Team {
                name: row.try_get("name")?,
                display_name: row.try_get("display_name")?,
                description: row.try_get("description")?,
                contact: row.try_get("contact")?,
                webhook_url: row.try_get("webhook_url")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        fn token_from_row(row: &DbRow) -> Result<TokenRecord> {
            let role: String = row.try_get("role")?;
            Ok(TokenRecord {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                role: role.parse().map_err(corrupt)?,
                created_by: row.try_get("created_by")?,
                created_at: row.try_get("created_at")?,
                last_used_at: row.try_get("last_used_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        }

        /// Entities at the given FQNs (live or soft-deleted), in batches.
        async fn entities_at(conn: &mut Conn, fqns: &[String]) -> Result<Vec<Entity>> {
            let mut out = Vec::with_capacity(fqns.len());
            for chunk in fqns.chunks(BATCH_ROWS) {
                let mut qb = QueryBuilder::<Db>::new(format!(
                    "SELECT {ENTITY_COLUMNS} FROM entities WHERE fqn IN ("
                ));
                let mut list = qb.separated(", ");
                for fqn in chunk {
                    list.push_bind(fqn.as_str());
                }
                qb.push(")");
                for row in qb.build().fetch_all(&mut *conn).await? {
                    out.push(entity_from_row(&row)?);
                }
            }
            Ok(out)
        }

        /// Every entity strictly below `ancestor` (live or not), by the FQN range scan.
        async fn descendants_of(conn: &mut Conn, ancestor: &Fqn) -> Result<Vec<Entity>> {
            let (start, end) = ancestor.descendant_range();
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {ENTITY_COLUMNS} FROM entities WHERE fqn >= $1 AND fqn < $2"
            )))
            .bind(start)
            .bind(end)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(entity_from_row).collect()
        }

        async fn upsert_entities(conn: &mut Conn, rows: &[Entity]) -> Result<()> {
            for chunk in rows.chunks(BATCH_ROWS) {
                let mut qb = QueryBuilder::<Db>::new(format!("INSERT INTO entities ({ENTITY_COLUMNS}) "));
                qb.push_values(chunk, |mut b, e| {
                    b.push_bind(e.id)
                        .push_bind(e.kind.as_str())
                        .push_bind(e.fqn.as_str())
                        .push_bind(e.name.as_str())
                        .push_bind(e.parent_id)
                        .push_bind(e.display_name.as_deref())
                        .push_bind(e.description.as_deref())
                        .push_bind(e.owner.as_deref())
                        .push_bind(Json(&e.tags))
                        .push_bind(Json(&e.attrs))
                        .push_bind(e.source.as_str())
                        .push_bind(e.version)
                        .push_bind(e.created_at)
                        .push_bind(e.updated_at)
                        .push_bind(e.deleted_at);
                });
                qb.push(
                    " ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id, \
                     display_name = excluded.display_name, description = excluded.description, \
                     owner = excluded.owner, tags = excluded.tags, attrs = excluded.attrs, \
                     source = excluded.source, version = excluded.version, \
                     updated_at = excluded.updated_at, deleted_at = excluded.deleted_at",
                );
                qb.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn soft_delete(conn: &mut Conn, ids: &[Uuid], now: DateTime<Utc>) -> Result<()> {
            for chunk in ids.chunks(BATCH_ROWS) {
                let mut qb = QueryBuilder::<Db>::new("UPDATE entities SET deleted_at = ");
                qb.push_bind(now)
                    .push(", updated_at = ")
                    .push_bind(now)
                    .push(", version = version + 1 WHERE id IN (");
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                qb.push(")");
                qb.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn append_changes(
            conn: &mut Conn,
            actor: &str,
            now: DateTime<Utc>,
            changes: &[PendingChange],
        ) -> Result<()> {
            for chunk in changes.chunks(BATCH_ROWS) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO change_log (at, actor, op, entity_id, fqn, detail) ",
                );
                qb.push_values(chunk, |mut b, c| {
                    b.push_bind(now)
                        .push_bind(actor)
                        .push_bind(c.op)
                        .push_bind(c.entity_id)
                        .push_bind(c.fqn.as_deref())
                        .push_bind(Json(&c.detail));
                });
                qb.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn existing_teams(conn: &mut Conn, names: &HashSet<&str>) -> Result<HashSet<String>> {
            let mut found = HashSet::new();
            let names: Vec<&str> = names.iter().copied().collect();
            for chunk in names.chunks(BATCH_ROWS) {
                let mut qb = QueryBuilder::<Db>::new("SELECT name FROM teams WHERE name IN (");
                let mut list = qb.separated(", ");
                for name in chunk {
                    list.push_bind(*name);
                }
                qb.push(")");
                for row in qb.build().fetch_all(&mut *conn).await? {
                    found.insert(row.try_get::<String, _>("name")?);
                }
            }
            Ok(found)
        }

        /// Writes a tree inside the caller's transaction; see `Store::put_entity_tree`.
        async fn write_tree(
            conn: &mut Conn,
            actor: &str,
            now: DateTime<Utc>,
            tree: EntityTree,
        ) -> Result<TreeWritten> {
            let root = &tree.root;
            let mut ancestors = Vec::new();
            let mut next = root.fqn.parent();
            while let Some(fqn) = next {
                next = fqn.parent();
                ancestors.push(fqn);
            }
            ancestors.reverse();
            let mut lookup: Vec<String> = ancestors.iter().map(|f| f.to_string()).collect();
            lookup.push(root.fqn.to_string());
            let stored: HashMap<String, Entity> = entities_at(conn, &lookup)
                .await?
                .into_iter()
                .map(|e| (e.fqn.to_string(), e))
                .collect();

            let mut problems = Vec::new();
            let children = tree.children.as_deref().unwrap_or_default();
            let owners: HashSet<&str> = std::iter::once(root)
                .chain(children)
                .filter_map(|d| d.owner.as_deref())
                .collect();
            if !owners.is_empty() {
                let known = existing_teams(conn, &owners).await?;
                let mut unknown: Vec<&str> =
                    owners.into_iter().filter(|o| !known.contains(*o)).collect();
                unknown.sort_unstable();
                problems.extend(unknown.into_iter().map(|o| ReferenceProblem {
                    reference: o.to_owned(),
                    problem: "no team of this name exists; create it with PUT /api/v1/teams/{name}"
                        .into(),
                }));
            }

            let mut writes = EntityWrites::default();
            let mut parent_id = None;
            let mut expected = root.kind.parent_kind();
            let kinds: Vec<EntityKind> = std::iter::from_fn(|| {
                let kind = expected?;
                expected = kind.parent_kind();
                Some(kind)
            })
            .collect();
            for (fqn, kind) in ancestors.iter().zip(kinds.iter().rev()) {
                let found = stored.get(fqn.as_str());
                match found {
                    Some(e) if e.kind != *kind => {
                        problems.push(ReferenceProblem {
                            reference: fqn.to_string(),
                            problem: format!("is a {}, not a {kind}", e.kind),
                        });
                        break;
                    }
                    Some(e) if e.is_live() => parent_id = Some(e.id),
                    _ if matches!(kind, EntityKind::Database | EntityKind::Schema) => {
                        let draft = EntityDraft::bare(*kind, fqn.clone(), root.source.clone());
                        let outcome = plan::plan_entity(found, &draft, parent_id, now)?;
                        parent_id = Some(outcome.entity().id);
                        writes.record(&outcome);
                    }
                    _ => {
                        problems.push(ReferenceProblem {
                            reference: fqn.to_string(),
                            problem: format!(
                                "no {kind} of this name exists{}",
                                if found.is_some() { " (it was deleted)" } else { "" }
                            ),
                        });
                        break;
                    }
                }
            }
            if !problems.is_empty() {
                return Err(StoreError::References(problems));
            }

            let stored_root = stored.get(root.fqn.as_str());
            let outcome = plan::plan_entity(stored_root, root, parent_id, now)?;
            let root_created = matches!(outcome, EntityOutcome::Created(_));
            let root_entity = outcome.entity().clone();
            writes.record(&outcome);

            if let Some(children) = &tree.children {
                let depth = root.fqn.parts().len() + 1;
                let stored_children = if root_created {
                    Vec::new()
                } else {
                    descendants_of(conn, &root.fqn)
                        .await?
                        .into_iter()
                        .filter(|e| e.fqn.parts().len() == depth)
                        .collect()
                };
                plan::plan_children(&mut writes, root_entity.id, stored_children, children, now)?;
            }

            upsert_entities(conn, &writes.upserts).await?;
            let deleted: Vec<Uuid> = writes.soft_deletes.iter().map(|e| e.id).collect();
            soft_delete(conn, &deleted, now).await?;
            append_changes(conn, actor, now, &writes.changes).await?;
            Ok(TreeWritten {
                root: root_entity,
                root_created,
                counts: writes.counts,
            })
        }

        fn edge_select(filter: &str) -> String {
            format!(
                "SELECT e.id, e.from_id, e.to_id, e.source, e.columns, e.transform, \
                 e.created_at, e.updated_at, f.fqn AS from_fqn, t.fqn AS to_fqn \
                 FROM edges e JOIN entities f ON f.id = e.from_id \
                 JOIN entities t ON t.id = e.to_id WHERE {filter}"
            )
        }

        /// Stored edges for the given (from_id, to_id, source) keys.
        async fn edges_for_keys(
            conn: &mut Conn,
            keys: &[(Uuid, Uuid, String)],
        ) -> Result<HashMap<(Uuid, Uuid, String), Edge>> {
            let mut out = HashMap::new();
            for chunk in keys.chunks(BATCH_ROWS) {
                let mut qb = QueryBuilder::<Db>::new(edge_select(
                    "(e.from_id, e.to_id, e.source) IN (",
                ));
                let mut list = qb.separated(", ");
                for (from, to, source) in chunk {
                    list.push("(");
                    list.push_bind_unseparated(*from);
                    list.push_unseparated(", ");
                    list.push_bind_unseparated(*to);
                    list.push_unseparated(", ");
                    list.push_bind_unseparated(source.as_str());
                    list.push_unseparated(")");
                }
                qb.push(")");
                for row in qb.build().fetch_all(&mut *conn).await? {
                    let edge = edge_from_row(&row)?;
                    out.insert((edge.from_id, edge.to_id, edge.source.clone()), edge);
                }
            }
            Ok(out)
        }

        fn incident_from_row(row: &DbRow) -> Result<Incident> {
            let severity: String = row.try_get("severity")?;
            let status: String = row.try_get("status")?;
            Ok(Incident {
                id: row.try_get("id")?,
                entity_id: row.try_get("entity_id")?,
                fqn: row.try_get("fqn")?,
                title: row.try_get("title")?,
                description: row.try_get("description")?,
                severity: severity.parse().map_err(corrupt)?,
                status: status.parse().map_err(corrupt)?,
                snapshot: row.try_get::<Json<serde_json::Value>, _>("snapshot")?.0,
                opened_by: row.try_get("opened_by")?,
                opened_at: row.try_get("opened_at")?,
                acknowledged_by: row.try_get("acknowledged_by")?,
                acknowledged_at: row.try_get("acknowledged_at")?,
                resolved_by: row.try_get("resolved_by")?,
                resolved_at: row.try_get("resolved_at")?,
            })
        }

        fn delivery_from_row(row: &DbRow) -> Result<Delivery> {
            let status: String = row.try_get("status")?;
            let attempts: i32 = row.try_get("attempts")?;
            let code: Option<i32> = row.try_get("last_status_code")?;
            Ok(Delivery {
                id: row.try_get("id")?,
                incident_id: row.try_get("incident_id")?,
                team: row.try_get("team")?,
                url: row.try_get("url")?,
                payload: row.try_get::<Json<serde_json::Value>, _>("payload")?.0,
                status: status.parse().map_err(corrupt)?,
                attempts: u32::try_from(attempts).map_err(corrupt)?,
                last_error: row.try_get("last_error")?,
                last_status_code: code.map(u16::try_from).transpose().map_err(corrupt)?,
                next_attempt_at: row.try_get("next_attempt_at")?,
                delivered_at: row.try_get("delivered_at")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        /// Which of `ids` name an entity (live or soft-deleted).
        async fn known_entity_ids(conn: &mut Conn, ids: &[Uuid]) -> Result<HashSet<Uuid>> {
            let mut found = HashSet::with_capacity(ids.len());
            for chunk in ids.chunks(BATCH_ROWS) {
                let mut qb = QueryBuilder::<Db>::new("SELECT id FROM entities WHERE id IN (");
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                qb.push(")");
                for row in qb.build().fetch_all(&mut *conn).await? {
                    found.insert(row.try_get::<Uuid, _>("id")?);
                }
            }
            Ok(found)
        }

        /// Moves an incident to `to` inside the caller's transaction, logging `op`.
        async fn move_incident(
            conn: &mut Conn,
            actor: &str,
            id: Uuid,
            to: IncidentStatus,
            op: &'static str,
        ) -> Result<Incident> {
            let now = Utc::now();
            let row = sqlx::query(AssertSqlSafe(format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else {
                return Err(StoreError::not_found("incident", id));
            };
            let current = incident_from_row(&row)?;
            if !current.status.can_become(to) {
                return Err(StoreError::Conflict {
                    key: id.to_string(),
                    reason: crate::sql::refused_move(&current, to),
                });
            }
            let (by, at) = match to {
                IncidentStatus::Acknowledged => ("acknowledged_by", "acknowledged_at"),
                IncidentStatus::Resolved => ("resolved_by", "resolved_at"),
                IncidentStatus::Open => unreachable!("no status moves back to open"),
            };
            let row = sqlx::query(AssertSqlSafe(format!(
                "UPDATE incidents SET status = $1, {by} = $2, {at} = $3 WHERE id = $4 \
                 RETURNING {INCIDENT_COLUMNS}"
            )))
            .bind(to.as_str())
            .bind(actor)
            .bind(now)
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
            let moved = incident_from_row(&row)?;
            let change = PendingChange {
                op,
                entity_id: Some(moved.entity_id),
                fqn: Some(moved.fqn.clone()),
                detail: serde_json::json!({ "incident_id": moved.id, "from": current.status }),
            };
            append_changes(conn, actor, now, &[change]).await?;
            Ok(moved)
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                Self::BACKEND
            }

            async fn readiness(&self) -> Result<()> {
                let applied: Vec<i64> =
                    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                        .fetch_all(&self.pool)
                        .await?;
                let missing: Vec<i64> = MIGRATOR
                    .iter()
                    .map(|m| m.version)
                    .filter(|v| !applied.contains(v))
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(StoreError::NotReady(format!("migrations not applied: {missing:?}")))
                }
            }

            async fn get_entity(&self, fqn: &Fqn) -> Result<Entity> {
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {ENTITY_COLUMNS} FROM entities WHERE fqn = $1 AND deleted_at IS NULL"
                )))
                .bind(fqn.as_str())
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(row) => entity_from_row(&row),
                    None => Err(StoreError::not_found("entity", fqn)),
                }
            }

            async fn entities_by_fqn(&self, fqns: &[Fqn]) -> Result<Vec<Entity>> {
                let mut conn = self.pool.acquire().await?;
                let texts: Vec<String> = fqns.iter().map(|f| f.to_string()).collect();
                let found = entities_at(&mut conn, &texts).await?;
                Ok(found.into_iter().filter(Entity::is_live).collect())
            }

            async fn entities_by_id(&self, ids: &[Uuid]) -> Result<Vec<Entity>> {
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(BATCH_ROWS) {
                    let mut qb = QueryBuilder::<Db>::new(format!(
                        "SELECT {ENTITY_COLUMNS} FROM entities WHERE id IN ("
                    ));
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    qb.push(")");
                    for row in qb.build().fetch_all(&self.pool).await? {
                        out.push(entity_from_row(&row)?);
                    }
                }
                Ok(out)
            }

            async fn scan_entities(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<Entity>> {
                let mut qb = QueryBuilder::<Db>::new(format!(
                    "SELECT {ENTITY_COLUMNS} FROM entities WHERE deleted_at IS NULL"
                ));
                if let Some(after) = after {
                    qb.push(" AND id > ").push_bind(after);
                }
                qb.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
                let rows = qb.build().fetch_all(&self.pool).await?;
                rows.iter().map(entity_from_row).collect()
            }

            async fn children(&self, parent: Uuid) -> Result<Vec<Entity>> {
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {ENTITY_COLUMNS} FROM entities \
                     WHERE parent_id = $1 AND deleted_at IS NULL ORDER BY fqn"
                )))
                .bind(parent)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(entity_from_row).collect()
            }

            async fn child_counts(&self, parent: Uuid) -> Result<Vec<ChildCount>> {
                let rows = sqlx::query(
                    "SELECT kind, COUNT(*) AS n FROM entities \
                     WHERE parent_id = $1 AND deleted_at IS NULL GROUP BY kind ORDER BY kind",
                )
                .bind(parent)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let kind: String = row.try_get("kind")?;
                        Ok(ChildCount {
                            kind: kind.parse().map_err(corrupt)?,
                            count: row.try_get("n")?,
                        })
                    })
                    .collect()
            }

            async fn list_entities(&self, query: &ListQuery) -> Result<Page<Entity>> {
                let mut qb = QueryBuilder::<Db>::new(format!(
                    "SELECT {ENTITY_COLUMNS} FROM entities WHERE deleted_at IS NULL AND kind = "
                ));
                qb.push_bind(query.kind.as_str());
                if let Some(within) = &query.within {
                    let (start, end) = within.descendant_range();
                    qb.push(" AND fqn >= ").push_bind(start);
                    qb.push(" AND fqn < ").push_bind(end);
                }
                if let Some(owner) = &query.owner {
                    qb.push(" AND owner = ").push_bind(owner.as_str());
                }
                if let Some(after) = &query.after {
                    qb.push(" AND fqn > ").push_bind(after.as_str());
                }
                qb.push(" ORDER BY fqn LIMIT ")
                    .push_bind(i64::from(query.limit) + 1);
                let rows = qb.build().fetch_all(&self.pool).await?;
                let mut items = rows.iter().map(entity_from_row).collect::<Result<Vec<_>>>()?;
                let next_after = if items.len() > query.limit as usize {
                    items.truncate(query.limit as usize);
                    items.last().map(|e| e.fqn.to_string())
                } else {
                    None
                };
                Ok(Page { items, next_after })
            }

            async fn put_entity_tree(&self, actor: &str, tree: EntityTree) -> Result<TreeWritten> {
                let mut tx = self.begin_write().await?;
                let written = write_tree(&mut tx, actor, Utc::now(), tree).await?;
                tx.commit().await?;
                Ok(written)
            }

            async fn delete_entity(&self, actor: &str, kind: EntityKind, fqn: &Fqn) -> Result<u64> {
                let mut tx = self.begin_write().await?;
                let now = Utc::now();
                let found = entities_at(&mut tx, &[fqn.to_string()]).await?;
                let Some(root) = found.into_iter().find(|e| e.is_live() && e.kind == kind) else {
                    return Err(StoreError::not_found(kind.as_str(), fqn));
                };
                let mut doomed: Vec<Entity> = descendants_of(&mut tx, fqn)
                    .await?
                    .into_iter()
                    .filter(Entity::is_live)
                    .collect();
                doomed.push(root);
                let ids: Vec<Uuid> = doomed.iter().map(|e| e.id).collect();
                soft_delete(&mut tx, &ids, now).await?;
                let changes: Vec<PendingChange> = doomed
                    .iter()
                    .map(|e| PendingChange::entity("entity.deleted", e))
                    .collect();
                append_changes(&mut tx, actor, now, &changes).await?;
                tx.commit().await?;
                Ok(ids.len() as u64)
            }

            async fn put_service(
                &self,
                actor: &str,
                service: EntityDraft,
                connection: ConnectionConfig,
            ) -> Result<TreeWritten> {
                let mut tx = self.begin_write().await?;
                let now = Utc::now();
                let written = write_tree(
                    &mut tx,
                    actor,
                    now,
                    EntityTree { root: service, children: None },
                )
                .await?;
                let id = written.root.id;
                let stored: Option<Json<ConnectionConfig>> = sqlx::query_scalar(
                    "SELECT config FROM service_connections WHERE service_id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let stored = stored.map(|j| j.0).unwrap_or_default();
                let connection = connection.keep_secrets_from(&stored);
                if connection != stored || written.root_created {
                    sqlx::query(
                        "INSERT INTO service_connections (service_id, config, updated_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (service_id) DO UPDATE \
                         SET config = excluded.config, updated_at = excluded.updated_at",
                    )
                    .bind(id)
                    .bind(Json(&connection))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    let change = PendingChange {
                        op: "service.connection_updated",
                        entity_id: Some(id),
                        fqn: Some(written.root.fqn.to_string()),
                        // The log says that the connection changed, never what it holds.
                        detail: serde_json::json!({ "keys": connection.0.keys().collect::<Vec<_>>() }),
                    };
                    append_changes(&mut tx, actor, now, &[change]).await?;
                }
                tx.commit().await?;
                Ok(written)
            }

            async fn service_connection(&self, service: &Fqn) -> Result<ConnectionConfig> {
                let stored: Option<Json<ConnectionConfig>> = sqlx::query_scalar(
                    "SELECT c.config FROM service_connections c \
                     JOIN entities s ON s.id = c.service_id \
                     WHERE s.fqn = $1 AND s.kind = 'service' AND s.deleted_at IS NULL",
                )
                .bind(service.as_str())
                .fetch_optional(&self.pool)
                .await?;
                stored
                    .map(|j| j.0)
                    .ok_or_else(|| StoreError::not_found("service", service))
            }

            async fn service_connections(&self) -> Result<HashMap<Uuid, ConnectionConfig>> {
                let rows = sqlx::query(
                    "SELECT c.service_id, c.config FROM service_connections c \
                     JOIN entities s ON s.id = c.service_id WHERE s.deleted_at IS NULL",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let config: Json<ConnectionConfig> = row.try_get("config")?;
                        Ok((row.try_get("service_id")?, config.0))
                    })
                    .collect()
            }

            async fn put_team(&self, actor: &str, team: TeamDraft) -> Result<(Team, bool)> {
                let mut tx = self.begin_write().await?;
                let now = Utc::now();
                let row = sqlx::query("SELECT * FROM teams WHERE name = $1")
                    .bind(team.name.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                let stored = row.as_ref().map(team_from_row).transpose()?;
                let same = stored.as_ref().is_some_and(|s| {
                    s.display_name == team.display_name
                        && s.description == team.description
                        && s.contact == team.contact
                        && s.webhook_url == team.webhook_url
                });
                if same {
                    return Ok((stored.expect("same implies stored"), false));
                }
                let created_at = stored.as_ref().map_or(now, |s| s.created_at);
                let row = sqlx::query(
                    "INSERT INTO teams (name, display_name, description, contact, webhook_url, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name, \
                     description = excluded.description, contact = excluded.contact, \
                     webhook_url = excluded.webhook_url, updated_at = excluded.updated_at \
                     RETURNING *",
                )
                .bind(team.name.as_str())
                .bind(team.display_name.as_deref())
                .bind(team.description.as_deref())
                .bind(team.contact.as_deref())
                .bind(team.webhook_url.as_deref())
                .bind(created_at)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let created = stored.is_none();
                let change = PendingChange {
                    op: if created { "team.created" } else { "team.updated" },
                    entity_id: None,
                    fqn: Some(team.name.clone()),
                    detail: serde_json::json!({ "kind": "team" }),
                };
                append_changes(&mut tx, actor, now, &[change]).await?;
                tx.commit().await?;
                Ok((team_from_row(&row)?, created))
            }

            async fn get_team(&self, name: &str) -> Result<Team> {
                let row = sqlx::query("SELECT * FROM teams WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                match row {
                    Some(row) => team_from_row(&row),
                    None => Err(StoreError::not_found("team", name)),
                }
            }

            async fn list_teams(&self) -> Result<Vec<Team>> {
                let rows = sqlx::query("SELECT * FROM teams ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(team_from_row).collect()
            }

            async fn put_edges(&self, actor: &str, edges: Vec<EdgeDraft>) -> Result<EdgesWritten> {
                let mut tx = self.begin_write().await?;
                let now = Utc::now();
                let mut wanted: Vec<String> = Vec::new();
                let mut columns: HashSet<String> = HashSet::new();
                for edge in &edges {
                    wanted.push(edge.key.from.to_string());
                    wanted.push(edge.key.to.to_string());
                    for mapping in &edge.columns {
                        columns.extend(mapping.from.iter().map(|f| f.to_string()));
                        columns.insert(mapping.to.to_string());
                    }
                }
                wanted.extend(columns.iter().cloned());
                wanted.sort_unstable();
                wanted.dedup();
                let found: HashMap<String, Entity> = entities_at(&mut tx, &wanted)
                    .await?
                    .into_iter()
                    .map(|e| (e.fqn.to_string(), e))
                    .collect();
                let mut problems = Vec::new();
                for fqn in &wanted {
                    let problem = match found.get(fqn) {
                        None => "does not exist".to_owned(),
                        Some(e) if !e.is_live() => "was deleted".to_owned(),
                        // A model's features are its input columns: OpenMetadata and lineage
                        // documents map table columns onto them.
                        Some(e)
                            if columns.contains(fqn)
                                && !matches!(e.kind, EntityKind::Column | EntityKind::Feature) =>
                        {
                            format!("is a {}; column mappings name columns or features", e.kind)
                        }
                        Some(e) if !e.kind.carries_lineage() => format!(
                            "is a {}, which cannot carry lineage; link its tables or columns",
                            e.kind
                        ),
                        Some(_) => continue,
                    };
                    problems.push(ReferenceProblem { reference: fqn.clone(), problem });
                }
                for edge in &edges {
                    if edge.key.from == edge.key.to {
                        problems.push(ReferenceProblem {
                            reference: edge.key.from.to_string(),
                            problem: "an edge cannot join an entity to itself".into(),
                        });
                    }
                }
                if !problems.is_empty() {
                    return Err(StoreError::References(problems));
                }
                let ids: HashMap<String, Uuid> =
                    found.iter().map(|(fqn, e)| (fqn.clone(), e.id)).collect();
                let keys: Vec<(Uuid, Uuid, String)> = edges
                    .iter()
                    .map(|e| {
                        (ids[e.key.from.as_str()], ids[e.key.to.as_str()], e.key.source.clone())
                    })
                    .collect();
                let stored = edges_for_keys(&mut tx, &keys).await?;
                let writes = plan::plan_edges(edges, &ids, &stored, now);
                for chunk in writes.upserts.chunks(BATCH_ROWS) {
                    let mut qb = QueryBuilder::<Db>::new(
                        "INSERT INTO edges (id, from_id, to_id, kind, source, columns, transform, \
                         created_at, updated_at) ",
                    );
                    qb.push_values(chunk, |mut b, e| {
                        b.push_bind(e.id)
                            .push_bind(e.from_id)
                            .push_bind(e.to_id)
                            .push_bind("lineage")
                            .push_bind(e.source.as_str())
                            .push_bind(Json(&e.columns))
                            .push_bind(e.transform.as_deref())
                            .push_bind(e.created_at)
                            .push_bind(e.updated_at);
                    });
                    qb.push(
                        " ON CONFLICT (from_id, to_id, source) DO UPDATE SET \
                         columns = excluded.columns, transform = excluded.transform, \
                         updated_at = excluded.updated_at",
                    );
                    qb.build().execute(&mut *tx).await?;
                }
                append_changes(&mut tx, actor, now, &writes.changes).await?;
                tx.commit().await?;
                Ok(EdgesWritten {
                    created: writes.created,
                    updated: writes.updated,
                    unchanged: writes.unchanged,
                })
            }

            async fn delete_edges(&self, actor: &str, keys: Vec<EdgeKey>) -> Result<Vec<EdgeKey>> {
                let mut tx = self.begin_write().await?;
                let now = Utc::now();
                let mut wanted: Vec<String> = keys
                    .iter()
                    .flat_map(|k| [k.from.to_string(), k.to.to_string()])
                    .collect();
                wanted.sort_unstable();
                wanted.dedup();
                let ids: HashMap<String, Uuid> = entities_at(&mut tx, &wanted)
                    .await?
                    .into_iter()
                    .map(|e| (e.fqn.to_string(), e.id))
                    .collect();
                let mut missing = Vec::new();
                let mut resolved = Vec::new();
                for key in keys {
                    match (ids.get(key.from.as_str()), ids.get(key.to.as_str())) {
                        (Some(from), Some(to)) => resolved.push(((*from, *to, key.source.clone()), key)),
                        _ => missing.push(key),
                    }
                }
                let id_keys: Vec<(Uuid, Uuid, String)> =
                    resolved.iter().map(|(k, _)| k.clone()).collect();
                let stored = edges_for_keys(&mut tx, &id_keys).await?;
                let mut changes = Vec::new();
                let mut doomed = Vec::new();
                for (id_key, key) in resolved {
                    match stored.get(&id_key) {
                        Some(edge) => {
                            if !doomed.contains(&edge.id) {
                                doomed.push(edge.id);
                                changes.push(PendingChange::edge("edge.deleted", edge));
                            }
                        }
                        None => missing.push(key),
                    }
                }
                for chunk in doomed.chunks(BATCH_ROWS) {
                    let mut qb = QueryBuilder::<Db>::new("DELETE FROM edges WHERE id IN (");
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    qb.push(")");
                    qb.build().execute(&mut *tx).await?;
                }
                append_changes(&mut tx, actor, now, &changes).await?;
                tx.commit().await?;
                Ok(missing)
            }

            async fn edges_by_id(&self, ids: &[Uuid]) -> Result<Vec<Edge>> {
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(BATCH_ROWS) {
                    let mut qb = QueryBuilder::<Db>::new(edge_select("e.id IN ("));
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    qb.push(")");
                    for row in qb.build().fetch_all(&self.pool).await? {
                        out.push(edge_from_row(&row)?);
                    }
                }
                Ok(out)
            }

            async fn scan_edges(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<Edge>> {
                let mut qb = QueryBuilder::<Db>::new(edge_select("1 = 1"));
                if let Some(after) = after {
                    qb.push(" AND e.id > ").push_bind(after);
                }
                qb.push(" ORDER BY e.id LIMIT ").push_bind(i64::from(limit));
                let rows = qb.build().fetch_all(&self.pool).await?;
                rows.iter().map(edge_from_row).collect()
            }

            async fn edges_of(&self, entity: Uuid, limit: u32) -> Result<(Vec<Edge>, Vec<Edge>)> {
                let mut sides = Vec::with_capacity(2);
                for (filter, order) in [
                    ("e.to_id = $1 AND f.deleted_at IS NULL", "f.fqn"),
                    ("e.from_id = $1 AND t.deleted_at IS NULL", "t.fqn"),
                ] {
                    let sql = format!("{} ORDER BY {order}, e.source LIMIT $2", edge_select(filter));
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(entity)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?;
                    sides.push(rows.iter().map(edge_from_row).collect::<Result<Vec<_>>>()?);
                }
                let downstream = sides.pop().expect("two sides");
                let upstream = sides.pop().expect("two sides");
                Ok((upstream, downstream))
            }

            async fn create_token(&self, actor: &str, token: NewToken) -> Result<TokenRecord> {
                let mut tx = self.begin_write().await?;
                let now = Utc::now();
                let taken: Option<Uuid> = sqlx::query_scalar(
                    "SELECT id FROM api_tokens WHERE name = $1 AND revoked_at IS NULL",
                )
                .bind(token.name.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if taken.is_some() {
                    return Err(StoreError::Conflict {
                        key: token.name,
                        reason: "a live token of this name exists; revoke it first".into(),
                    });
                }
                let row = sqlx::query(
                    "INSERT INTO api_tokens (id, name, role, token_hash, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                )
                .bind(Uuid::now_v7())
                .bind(token.name.as_str())
                .bind(token.role.as_str())
                .bind(token.hash.as_str())
                .bind(actor)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let record = token_from_row(&row)?;
                let change = PendingChange {
                    op: "token.created",
                    entity_id: None,
                    fqn: Some(record.name.clone()),
                    detail: serde_json::json!({ "role": record.role }),
                };
                append_changes(&mut tx, actor, now, &[change]).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
                let row = sqlx::query(
                    "SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
                let Some(record) = row.as_ref().map(token_from_row).transpose()? else {
                    return Ok(None);
                };
                // Record use at most every few minutes: enough to spot stale tokens,
                // without turning every authenticated read into a write.
                let now = Utc::now();
                if record
                    .last_used_at
                    .is_none_or(|t| now - t > chrono::Duration::minutes(5))
                {
                    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(record.id)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(Some(record))
            }

            async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
                let rows = sqlx::query("SELECT * FROM api_tokens ORDER BY name, created_at")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(token_from_row).collect()
            }

            async fn revoke_token(&self, actor: &str, name: &str) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let now = Utc::now();
                let revoked = sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if revoked == 0 {
                    return Err(StoreError::not_found("token", name));
                }
                let change = PendingChange {
                    op: "token.revoked",
                    entity_id: None,
                    fqn: Some(name.to_owned()),
                    detail: serde_json::json!({}),
                };
                append_changes(&mut tx, actor, now, &[change]).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn open_incident(&self, actor: &str, incident: NewIncident) -> Result<Incident> {
                let mut tx = self.begin_write().await?;
                let now = Utc::now();
                let mut touched: Vec<Uuid> = incident
                    .touched
                    .iter()
                    .copied()
                    .chain([incident.entity_id])
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect();
                // Sorted ids make inserts walk the primary key in order.
                touched.sort_unstable();
                let known = known_entity_ids(&mut tx, &touched).await?;
                if !known.contains(&incident.entity_id) {
                    return Err(StoreError::not_found("entity", incident.entity_id));
                }
                if known.len() < touched.len() {
                    return Err(StoreError::References(
                        touched
                            .iter()
                            .filter(|id| !known.contains(id))
                            .map(|id| ReferenceProblem {
                                reference: id.to_string(),
                                problem: "no entity has this id".into(),
                            })
                            .collect(),
                    ));
                }
                let id = incident.id;
                let row = sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO incidents (id, entity_id, fqn, title, description, severity, \
                     status, snapshot, opened_by, opened_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {INCIDENT_COLUMNS}"
                )))
                .bind(id)
                .bind(incident.entity_id)
                .bind(incident.fqn.as_str())
                .bind(incident.title.as_str())
                .bind(incident.description.as_deref())
                .bind(incident.severity.as_str())
                .bind(IncidentStatus::Open.as_str())
                .bind(Json(&incident.snapshot))
                .bind(actor)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let opened = incident_from_row(&row)?;
                for chunk in touched.chunks(BATCH_ROWS) {
                    let mut qb = QueryBuilder::<Db>::new(
                        "INSERT INTO incident_entities (incident_id, entity_id) ",
                    );
                    qb.push_values(chunk, |mut b, entity_id| {
                        b.push_bind(id).push_bind(*entity_id);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                for chunk in incident.deliveries.chunks(BATCH_ROWS) {
                    let mut qb = QueryBuilder::<Db>::new(
                        "INSERT INTO deliveries (id, incident_id, team, url, payload, status, \
                         attempts, next_attempt_at, created_at, updated_at) ",
                    );
                    qb.push_values(chunk, |mut b, d| {
                        b.push_bind(Uuid::now_v7())
                            .push_bind(id)
                            .push_bind(d.team.as_str())
                            .push_bind(d.url.as_str())
                            .push_bind(Json(&d.payload))
                            .push_bind(DeliveryStatus::Pending.as_str())
                            .push_bind(0_i32)
                            .push_bind(now)
                            .push_bind(now)
                            .push_bind(now);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                let change = PendingChange {
                    op: "incident.opened",
                    entity_id: Some(opened.entity_id),
                    fqn: Some(opened.fqn.clone()),
                    detail: serde_json::json!({
                        "incident_id": opened.id,
                        "severity": opened.severity,
                    }),
                };
                append_changes(&mut tx, actor, now, &[change]).await?;
                tx.commit().await?;
                Ok(opened)
            }

            async fn get_incident(&self, id: Uuid) -> Result<Incident> {
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(row) => incident_from_row(&row),
                    None => Err(StoreError::not_found("incident", id)),
                }
            }

            async fn list_incidents(
                &self,
                status: Option<IncidentStatus>,
                limit: u32,
            ) -> Result<Vec<Incident>> {
                let mut qb = QueryBuilder::<Db>::new(format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents"
                ));
                if let Some(status) = status {
                    qb.push(" WHERE status = ").push_bind(status.as_str());
                }
                qb.push(" ORDER BY opened_at DESC, id DESC LIMIT ")
                    .push_bind(i64::from(limit));
                let rows = qb.build().fetch_all(&self.pool).await?;
                rows.iter().map(incident_from_row).collect()
            }

            async fn acknowledge_incident(&self, actor: &str, id: Uuid) -> Result<Incident> {
                let mut tx = self.begin_write().await?;
                let moved = move_incident(
                    &mut tx,
                    actor,
                    id,
                    IncidentStatus::Acknowledged,
                    "incident.acknowledged",
                )
                .await?;
                tx.commit().await?;
                Ok(moved)
            }

            async fn resolve_incident(&self, actor: &str, id: Uuid) -> Result<Incident> {
                let mut tx = self.begin_write().await?;
                let moved =
                    move_incident(&mut tx, actor, id, IncidentStatus::Resolved, "incident.resolved")
                        .await?;
                tx.commit().await?;
                Ok(moved)
            }

            async fn active_incidents_touching(
                &self,
                entity_id: Uuid,
            ) -> Result<Vec<IncidentSummary>> {
                let rows = sqlx::query(
                    "SELECT i.id, i.title, i.severity, i.status, i.fqn, i.opened_at \
                     FROM incident_entities t JOIN incidents i ON i.id = t.incident_id \
                     WHERE t.entity_id = $1 AND i.status IN ($2, $3) \
                     ORDER BY i.opened_at DESC, i.id DESC",
                )
                .bind(entity_id)
                .bind(IncidentStatus::Open.as_str())
                .bind(IncidentStatus::Acknowledged.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let severity: String = row.try_get("severity")?;
                        let status: String = row.try_get("status")?;
                        Ok(IncidentSummary {
                            id: row.try_get("id")?,
                            title: row.try_get("title")?,
                            severity: severity.parse().map_err(corrupt)?,
                            status: status.parse().map_err(corrupt)?,
                            fqn: row.try_get("fqn")?,
                            opened_at: row.try_get("opened_at")?,
                        })
                    })
                    .collect()
            }

            async fn deliveries_of(&self, incident_id: Uuid) -> Result<Vec<Delivery>> {
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE incident_id = $1 \
                     ORDER BY created_at, id"
                )))
                .bind(incident_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(delivery_from_row).collect()
            }

            async fn claim_due_deliveries(
                &self,
                now: DateTime<Utc>,
                lease: std::time::Duration,
                limit: u32,
            ) -> Result<Vec<Delivery>> {
                let lease = chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX);
                let until = now.checked_add_signed(lease).unwrap_or(DateTime::<Utc>::MAX_UTC);
                // The write lock makes select-then-update atomic across replicas: a second
                // claimer waits, then finds these rows no longer due.
                let mut tx = self.begin_write().await?;
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "UPDATE deliveries SET next_attempt_at = $1, updated_at = $2 \
                     WHERE id IN (SELECT id FROM deliveries \
                       WHERE status = $3 AND next_attempt_at <= $4 \
                       ORDER BY next_attempt_at LIMIT $5) \
                     RETURNING {DELIVERY_COLUMNS}"
                )))
                .bind(until)
                .bind(Utc::now())
                .bind(DeliveryStatus::Pending.as_str())
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut claimed = rows.iter().map(delivery_from_row).collect::<Result<Vec<_>>>()?;
                // RETURNING has no order; ids are time-ordered (v7), so this is queue order.
                claimed.sort_by_key(|d| d.id);
                Ok(claimed)
            }

            async fn record_delivery_attempt(
                &self,
                id: Uuid,
                outcome: DeliveryOutcome,
            ) -> Result<Delivery> {
                let mut tx = self.begin_write().await?;
                let now = Utc::now();
                let status: Option<String> =
                    sqlx::query_scalar("SELECT status FROM deliveries WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let status: DeliveryStatus = match status {
                    None => return Err(StoreError::not_found("delivery", id)),
                    Some(s) => s.parse().map_err(corrupt)?,
                };
                if status != DeliveryStatus::Pending {
                    // A notifier whose lease ran out may report after another one finished.
                    return Err(StoreError::Conflict {
                        key: id.to_string(),
                        reason: format!(
                            "the delivery is already {status}; attempts are recorded only \
                             while it is pending"
                        ),
                    });
                }
                let query = match &outcome {
                    DeliveryOutcome::Delivered { status_code } => sqlx::query(AssertSqlSafe(format!(
                        "UPDATE deliveries SET status = $1, attempts = attempts + 1, \
                         last_status_code = $2, delivered_at = $3, updated_at = $3 \
                         WHERE id = $4 RETURNING {DELIVERY_COLUMNS}"
                    )))
                    .bind(DeliveryStatus::Delivered.as_str())
                    .bind(i32::from(*status_code))
                    .bind(now)
                    .bind(id),
                    DeliveryOutcome::Failed { error, status_code, retry_at } => {
                        let (status, next) = match retry_at {
                            Some(at) => (DeliveryStatus::Pending, *at),
                            None => (DeliveryStatus::Failed, now),
                        };
                        sqlx::query(AssertSqlSafe(format!(
                            "UPDATE deliveries SET status = $1, attempts = attempts + 1, \
                             last_error = $2, last_status_code = $3, next_attempt_at = $4, \
                             updated_at = $5 WHERE id = $6 RETURNING {DELIVERY_COLUMNS}"
                        )))
                        .bind(status.as_str())
                        .bind(error.as_str())
                        .bind(status_code.map(i32::from))
                        .bind(next)
                        .bind(now)
                        .bind(id)
                    }
                };
                let row = query.fetch_one(&mut *tx).await?;
                tx.commit().await?;
                delivery_from_row(&row)
            }

            async fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>> {
                let rows = sqlx::query(
                    "SELECT seq, at, actor, op, entity_id, fqn, detail FROM change_log \
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(Change {
                            seq: row.try_get("seq")?,
                            at: row.try_get("at")?,
                            actor: row.try_get("actor")?,
                            op: row.try_get("op")?,
                            entity_id: row.try_get("entity_id")?,
                            fqn: row.try_get("fqn")?,
                            detail: row.try_get::<Json<serde_json::Value>, _>("detail")?.0,
                        })
                    })
                    .collect()
            }

            async fn last_change_seq(&self) -> Result<i64> {
                let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM change_log")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(seq.unwrap_or(0))
            }
        }
    };
}

pub(crate) use sql_store;
