//! The benchmark database both large benchmarks share the handling of: named after the
//! benchmark and the scale, generated once and reused, rebuilt on `BENCH_REGENERATE=1`.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// A benchmark's PostgreSQL database, ready to open.
pub struct BenchDatabase {
    pub options: PgConnectOptions,
    /// `BENCH_SCALE` (default 1): the share of the full catalog to generate.
    pub scale: f64,
    /// Whether it was just created (empty) and must be generated.
    pub fresh: bool,
}

/// Finds or creates the database `base` (suffixed with the scale when not 1) on the server
/// named by `TRIBUTARY_BENCH_POSTGRES_URL` (else `TRIBUTARY_TEST_POSTGRES_URL`).
pub async fn bench_database(base: &str) -> BenchDatabase {
    let admin_url = std::env::var("TRIBUTARY_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("TRIBUTARY_TEST_POSTGRES_URL"))
        .expect("set TRIBUTARY_BENCH_POSTGRES_URL");
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let db = if scale == 1.0 {
        base.to_owned()
    } else {
        format!("{base}_{}", (scale * 1000.0) as u64)
    };
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&db)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    let regenerate = std::env::var("BENCH_REGENERATE").as_deref() == Ok("1");
    let mut ddl = Vec::new();
    if exists && regenerate {
        ddl.push(format!("DROP DATABASE {db} WITH (FORCE)"));
    }
    let fresh = !exists || regenerate;
    if fresh {
        ddl.push(format!("CREATE DATABASE {db}"));
    }
    for statement in ddl {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    BenchDatabase {
        options: PgConnectOptions::from_str(&admin_url)
            .unwrap()
            .database(&db),
        scale,
        fresh,
    }
}
