//! Incidents, the entities they touch, and their webhook deliveries.
//!
//! Expanded by `sql_store!` into each backend module; see `sql/mod.rs`.

macro_rules! sql_incidents {
    ($store:ty) => {
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
            if ids.is_empty() {
                return Ok(HashSet::new());
            }
            let mut qb = QueryBuilder::<Db>::new("SELECT id FROM entities WHERE ");
            push_in_ids(&mut qb, "id", ids);
            let rows = qb.build().fetch_all(&mut *conn).await?;
            rows.iter()
                .map(|row| Ok(row.try_get::<Uuid, _>("id")?))
                .collect()
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

        async fn open_incident(store: &$store, actor: &str, incident: NewIncident) -> Result<Incident> {
            let mut tx = store.begin_write().await?;
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

        async fn get_incident(store: &$store, id: Uuid) -> Result<Incident> {
            let row = sqlx::query(AssertSqlSafe(format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(&store.pool)
            .await?;
            match row {
                Some(row) => incident_from_row(&row),
                None => Err(StoreError::not_found("incident", id)),
            }
        }

        async fn list_incidents(
            store: &$store,
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
            let rows = qb.build().fetch_all(&store.pool).await?;
            rows.iter().map(incident_from_row).collect()
        }

        async fn acknowledge_incident(store: &$store, actor: &str, id: Uuid) -> Result<Incident> {
            let mut tx = store.begin_write().await?;
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

        async fn resolve_incident(store: &$store, actor: &str, id: Uuid) -> Result<Incident> {
            let mut tx = store.begin_write().await?;
            let moved =
                move_incident(&mut tx, actor, id, IncidentStatus::Resolved, "incident.resolved")
                    .await?;
            tx.commit().await?;
            Ok(moved)
        }

        async fn active_incidents_touching(
            store: &$store,
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
            .fetch_all(&store.pool)
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

        async fn deliveries_of(store: &$store, incident_id: Uuid) -> Result<Vec<Delivery>> {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE incident_id = $1 \
                 ORDER BY created_at, id"
            )))
            .bind(incident_id)
            .fetch_all(&store.pool)
            .await?;
            rows.iter().map(delivery_from_row).collect()
        }

        async fn claim_due_deliveries(
            store: &$store,
            now: DateTime<Utc>,
            lease: std::time::Duration,
            limit: u32,
        ) -> Result<Vec<Delivery>> {
            let lease = chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX);
            let until = now.checked_add_signed(lease).unwrap_or(DateTime::<Utc>::MAX_UTC);
            // Most polls find nothing due: answer those with an indexed read, so an idle
            // notifier never takes the write lock that every catalog write waits on.
            let due: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM deliveries WHERE status = $1 AND next_attempt_at <= $2 LIMIT 1",
            )
            .bind(DeliveryStatus::Pending.as_str())
            .bind(now)
            .fetch_optional(&store.pool)
            .await?;
            if due.is_none() {
                return Ok(Vec::new());
            }
            // The write lock makes select-then-update atomic across replicas: a second
            // claimer waits, then finds these rows no longer due.
            let mut tx = store.begin_write().await?;
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
            store: &$store,
            id: Uuid,
            outcome: DeliveryOutcome,
        ) -> Result<Delivery> {
            let mut tx = store.begin_write().await?;
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

    };
}

pub(crate) use sql_incidents;
