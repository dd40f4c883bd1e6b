//! The embedded default backend: one SQLite file in WAL mode.
//!
//! Checkpoints (copying the write-ahead log back into the database file, then syncing it)
//! run on a background task rather than inside whichever commit crosses SQLite's
//! 1,000-page threshold: a lineage document of 5,000 features writes more than that, so
//! every such push paid a whole checkpoint (about 65 ms here) before it could answer.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

type Db = sqlx::Sqlite;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How often the background task checkpoints the write-ahead log.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// The write-ahead log file is cut back to this size after a checkpoint resets it, so one
/// large write does not leave a large file behind.
const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// A catalog in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Stops the checkpoint task when the last clone of the store is dropped.
    _checkpoints: Arc<Checkpointer>,
}

/// The background task that checkpoints the write-ahead log; aborted on drop.
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Checkpointer {
    fn spawn(pool: SqlitePool) -> Self {
        Checkpointer(tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // PASSIVE copies what it can without waiting for readers or writers; frames
                // a reader still needs are copied on a later tick.
                if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %err, "SQLite checkpoint failed; retrying");
                }
            }
        }))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SqliteStore {
    const BACKEND: crate::Backend = crate::Backend::Sqlite;

    /// Opens (creating the file and its folder if missing) and migrates `sqlite://path`.
    pub async fn open(url: &str) -> crate::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL makes NORMAL durable against application crashes and fast enough for bulk loads.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // No checkpoint inside a commit; see the module docs and `Checkpointer`.
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string());
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                crate::StoreError::Database(sqlx::Error::Configuration(
                    format!("cannot create {}: {e}", dir.display()).into(),
                ))
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        let checkpoints = Arc::new(Checkpointer::spawn(pool.clone()));
        Ok(SqliteStore {
            pool,
            _checkpoints: checkpoints,
        })
    }

    /// A write transaction that takes SQLite's write lock up front. A deferred transaction
    /// that reads first would fail with SQLITE_BUSY, not wait, if another writer got in between.
    async fn begin_write(&self) -> crate::Result<sqlx::Transaction<'static, Db>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// `column IN` a set bound as one JSON array: one statement text for any number of values,
/// so it is prepared once and never meets SQLite's bind limit.
fn push_in_texts(qb: &mut sqlx::QueryBuilder<Db>, column: &str, values: &[String]) {
    qb.push(column)
        .push(" IN (SELECT value FROM json_each(")
        .push_bind(serde_json::to_string(values).expect("strings serialise"))
        .push("))");
}

/// As [`push_in_texts`] for ids, which SQLite stores as 16-byte blobs.
fn push_in_ids(qb: &mut sqlx::QueryBuilder<Db>, column: &str, ids: &[uuid::Uuid]) {
    let hex: Vec<String> = ids.iter().map(|id| id.simple().to_string()).collect();
    qb.push(column)
        .push(" IN (SELECT unhex(value) FROM json_each(")
        .push_bind(serde_json::to_string(&hex).expect("strings serialise"))
        .push("))");
}

// Bulk inserts as multi-row VALUES, in statements of `BATCH_ROWS` rows.

async fn upsert_entities(
    conn: &mut sqlx::SqliteConnection,
    rows: &[tributary_catalog::Entity],
) -> crate::Result<()> {
    use sqlx::types::Json;
    for chunk in rows.chunks(crate::sql::BATCH_ROWS) {
        let mut qb = sqlx::QueryBuilder::<Db>::new(format!(
            "INSERT INTO entities ({}) ",
            crate::sql::ENTITY_COLUMNS
        ));
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
        qb.push(crate::sql::ENTITY_ON_CONFLICT);
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn upsert_edges(
    conn: &mut sqlx::SqliteConnection,
    rows: &[tributary_catalog::Edge],
) -> crate::Result<()> {
    use sqlx::types::Json;
    for chunk in rows.chunks(crate::sql::BATCH_ROWS) {
        let mut qb = sqlx::QueryBuilder::<Db>::new(format!(
            "INSERT INTO edges ({}) ",
            crate::sql::EDGE_COLUMNS
        ));
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
        qb.push(crate::sql::EDGE_ON_CONFLICT);
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn append_changes(
    conn: &mut sqlx::SqliteConnection,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
    changes: &[crate::PendingChange],
) -> crate::Result<()> {
    for chunk in changes.chunks(crate::sql::BATCH_ROWS) {
        let mut qb = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO change_log (at, actor, op, entity_id, fqn, detail) ",
        );
        qb.push_values(chunk, |mut b, c| {
            b.push_bind(now)
                .push_bind(actor)
                .push_bind(c.op)
                .push_bind(c.entity_id)
                .push_bind(c.fqn.as_deref())
                .push_bind(sqlx::types::Json(&c.detail));
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

crate::sql::sql_store!(SqliteStore);
