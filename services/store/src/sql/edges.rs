//! Lineage edges: upserts by (from, to, source), deletes, reads.
//!
//! Expanded by `sql_store!` into each backend module; see `sql/mod.rs`.

macro_rules! sql_edges {
    ($store:ty) => {
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
                columns: row
                    .try_get::<Json<Vec<tributary_catalog::ColumnMapping>>, _>("columns")?
                    .0,
                transform: row.try_get("transform")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
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
                let mut qb =
                    QueryBuilder::<Db>::new(edge_select("(e.from_id, e.to_id, e.source) IN ("));
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

        async fn put_edges(
            store: &$store,
            actor: &str,
            edges: Vec<EdgeDraft>,
        ) -> Result<EdgesWritten> {
            let mut tx = store.begin_write().await?;
            let mut states = HashMap::new();
            let writes = write_edges(&mut tx, actor, Utc::now(), edges, &mut states).await?;
            tx.commit().await?;
            Ok(EdgesWritten {
                created: writes.created,
                updated: writes.updated,
                unchanged: writes.unchanged,
            })
        }

        /// Fills `states` with the entities at `fqns` it does not hold yet.
        async fn resolve_states(
            conn: &mut Conn,
            fqns: impl Iterator<Item = String>,
            states: &mut HashMap<String, EntityState>,
        ) -> Result<()> {
            let mut missing: Vec<String> = fqns.filter(|f| !states.contains_key(f)).collect();
            missing.sort_unstable();
            missing.dedup();
            states.extend(entity_states_at(conn, &missing).await?);
            Ok(())
        }

        /// Upserts edges inside the caller's transaction; see `Store::put_edges`. `states`
        /// holds the endpoints the caller has resolved already and gets the rest.
        async fn write_edges(
            tx: &mut Conn,
            actor: &str,
            now: DateTime<Utc>,
            edges: Vec<EdgeDraft>,
            states: &mut HashMap<String, EntityState>,
        ) -> Result<plan::EdgeWrites> {
            resolve_edge_ends(&mut *tx, &edges, states).await?;
            plan::check_edge_ends(&edges, states)?;
            let keys: Vec<(Uuid, Uuid, String)> = edges
                .iter()
                .map(|e| {
                    (
                        states[e.key.from.as_str()].id,
                        states[e.key.to.as_str()].id,
                        e.key.source.clone(),
                    )
                })
                .collect();
            let stored = edges_for_keys(&mut *tx, &keys).await?;
            let writes = plan::plan_edges(edges, states, &stored, now);
            write_edge_rows(tx, actor, now, &writes).await?;
            Ok(writes)
        }

        /// Adds to `states` every entity the drafts name that it does not hold yet.
        async fn resolve_edge_ends(
            conn: &mut Conn,
            edges: &[EdgeDraft],
            states: &mut HashMap<String, EntityState>,
        ) -> Result<()> {
            // Most often every end is known already: look for the rest before building a set.
            let missing: Vec<String> = edges
                .iter()
                .flat_map(plan::names_in)
                .filter(|(fqn, _)| !states.contains_key(fqn.as_str()))
                .map(|(fqn, _)| fqn.to_string())
                .collect();
            resolve_states(conn, missing.into_iter(), states).await
        }

        /// Writes planned edges and their change-log rows.
        async fn write_edge_rows(
            tx: &mut Conn,
            actor: &str,
            now: DateTime<Utc>,
            writes: &plan::EdgeWrites,
        ) -> Result<()> {
            upsert_edges(&mut *tx, &writes.upserts).await?;
            append_changes(&mut *tx, actor, now, &writes.changes).await
        }

        /// Every edge of `source`, with the state of both its endpoints.
        async fn edges_of_source(
            conn: &mut Conn,
            source: &str,
        ) -> Result<(Vec<Edge>, HashMap<String, EntityState>)> {
            let sql = edge_select("e.source = $1").replacen(
                " FROM edges",
                ", f.kind AS from_kind, f.deleted_at IS NULL AS from_live, \
                 t.kind AS to_kind, t.deleted_at IS NULL AS to_live FROM edges",
                1,
            );
            let rows = sqlx::query(AssertSqlSafe(sql))
                .bind(source)
                .fetch_all(&mut *conn)
                .await?;
            let mut edges = Vec::with_capacity(rows.len());
            let mut states = HashMap::with_capacity(rows.len() * 2);
            for row in &rows {
                let edge = edge_from_row(row)?;
                for (fqn, id, kind, live) in [
                    (&edge.from, edge.from_id, "from_kind", "from_live"),
                    (&edge.to, edge.to_id, "to_kind", "to_live"),
                ] {
                    if !states.contains_key(fqn.as_str()) {
                        let kind: String = row.try_get(kind)?;
                        states.insert(
                            fqn.to_string(),
                            EntityState {
                                id,
                                kind: kind.parse().map_err(corrupt)?,
                                fqn: fqn.to_string(),
                                live: row.try_get(live)?,
                            },
                        );
                    }
                }
                edges.push(edge);
            }
            Ok((edges, states))
        }

        async fn apply_lineage_document(
            store: &$store,
            actor: &str,
            write: DocumentWrite,
        ) -> Result<DocumentWritten> {
            let mut tx = store.begin_write().await?;
            let now = Utc::now();
            // Writes are serialised, so the rows after this position are this document's.
            let before: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM change_log")
                .fetch_one(&mut *tx)
                .await?;
            let before = before.unwrap_or(0);
            let mut changes: Vec<PendingChange> = Vec::new();
            let mut committed = CommittedWrite {
                after_seq: before,
                ..CommittedWrite::default()
            };
            let mut record = |committed: &mut CommittedWrite, writes: EntityWrites| {
                changes.extend(writes.changes);
                committed.entities.extend(writes.upserts);
                committed
                    .entities
                    .extend(writes.soft_deletes.into_iter().map(|e| Entity {
                        deleted_at: Some(now),
                        updated_at: now,
                        version: e.version + 1,
                        ..e
                    }));
                writes.live
            };

            // Declared tables are created when missing; existing ones belong to whoever
            // wrote them (a connector, most often) and are left alone.
            let declared: Vec<String> = write
                .tables_to_create
                .iter()
                .map(|t| t.root.fqn.to_string())
                .collect();
            let mut states: HashMap<String, EntityState> =
                entity_states_at(&mut tx, &declared).await?;
            for tree in write.tables_to_create {
                if !states.get(tree.root.fqn.as_str()).is_some_and(|e| e.live) {
                    let (_, writes) = write_tree_planned(&mut tx, actor, now, tree).await?;
                    states.extend(
                        record(&mut committed, writes)
                            .into_iter()
                            .map(|e| (e.fqn.clone(), e)),
                    );
                }
            }
            // The models are read one by one; their children (thousands of features) are
            // planned on a blocking thread while the transaction reads the source's edges
            // and the references.
            let mut reads = Vec::with_capacity(write.models.len());
            for tree in write.models {
                reads.push(read_tree(&mut tx, now, tree).await?);
            }
            let planning = tokio::task::spawn_blocking(move || {
                reads
                    .into_iter()
                    .map(|read| read.plan(now))
                    .collect::<Result<Vec<_>>>()
            });
            // Every edge of the source, read once with its endpoints: what the drafts
            // match, what is stale, and most references resolved without another lookup.
            let (stored, endpoints) = edges_of_source(&mut tx, &write.source).await?;
            let mut unknown: Vec<String> = write
                .expected
                .iter()
                .filter(|e| !states.contains_key(&e.fqn) && !endpoints.contains_key(&e.fqn))
                .map(|e| e.fqn.clone())
                .collect();
            unknown.sort_unstable();
            unknown.dedup();
            let resolved = entity_states_at(&mut tx, &unknown).await?;
            let models = crate::sql::joined(planning.await)?;
            // What this write leaves live wins over what was read before it; what it
            // soft-deletes reads as deleted, as it would after the write.
            for (_, writes) in &models {
                states.extend(writes.live.iter().map(|e| (e.fqn.clone(), e.clone())));
            }
            for (fqn, state) in endpoints.into_iter().chain(resolved) {
                states.entry(fqn).or_insert(state);
            }
            for (_, writes) in &models {
                for gone in &writes.soft_deletes {
                    if let Some(state) = states.get_mut(gone.fqn.as_str()) {
                        state.live = false;
                    }
                }
            }
            let mut problems = Vec::new();
            for expected in &write.expected {
                let problem = match states.get(&expected.fqn) {
                    None => "does not exist".to_owned(),
                    Some(e) if !e.live => "was deleted".to_owned(),
                    Some(e) if !expected.kinds.contains(&e.kind) => format!("is a {}", e.kind),
                    Some(_) => continue,
                };
                problems.push(ReferenceProblem {
                    reference: expected.fqn.clone(),
                    problem,
                });
            }
            if !problems.is_empty() {
                return Err(StoreError::References(problems));
            }

            // The edges need nothing more from the database once their ends are resolved:
            // they are planned on a blocking thread while the models' rows are written.
            resolve_edge_ends(&mut tx, &write.edges, &mut states).await?;
            let drafts = write.edges;
            let edge_planning = tokio::task::spawn_blocking(move || {
                plan::check_edge_ends(&drafts, &states)?;
                // Edges this source asserted before and no longer does; the rest are what
                // the drafts are matched against.
                let (stale, kept): (Vec<Edge>, Vec<Edge>) = {
                    let wanted: HashSet<(&str, &str)> = drafts
                        .iter()
                        .map(|e| (e.key.from.as_str(), e.key.to.as_str()))
                        .collect();
                    stored
                        .into_iter()
                        .partition(|e| !wanted.contains(&(e.from.as_str(), e.to.as_str())))
                };
                let writes = plan::plan_edges(drafts, &states, &plan::by_key(kept), now);
                let ids: HashMap<String, Uuid> =
                    states.into_iter().map(|(fqn, e)| (fqn, e.id)).collect();
                Ok::<_, StoreError>((writes, ids, stale))
            });
            for (written, writes) in models {
                write_planned(&mut tx, actor, now, &writes).await?;
                let prefix = format!("{}.", written.root.fqn);
                let live = record(&mut committed, writes);
                let children: Vec<EntityState> = live
                    .into_iter()
                    .filter(|e| e.fqn.starts_with(&prefix))
                    .collect();
                committed.trees.push((written.root, children));
            }
            let (edges, ids, stale) = crate::sql::joined(edge_planning.await)?;
            write_edge_rows(&mut tx, actor, now, &edges).await?;
            changes.extend(edges.changes);

            let stale_ids: Vec<Uuid> = stale.iter().map(|e| e.id).collect();
            if !stale_ids.is_empty() {
                let mut qb = QueryBuilder::<Db>::new("DELETE FROM edges WHERE ");
                push_in_ids(&mut qb, "id", &stale_ids);
                qb.build().execute(&mut *tx).await?;
            }
            let removed: Vec<PendingChange> = stale
                .iter()
                .map(|e| PendingChange::edge("edge.deleted", e))
                .collect();
            append_changes(&mut tx, actor, now, &removed).await?;
            changes.extend(removed);

            if write.dry_run {
                tx.rollback().await?;
                return Ok(DocumentWritten {
                    changes,
                    edges_unchanged: edges.unchanged,
                    committed: None,
                });
            }
            let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM change_log")
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            committed.last_seq = last.unwrap_or(0);
            committed.edges = edges.upserts;
            committed.removed_edges = stale_ids;
            committed.ids = ids;
            Ok(DocumentWritten {
                changes,
                edges_unchanged: edges.unchanged,
                committed: Some(committed),
            })
        }

        async fn delete_edges(
            store: &$store,
            actor: &str,
            keys: Vec<EdgeKey>,
        ) -> Result<Vec<EdgeKey>> {
            let mut tx = store.begin_write().await?;
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
                    (Some(from), Some(to)) => {
                        resolved.push(((*from, *to, key.source.clone()), key))
                    }
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
            if !doomed.is_empty() {
                let mut qb = QueryBuilder::<Db>::new("DELETE FROM edges WHERE ");
                push_in_ids(&mut qb, "id", &doomed);
                qb.build().execute(&mut *tx).await?;
            }
            append_changes(&mut tx, actor, now, &changes).await?;
            tx.commit().await?;
            Ok(missing)
        }

        async fn edges_by_id(store: &$store, ids: &[Uuid]) -> Result<Vec<Edge>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut qb = QueryBuilder::<Db>::new(edge_select(""));
            push_in_ids(&mut qb, "e.id", ids);
            let rows = qb.build().fetch_all(&store.pool).await?;
            rows.iter().map(edge_from_row).collect()
        }

        async fn scan_edges(store: &$store, after: Option<Uuid>, limit: u32) -> Result<Vec<Edge>> {
            let mut qb = QueryBuilder::<Db>::new(edge_select("1 = 1"));
            if let Some(after) = after {
                qb.push(" AND e.id > ").push_bind(after);
            }
            qb.push(" ORDER BY e.id LIMIT ").push_bind(i64::from(limit));
            let rows = qb.build().fetch_all(&store.pool).await?;
            rows.iter().map(edge_from_row).collect()
        }

        async fn edges_of(
            store: &$store,
            entity: Uuid,
            limit: u32,
        ) -> Result<(Vec<Edge>, Vec<Edge>)> {
            let mut sides = Vec::with_capacity(2);
            for (filter, order) in [
                ("e.to_id = $1 AND f.deleted_at IS NULL", "f.fqn"),
                ("e.from_id = $1 AND t.deleted_at IS NULL", "t.fqn"),
            ] {
                let sql = format!(
                    "{} ORDER BY {order}, e.source LIMIT $2",
                    edge_select(filter)
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(entity)
                    .bind(i64::from(limit))
                    .fetch_all(&store.pool)
                    .await?;
                sides.push(rows.iter().map(edge_from_row).collect::<Result<Vec<_>>>()?);
            }
            let downstream = sides.pop().expect("two sides");
            let upstream = sides.pop().expect("two sides");
            Ok((upstream, downstream))
        }
    };
}

pub(crate) use sql_edges;
