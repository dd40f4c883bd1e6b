//! Reconciling connector snapshots: each batch upserted in its own transaction and
//! remembered as seen by its run; at the end of a successful run, what the connector
//! wrote before and this run did not see is soft-deleted (entities) or removed (edges),
//! in bounded batches.
//!
//! Expanded by `sql_store!` into each backend module; see `sql/mod.rs`.

macro_rules! sql_reconcile {
    ($store:ty) => {
        /// Remembers `ids` (of `table`'s rows) as seen by `run`.
        async fn mark_seen(conn: &mut Conn, run: Uuid, table: &str, ids: &[Uuid]) -> Result<()> {
            if ids.is_empty() {
                return Ok(());
            }
            // Selected from the table itself: the ids are checked to exist, and one
            // statement text serves both backends' set binds.
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO ingestion_seen (run_id, id) SELECT ");
            qb.push_bind(run).push(format!(", id FROM {table} WHERE "));
            push_in_ids(&mut qb, "id", ids);
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *conn).await?;
            Ok(())
        }

        async fn reconcile_batch(
            store: &$store,
            actor: &str,
            write: SnapshotWrite,
        ) -> Result<SnapshotWritten> {
            let prefix = format!("{}.", write.service);
            let outside: Vec<ReferenceProblem> = write
                .trees
                .iter()
                .filter(|t| !t.root.fqn.as_str().starts_with(&prefix))
                .map(|t| ReferenceProblem {
                    reference: t.root.fqn.to_string(),
                    problem: format!("is not inside service {}", write.service),
                })
                .collect();
            if !outside.is_empty() {
                return Err(StoreError::References(outside));
            }
            let mut tx = store.begin_write().await?;
            let now = Utc::now();
            let mut written = SnapshotWritten::default();
            let mut states: HashMap<String, EntityState> = HashMap::new();
            let mut seen_entities: Vec<Uuid> = Vec::new();
            // Databases and schemas a tree implies are the connector's too: seen, so the
            // sweep never takes a parent whose children were reported.
            let mut ancestors: HashSet<String> = HashSet::new();
            for mut tree in write.trees {
                tree.root.source.clone_from(&write.source);
                for child in tree.children.iter_mut().flatten() {
                    child.source.clone_from(&write.source);
                }
                let mut next = tree.root.fqn.parent();
                while let Some(parent) = next {
                    if parent.as_str().starts_with(&prefix) {
                        ancestors.insert(parent.to_string());
                    }
                    next = parent.parent();
                }
                let (_, writes) = write_tree_planned(&mut tx, actor, now, tree).await?;
                written.counts.entities_created += writes.counts.created;
                written.counts.entities_updated += writes.counts.updated;
                written.counts.entities_deleted += writes.counts.deleted;
                for state in writes.live {
                    seen_entities.push(state.id);
                    states.insert(state.fqn.clone(), state);
                }
            }
            let ancestors: Vec<String> = ancestors.into_iter().collect();
            for (fqn, state) in entity_states_at(&mut tx, &ancestors).await? {
                seen_entities.push(state.id);
                states.entry(fqn).or_insert(state);
            }

            let mut edges = write.edges;
            for edge in &mut edges {
                edge.key.source.clone_from(&write.source);
            }
            let ends = edges.iter().flat_map(plan::names_in);
            resolve_states(&mut tx, ends.map(|(fqn, _)| fqn.to_string()), &mut states).await?;
            // A source names what it reads from; what the catalog does not hold (yet) is
            // left out with a warning instead of failing the run.
            edges.retain(|edge| {
                let problem = plan::names_in(edge)
                    .find_map(|(fqn, in_mapping)| {
                        plan::edge_end_problem(states.get(fqn.as_str()), in_mapping)
                            .map(|p| (fqn.to_string(), p))
                    })
                    .or_else(|| {
                        (edge.key.from == edge.key.to).then(|| {
                            (
                                edge.key.from.to_string(),
                                "an edge cannot join an entity to itself".to_owned(),
                            )
                        })
                    });
                match problem {
                    Some((reference, problem)) => {
                        written.skipped_edges.push(ReferenceProblem {
                            reference,
                            problem: format!(
                                "{problem} (edge {} -> {} left out)",
                                edge.key.from, edge.key.to
                            ),
                        });
                        false
                    }
                    None => true,
                }
            });
            let edges = write_edges(&mut tx, actor, now, edges, &mut states).await?;
            written.counts.edges_added += edges.created;
            written.counts.edges_updated += edges.updated;
            mark_seen(&mut tx, write.run_id, "entities", &seen_entities).await?;
            mark_seen(&mut tx, write.run_id, "edges", &edges.ids).await?;
            tx.commit().await?;
            Ok(written)
        }

        async fn sweep_unseen(
            store: &$store,
            actor: &str,
            run: Uuid,
            service: &Fqn,
            source: &str,
            limit: u32,
        ) -> Result<RunCounts> {
            let mut tx = store.begin_write().await?;
            let now = Utc::now();
            let mut counts = RunCounts::default();
            let (start, end) = service.descendant_range();
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.fqn >= $1 AND e.fqn < $2 \
                 AND e.deleted_at IS NULL AND e.source = $3 AND NOT EXISTS \
                 (SELECT 1 FROM ingestion_seen s WHERE s.run_id = $4 AND s.id = e.id) \
                 ORDER BY e.fqn LIMIT $5"
            )))
            .bind(start)
            .bind(end)
            .bind(source)
            .bind(run)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            let unseen: Vec<Entity> = rows.iter().map(entity_from_row).collect::<Result<_>>()?;
            // Each gone entity goes with everything inside it (which is unseen too, and may
            // be in this page: taken once, through its ancestor).
            let mut roots: HashSet<String> = HashSet::new();
            let mut doomed: Vec<Entity> = Vec::new();
            for entity in unseen {
                let mut next = entity.fqn.parent();
                let mut inside_root = false;
                while let Some(parent) = next {
                    if roots.contains(parent.as_str()) {
                        inside_root = true;
                        break;
                    }
                    next = parent.parent();
                }
                if inside_root {
                    continue;
                }
                roots.insert(entity.fqn.to_string());
                doomed.extend(
                    descendants_of(&mut tx, &entity.fqn)
                        .await?
                        .into_iter()
                        .filter(Entity::is_live),
                );
                doomed.push(entity);
            }
            let ids: Vec<Uuid> = doomed.iter().map(|e| e.id).collect();
            soft_delete(&mut tx, &ids, now).await?;
            let mut changes: Vec<PendingChange> = doomed
                .iter()
                .map(|e| PendingChange::entity("entity.deleted", e))
                .collect();
            counts.entities_deleted = ids.len() as u64;

            let stale = sqlx::query(AssertSqlSafe(format!(
                "{} LIMIT $3",
                edge_select(
                    "e.source = $1 AND NOT EXISTS \
                     (SELECT 1 FROM ingestion_seen s WHERE s.run_id = $2 AND s.id = e.id)"
                )
            )))
            .bind(source)
            .bind(run)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            let stale: Vec<Edge> = stale.iter().map(edge_from_row).collect::<Result<_>>()?;
            if !stale.is_empty() {
                let ids: Vec<Uuid> = stale.iter().map(|e| e.id).collect();
                let mut qb = QueryBuilder::<Db>::new("DELETE FROM edges WHERE ");
                push_in_ids(&mut qb, "id", &ids);
                qb.build().execute(&mut *tx).await?;
                changes.extend(stale.iter().map(|e| PendingChange::edge("edge.deleted", e)));
                counts.edges_removed = ids.len() as u64;
            }
            append_changes(&mut tx, actor, now, &changes).await?;
            tx.commit().await?;
            Ok(counts)
        }
    };
}

pub(crate) use sql_reconcile;
