//! Scratch stores for tests: a fresh SQLite file, or a fresh PostgreSQL database created
//! on the server named by `TRIBUTARY_TEST_POSTGRES_URL` and dropped afterwards.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::{PgStore, SqliteStore, Store};

/// The variable naming the PostgreSQL server tests may create databases on.
pub const POSTGRES_URL_VAR: &str = "TRIBUTARY_TEST_POSTGRES_URL";

/// When set to 1, a missing PostgreSQL URL fails the tests instead of skipping them (CI).
pub const REQUIRE_POSTGRES_VAR: &str = "TRIBUTARY_REQUIRE_POSTGRES";

/// A store that cleans up after itself when dropped.
pub struct ScratchStore {
    pub store: Arc<dyn Store>,
    /// A URL that opens the same database again (for restart tests).
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Database { admin_url: String, name: String },
}

/// A store on a new SQLite file in a temporary folder.
pub async fn sqlite() -> ScratchStore {
    let dir = std::env::temp_dir().join(format!("tributary-test-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}/catalog.db", dir.display());
    let store = SqliteStore::open(&url)
        .await
        .expect("open scratch SQLite store");
    ScratchStore {
        store: Arc::new(store),
        url,
        cleanup: Cleanup::Dir(dir),
    }
}

/// A store on a new PostgreSQL database, or `None` when no server is configured.
pub async fn postgres() -> Option<ScratchStore> {
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        if std::env::var(REQUIRE_POSTGRES_VAR).as_deref() == Ok("1") {
            panic!("{REQUIRE_POSTGRES_VAR}=1 but {POSTGRES_URL_VAR} is not set");
        }
        eprintln!("skipping: {POSTGRES_URL_VAR} is not set, PostgreSQL tests do not run");
        return None;
    };
    let name = format!("tributary_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("connect to {POSTGRES_URL_VAR}: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create scratch database");
    let options = PgConnectOptions::from_str(&admin_url)
        .expect("parse PostgreSQL URL")
        .database(&name);
    let store = PgStore::open_with(options)
        .await
        .expect("open scratch PostgreSQL store");
    let url = with_database(&admin_url, &name);
    Some(ScratchStore {
        store: Arc::new(store),
        url,
        cleanup: Cleanup::Database { admin_url, name },
    })
}

/// `url` with its database path replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for ScratchStore {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                let (admin_url, db) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime, which cannot be blocked on; a
                // thread with its own runtime can.
                let dropped = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("cleanup runtime");
                    rt.block_on(async {
                        let mut admin = PgConnection::connect(&admin_url).await?;
                        sqlx::query(AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
                        )))
                        .execute(&mut admin)
                        .await
                        .map(|_| ())
                    })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("warning: could not drop scratch database {name}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_is_swapped_in_the_url() {
        assert_eq!(
            super::with_database("postgres://u@127.0.0.1:5432/postgres?sslmode=disable", "x"),
            "postgres://u@127.0.0.1:5432/x?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://127.0.0.1", "x"),
            "postgres://127.0.0.1/x"
        );
    }
}
