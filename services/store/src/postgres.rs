//! The shared-deployment backend: PostgreSQL, which several replicas can use at once.

use std::str::FromStr;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

type Db = sqlx::Postgres;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// Key of the advisory lock every write transaction holds. Serialising writers makes
/// change-log sequence order equal commit order, so a follower reading `seq > n` never
/// skips a row that commits late.
const WRITE_LOCK_KEY: i64 = 0x7472_6962; // "trib"

/// A catalog in a PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    const BACKEND: crate::Backend = crate::Backend::Postgres;

    /// Connects to and migrates `postgres://…`.
    pub async fn open(url: &str) -> crate::Result<Self> {
        Self::open_with(PgConnectOptions::from_str(url)?).await
    }

    pub async fn open_with(options: PgConnectOptions) -> crate::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PgStore { pool })
    }

    async fn begin_write(&self) -> crate::Result<sqlx::Transaction<'static, Db>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

crate::sql::sql_store!(PgStore);
