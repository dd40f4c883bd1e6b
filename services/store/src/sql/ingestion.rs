//! Ingestion leases and run history. Operational records, not catalog changes: nothing
//! here writes the change log.
//!
//! Expanded by `sql_store!` into each backend module; see `sql/mod.rs`.

macro_rules! sql_ingestion {
    ($store:ty) => {
        const RUN_COLUMNS: &str = "id, service_id, \"trigger\", status, holder, started_at, \
            finished_at, scheduled_for, counts, warnings, error";

        fn run_from_row(row: &DbRow) -> Result<IngestionRun> {
            let trigger: String = row.try_get("trigger")?;
            let status: String = row.try_get("status")?;
            Ok(IngestionRun {
                id: row.try_get("id")?,
                service_id: row.try_get("service_id")?,
                trigger: trigger.parse().map_err(corrupt)?,
                status: status.parse().map_err(corrupt)?,
                holder: row.try_get("holder")?,
                started_at: row.try_get("started_at")?,
                finished_at: row.try_get("finished_at")?,
                scheduled_for: row.try_get("scheduled_for")?,
                counts: row.try_get::<Json<RunCounts>, _>("counts")?.0,
                warnings: row.try_get::<Json<Vec<String>>, _>("warnings")?.0,
                error: row.try_get("error")?,
            })
        }

        async fn acquire_ingestion_lease(
            store: &$store,
            service_id: Uuid,
            holder: &str,
            now: DateTime<Utc>,
            ttl: std::time::Duration,
        ) -> Result<bool> {
            let ttl = chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::MAX);
            let until = now.checked_add_signed(ttl).unwrap_or(DateTime::<Utc>::MAX_UTC);
            // One statement, so two replicas asking at once cannot both win: the row is
            // written only when free, run out, or already this holder's.
            let done = sqlx::query(
                "INSERT INTO ingestion_leases (service_id, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (service_id) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at \
                 WHERE ingestion_leases.expires_at <= $4 OR ingestion_leases.holder = excluded.holder",
            )
            .bind(service_id)
            .bind(holder)
            .bind(until)
            .bind(now)
            .execute(&store.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn release_ingestion_lease(
            store: &$store,
            service_id: Uuid,
            holder: &str,
        ) -> Result<()> {
            sqlx::query("DELETE FROM ingestion_leases WHERE service_id = $1 AND holder = $2")
                .bind(service_id)
                .bind(holder)
                .execute(&store.pool)
                .await?;
            Ok(())
        }

        async fn start_ingestion_run(
            store: &$store,
            service_id: Uuid,
            trigger: RunTrigger,
            holder: &str,
            now: DateTime<Utc>,
            scheduled_for: Option<DateTime<Utc>>,
        ) -> Result<IngestionRun> {
            let mut tx = store.pool.begin().await?;
            // The caller holds the service's lease, so a run still marked running was left
            // by a replica that stopped (its lease ran out): say so, and forget what it saw.
            let abandoned: Vec<Uuid> = sqlx::query_scalar(
                "UPDATE ingestion_runs SET status = $1, finished_at = $2, error = $3 \
                 WHERE service_id = $4 AND status = $5 RETURNING id",
            )
            .bind(RunStatus::Failed.as_str())
            .bind(now)
            .bind("abandoned: the replica running it stopped before it finished")
            .bind(service_id)
            .bind(RunStatus::Running.as_str())
            .fetch_all(&mut *tx)
            .await?;
            for run in abandoned {
                sqlx::query("DELETE FROM ingestion_seen WHERE run_id = $1")
                    .bind(run)
                    .execute(&mut *tx)
                    .await?;
            }
            let row = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO ingestion_runs (id, service_id, \"trigger\", status, holder, \
                 started_at, scheduled_for, counts, warnings) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {RUN_COLUMNS}"
            )))
            .bind(Uuid::now_v7())
            .bind(service_id)
            .bind(trigger.as_str())
            .bind(RunStatus::Running.as_str())
            .bind(holder)
            .bind(now)
            .bind(scheduled_for)
            .bind(Json(RunCounts::default()))
            .bind(Json(Vec::<String>::new()))
            .fetch_optional(&mut *tx)
            .await;
            let run = match row {
                Ok(Some(row)) => run_from_row(&row)?,
                Ok(None) => return Err(StoreError::Corrupt("INSERT … RETURNING gave no row".into())),
                Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                    return Err(StoreError::not_found("service", service_id));
                }
                Err(e) => return Err(e.into()),
            };
            tx.commit().await?;
            Ok(run)
        }

        async fn last_scheduled_slots(store: &$store) -> Result<HashMap<Uuid, DateTime<Utc>>> {
            let rows = sqlx::query(
                "SELECT service_id, MAX(scheduled_for) AS slot FROM ingestion_runs \
                 WHERE scheduled_for IS NOT NULL GROUP BY service_id",
            )
            .fetch_all(&store.pool)
            .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("service_id")?, row.try_get("slot")?)))
                .collect()
        }

        async fn last_scheduled_slot(
            store: &$store,
            service_id: Uuid,
        ) -> Result<Option<DateTime<Utc>>> {
            let rows = sqlx::query(
                "SELECT scheduled_for FROM ingestion_runs \
                 WHERE service_id = $1 AND scheduled_for IS NOT NULL \
                 ORDER BY scheduled_for DESC LIMIT 1",
            )
            .bind(service_id)
            .fetch_all(&store.pool)
            .await?;
            match rows.first() {
                Some(row) => Ok(row.try_get("scheduled_for")?),
                None => Ok(None),
            }
        }

        async fn finish_ingestion_run(
            store: &$store,
            id: Uuid,
            outcome: RunOutcome,
            now: DateTime<Utc>,
        ) -> Result<IngestionRun> {
            let mut tx = store.pool.begin().await?;
            sqlx::query("DELETE FROM ingestion_seen WHERE run_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            // The run's lease, if its replica still holds it: released with the record, so
            // whoever sees the run finished may start the next one.
            sqlx::query(
                "DELETE FROM ingestion_leases WHERE EXISTS (SELECT 1 FROM ingestion_runs r \
                 WHERE r.id = $1 AND r.service_id = ingestion_leases.service_id \
                 AND r.holder = ingestion_leases.holder)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let row = sqlx::query(AssertSqlSafe(format!(
                "UPDATE ingestion_runs SET status = $1, finished_at = $2, counts = $3, \
                 warnings = $4, error = $5 WHERE id = $6 RETURNING {RUN_COLUMNS}"
            )))
            .bind(outcome.status.as_str())
            .bind(now)
            .bind(Json(outcome.counts))
            .bind(Json(&outcome.warnings))
            .bind(outcome.error.as_deref())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let run = match row {
                Some(row) => run_from_row(&row)?,
                None => return Err(StoreError::not_found("ingestion run", id)),
            };
            tx.commit().await?;
            Ok(run)
        }

        async fn ingestion_runs(
            store: &$store,
            service_id: Uuid,
            limit: u32,
        ) -> Result<Vec<IngestionRun>> {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {RUN_COLUMNS} FROM ingestion_runs WHERE service_id = $1 \
                 ORDER BY started_at DESC, id DESC LIMIT $2"
            )))
            .bind(service_id)
            .bind(i64::from(limit))
            .fetch_all(&store.pool)
            .await?;
            rows.iter().map(run_from_row).collect()
        }

        async fn recent_ingestion_runs(store: &$store, limit: u32) -> Result<Vec<IngestionRun>> {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {RUN_COLUMNS} FROM ingestion_runs \
                 ORDER BY started_at DESC, id DESC LIMIT $1"
            )))
            .bind(i64::from(limit))
            .fetch_all(&store.pool)
            .await?;
            rows.iter().map(run_from_row).collect()
        }
    };
}

pub(crate) use sql_ingestion;
