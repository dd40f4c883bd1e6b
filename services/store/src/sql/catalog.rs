//! Entities, their trees (a table with its columns, a model with its features), services and teams.
//!
//! Expanded by `sql_store!` into each backend module; see `sql/mod.rs`.

macro_rules! sql_catalog {
    ($store:ty) => {
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

        async fn existing_teams(conn: &mut Conn, names: &HashSet<&str>) -> Result<HashSet<String>> {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let mut qb = QueryBuilder::<Db>::new("SELECT name FROM teams WHERE ");
            push_in_texts(&mut qb, "name", &names);
            let rows = qb.build().fetch_all(&mut *conn).await?;
            rows.iter()
                .map(|row| Ok(row.try_get::<String, _>("name")?))
                .collect()
        }

        /// Writes a tree inside the caller's transaction; see `Store::put_entity_tree`.
        async fn write_tree(
            conn: &mut Conn,
            actor: &str,
            now: DateTime<Utc>,
            tree: EntityTree,
        ) -> Result<TreeWritten> {
            Ok(write_tree_planned(conn, actor, now, tree).await?.0)
        }

        /// [`write_tree`], also giving back what it planned and wrote.
        async fn write_tree_planned(
            conn: &mut Conn,
            actor: &str,
            now: DateTime<Utc>,
            tree: EntityTree,
        ) -> Result<(TreeWritten, EntityWrites)> {
            let planned = read_tree(conn, now, tree).await?.plan(now)?;
            write_planned(conn, actor, now, &planned.1).await?;
            Ok(planned)
        }

        /// Reads what writing `tree` must be compared with (its ancestors, its root, its
        /// stored children, the teams it names) and plans everything but the children,
        /// which [`TreeRead::plan`] plans without the database.
        async fn read_tree(conn: &mut Conn, now: DateTime<Utc>, tree: EntityTree) -> Result<TreeRead> {
            let EntityTree { root, children } = tree;
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
            let owners: HashSet<&str> = std::iter::once(&root)
                .chain(children.as_deref().unwrap_or_default())
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
                        let outcome = plan::plan_entity(found, draft, parent_id, now)?;
                        parent_id = Some(outcome.entity().id);
                        writes.record(outcome);
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
            writes.record(outcome);

            let stored_children = match &children {
                Some(_) if !root_created => {
                    let depth = root_entity.fqn.parts().len() + 1;
                    descendants_of(conn, &root_entity.fqn)
                        .await?
                        .into_iter()
                        .filter(|e| e.fqn.parts().len() == depth)
                        .collect()
                }
                _ => Vec::new(),
            };
            Ok(TreeRead {
                children,
                root: root_entity,
                root_created,
                stored_children,
                writes,
            })
        }

        /// A tree's rows as planned: written as one (entities, soft deletes, change log).
        async fn write_planned(
            conn: &mut Conn,
            actor: &str,
            now: DateTime<Utc>,
            writes: &EntityWrites,
        ) -> Result<()> {
            upsert_entities(conn, &writes.upserts).await?;
            let deleted: Vec<Uuid> = writes.soft_deletes.iter().map(|e| e.id).collect();
            soft_delete(conn, &deleted, now).await?;
            append_changes(conn, actor, now, &writes.changes).await
        }

        async fn get_entity(store: &$store, fqn: &Fqn) -> Result<Entity> {
            let row = sqlx::query(AssertSqlSafe(format!(
                "SELECT {ENTITY_COLUMNS} FROM entities WHERE fqn = $1 AND deleted_at IS NULL"
            )))
            .bind(fqn.as_str())
            .fetch_optional(&store.pool)
            .await?;
            match row {
                Some(row) => entity_from_row(&row),
                None => Err(StoreError::not_found("entity", fqn)),
            }
        }

        async fn entities_by_fqn(store: &$store, fqns: &[Fqn]) -> Result<Vec<Entity>> {
            let mut conn = store.pool.acquire().await?;
            let texts: Vec<String> = fqns.iter().map(|f| f.to_string()).collect();
            let found = entities_at(&mut conn, &texts).await?;
            Ok(found.into_iter().filter(Entity::is_live).collect())
        }

        async fn entities_by_id(store: &$store, ids: &[Uuid]) -> Result<Vec<Entity>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut qb =
                QueryBuilder::<Db>::new(format!("SELECT {ENTITY_COLUMNS} FROM entities WHERE "));
            push_in_ids(&mut qb, "id", ids);
            let rows = qb.build().fetch_all(&store.pool).await?;
            rows.iter().map(entity_from_row).collect()
        }

        async fn scan_entities(store: &$store, after: Option<Uuid>, limit: u32) -> Result<Vec<Entity>> {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {ENTITY_COLUMNS} FROM entities WHERE deleted_at IS NULL"
            ));
            if let Some(after) = after {
                qb.push(" AND id > ").push_bind(after);
            }
            qb.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
            let rows = qb.build().fetch_all(&store.pool).await?;
            rows.iter().map(entity_from_row).collect()
        }

        async fn children(store: &$store, parent: Uuid) -> Result<Vec<Entity>> {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {ENTITY_COLUMNS} FROM entities \
                 WHERE parent_id = $1 AND deleted_at IS NULL ORDER BY fqn"
            )))
            .bind(parent)
            .fetch_all(&store.pool)
            .await?;
            rows.iter().map(entity_from_row).collect()
        }

        async fn child_counts(store: &$store, parent: Uuid) -> Result<Vec<ChildCount>> {
            let rows = sqlx::query(
                "SELECT kind, COUNT(*) AS n FROM entities \
                 WHERE parent_id = $1 AND deleted_at IS NULL GROUP BY kind ORDER BY kind",
            )
            .bind(parent)
            .fetch_all(&store.pool)
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

        async fn list_entities(store: &$store, query: &ListQuery) -> Result<Page<Entity>> {
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
            let rows = qb.build().fetch_all(&store.pool).await?;
            let mut items = rows.iter().map(entity_from_row).collect::<Result<Vec<_>>>()?;
            let next_after = if items.len() > query.limit as usize {
                items.truncate(query.limit as usize);
                items.last().map(|e| e.fqn.to_string())
            } else {
                None
            };
            Ok(Page { items, next_after })
        }

        async fn put_entity_tree(store: &$store, actor: &str, tree: EntityTree) -> Result<TreeWritten> {
            let mut tx = store.begin_write().await?;
            let written = write_tree(&mut tx, actor, Utc::now(), tree).await?;
            tx.commit().await?;
            Ok(written)
        }

        async fn delete_entity(store: &$store, actor: &str, kind: EntityKind, fqn: &Fqn) -> Result<u64> {
            let mut tx = store.begin_write().await?;
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
            store: &$store,
            actor: &str,
            service: EntityDraft,
            connection: ConnectionConfig,
        ) -> Result<TreeWritten> {
            let mut tx = store.begin_write().await?;
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

        async fn service_connection(store: &$store, service: &Fqn) -> Result<ConnectionConfig> {
            let stored: Option<Json<ConnectionConfig>> = sqlx::query_scalar(
                "SELECT c.config FROM service_connections c \
                 JOIN entities s ON s.id = c.service_id \
                 WHERE s.fqn = $1 AND s.kind = 'service' AND s.deleted_at IS NULL",
            )
            .bind(service.as_str())
            .fetch_optional(&store.pool)
            .await?;
            stored
                .map(|j| j.0)
                .ok_or_else(|| StoreError::not_found("service", service))
        }

        async fn service_connections(store: &$store) -> Result<HashMap<Uuid, ConnectionConfig>> {
            let rows = sqlx::query(
                "SELECT c.service_id, c.config FROM service_connections c \
                 JOIN entities s ON s.id = c.service_id WHERE s.deleted_at IS NULL",
            )
            .fetch_all(&store.pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let config: Json<ConnectionConfig> = row.try_get("config")?;
                    Ok((row.try_get("service_id")?, config.0))
                })
                .collect()
        }

        async fn put_team(store: &$store, actor: &str, team: TeamDraft) -> Result<(Team, bool)> {
            let mut tx = store.begin_write().await?;
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

        async fn get_team(store: &$store, name: &str) -> Result<Team> {
            let row = sqlx::query("SELECT * FROM teams WHERE name = $1")
                .bind(name)
                .fetch_optional(&store.pool)
                .await?;
            match row {
                Some(row) => team_from_row(&row),
                None => Err(StoreError::not_found("team", name)),
            }
        }

        async fn list_teams(store: &$store) -> Result<Vec<Team>> {
            let rows = sqlx::query("SELECT * FROM teams ORDER BY name")
                .fetch_all(&store.pool)
                .await?;
            rows.iter().map(team_from_row).collect()
        }

    };
}

pub(crate) use sql_catalog;
