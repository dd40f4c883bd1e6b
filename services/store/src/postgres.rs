//! The shared-deployment backend: PostgreSQL, which several replicas can use at once.

use std::str::FromStr;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

type Db = sqlx::Postgres;

mod copy;

use copy::CopyRows;

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

/// `column = ANY` one array bind: one statement text for any number of values, planned
/// once, where a list of binds would be a new statement (and plan) per length.
fn push_in_texts(qb: &mut sqlx::QueryBuilder<Db>, column: &str, values: &[String]) {
    qb.push(column)
        .push(" = ANY(")
        .push_bind(values.to_vec())
        .push(")");
}

fn push_in_ids(qb: &mut sqlx::QueryBuilder<Db>, column: &str, ids: &[uuid::Uuid]) {
    qb.push(column)
        .push(" = ANY(")
        .push_bind(ids.to_vec())
        .push(")");
}

// New rows go in by `COPY` (see [`copy`]). Upserts are one `INSERT … SELECT FROM UNNEST`
// of one array per column: one short statement, planned once, for any number of rows.

/// New rows (a first version) are copied in: writers are serialised, so they cannot
/// conflict, and `COPY` skips the per-row work of `INSERT … SELECT FROM UNNEST` (array
/// decoding, the projection, `ON CONFLICT`'s speculative insertion); a 5,000-feature first
/// push took 12–13 % less for it (BENCHMARKS.md). The rest are upserts.
async fn upsert_entities(
    conn: &mut sqlx::PgConnection,
    rows: &[tributary_catalog::Entity],
) -> crate::Result<()> {
    let (new, changed): (Vec<&tributary_catalog::Entity>, Vec<_>) =
        rows.iter().partition(|e| e.version == 1);
    copy_entity_rows(&mut *conn, &new).await?;
    upsert_entity_rows(&mut *conn, &changed).await
}

async fn copy_entity_rows(
    conn: &mut sqlx::PgConnection,
    rows: &[&tributary_catalog::Entity],
) -> crate::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut copy = CopyRows::new(rows.len());
    for e in rows {
        copy.row(15)
            .uuid(e.id)
            .text(e.kind.as_str())
            .text(e.fqn.as_str())
            .text(&e.name)
            .opt_uuid(e.parent_id)
            .opt_text(e.display_name.as_deref())
            .opt_text(e.description.as_deref())
            .opt_text(e.owner.as_deref())
            .jsonb(&e.tags)
            .jsonb(&e.attrs)
            .text(&e.source)
            .int8(e.version)
            .timestamptz(e.created_at)
            .timestamptz(e.updated_at)
            .opt_timestamptz(e.deleted_at);
    }
    let sql = format!(
        "COPY entities ({}) FROM STDIN (FORMAT binary)",
        crate::sql::ENTITY_COLUMNS
    );
    copy.copy_into(conn, &sql).await?;
    Ok(())
}

async fn upsert_entity_rows(
    conn: &mut sqlx::PgConnection,
    rows: &[&tributary_catalog::Entity],
) -> crate::Result<()> {
    use sqlx::types::Json;
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO entities ({}) SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], \
         $4::text[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::jsonb[], \
         $11::text[], $12::bigint[], $13::timestamptz[], $14::timestamptz[], \
         $15::timestamptz[]){}",
        crate::sql::ENTITY_COLUMNS,
        crate::sql::ENTITY_ON_CONFLICT
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(rows.iter().map(|e| e.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.fqn.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.name.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.parent_id).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|e| e.display_name.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|e| e.description.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|e| e.owner.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| Json(&e.tags)).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| Json(&e.attrs)).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.source.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.version).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.created_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.updated_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.deleted_at).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// As [`upsert_entities`]: an edge never updated (updated when created) is new.
async fn upsert_edges(
    conn: &mut sqlx::PgConnection,
    rows: &[tributary_catalog::Edge],
) -> crate::Result<()> {
    let (new, changed): (Vec<&tributary_catalog::Edge>, Vec<_>) =
        rows.iter().partition(|e| e.created_at == e.updated_at);
    copy_edge_rows(&mut *conn, &new).await?;
    upsert_edge_rows(&mut *conn, &changed).await
}

async fn copy_edge_rows(
    conn: &mut sqlx::PgConnection,
    rows: &[&tributary_catalog::Edge],
) -> crate::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut copy = CopyRows::new(rows.len());
    for e in rows {
        copy.row(9)
            .uuid(e.id)
            .uuid(e.from_id)
            .uuid(e.to_id)
            .text("lineage")
            .text(&e.source)
            .jsonb(&e.columns)
            .opt_text(e.transform.as_deref())
            .timestamptz(e.created_at)
            .timestamptz(e.updated_at);
    }
    let sql = format!(
        "COPY edges ({}) FROM STDIN (FORMAT binary)",
        crate::sql::EDGE_COLUMNS
    );
    copy.copy_into(conn, &sql).await?;
    Ok(())
}

async fn upsert_edge_rows(
    conn: &mut sqlx::PgConnection,
    rows: &[&tributary_catalog::Edge],
) -> crate::Result<()> {
    use sqlx::types::Json;
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO edges ({}) SELECT id, from_id, to_id, 'lineage', source, columns, \
         transform, created_at, updated_at FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], \
         $4::text[], $5::jsonb[], $6::text[], $7::timestamptz[], $8::timestamptz[]) \
         AS u(id, from_id, to_id, source, columns, transform, created_at, updated_at){}",
        crate::sql::EDGE_COLUMNS,
        crate::sql::EDGE_ON_CONFLICT
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(rows.iter().map(|e| e.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.from_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.to_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.source.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| Json(&e.columns)).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|e| e.transform.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|e| e.created_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.updated_at).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Copied in the given order: the log's sequence (the column default) follows the rows.
async fn append_changes(
    conn: &mut sqlx::PgConnection,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
    changes: &[crate::PendingChange],
) -> crate::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut copy = CopyRows::new(changes.len());
    for c in changes {
        copy.row(6)
            .timestamptz(now)
            .text(actor)
            .text(c.op)
            .opt_uuid(c.entity_id)
            .opt_text(c.fqn.as_deref())
            .jsonb(&c.detail);
    }
    copy.copy_into(
        conn,
        "COPY change_log (at, actor, op, entity_id, fqn, detail) FROM STDIN (FORMAT binary)",
    )
    .await?;
    Ok(())
}

crate::sql::sql_store!(PgStore);
