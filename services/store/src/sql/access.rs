//! Readiness, API tokens and the change log.
//!
//! Expanded by `sql_store!` into each backend module; see `sql/mod.rs`.

macro_rules! sql_access {
    ($store:ty) => {
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

        async fn readiness(store: &$store) -> Result<()> {
            let applied: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(&store.pool)
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

        async fn create_token(store: &$store, actor: &str, token: NewToken) -> Result<TokenRecord> {
            let mut tx = store.begin_write().await?;
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

        async fn token_by_hash(store: &$store, hash: &str) -> Result<Option<TokenRecord>> {
            let row = sqlx::query(
                "SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
            )
            .bind(hash)
            .fetch_optional(&store.pool)
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
                    .execute(&store.pool)
                    .await?;
            }
            Ok(Some(record))
        }

        async fn list_tokens(store: &$store) -> Result<Vec<TokenRecord>> {
            let rows = sqlx::query("SELECT * FROM api_tokens ORDER BY name, created_at")
                .fetch_all(&store.pool)
                .await?;
            rows.iter().map(token_from_row).collect()
        }

        async fn revoke_token(store: &$store, actor: &str, name: &str) -> Result<()> {
            let mut tx = store.begin_write().await?;
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

        async fn changes_after(store: &$store, after: i64, limit: u32) -> Result<Vec<Change>> {
            let mut conn = store.pool.acquire().await?;
            changes_in(&mut conn, after, limit).await
        }

        /// Change-log rows after `after`, read on `conn` (inside a transaction, its own
        /// uncommitted rows included).
        async fn changes_in(conn: &mut Conn, after: i64, limit: u32) -> Result<Vec<Change>> {
            let rows = sqlx::query(
                "SELECT seq, at, actor, op, entity_id, fqn, detail FROM change_log \
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
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

        async fn last_change_seq(store: &$store) -> Result<i64> {
            let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM change_log")
                .fetch_one(&store.pool)
                .await?;
            Ok(seq.unwrap_or(0))
        }
    };
}

pub(crate) use sql_access;
