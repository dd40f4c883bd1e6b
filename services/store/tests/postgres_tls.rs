//! Shared deployments reach PostgreSQL over TLS: a `sslmode=require` URL opens a working
//! store (a build without TLS support refuses such a URL).

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{Connection, PgConnection};
use tributary_store::testing::POSTGRES_URL_VAR;
use tributary_store::{PgStore, Store};

#[tokio::test]
async fn a_store_opens_over_tls() {
    let Some(scratch) = tributary_store::testing::postgres().await else {
        return;
    };
    let plain = PgConnectOptions::from_str(&scratch.url).unwrap();
    let mut probe = PgConnection::connect_with(&plain.clone().ssl_mode(PgSslMode::Disable))
        .await
        .unwrap();
    let ssl: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(&mut probe)
        .await
        .unwrap();
    if ssl != "on" {
        eprintln!("skipping: the server at {POSTGRES_URL_VAR} has ssl = {ssl}");
        return;
    }
    let store = PgStore::open_with(plain.clone().ssl_mode(PgSslMode::Require))
        .await
        .expect("open over TLS");
    store.readiness().await.unwrap();
    let mut tls = PgConnection::connect_with(&plain.ssl_mode(PgSslMode::Require))
        .await
        .unwrap();
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut tls)
            .await
            .unwrap();
    assert!(encrypted, "the connection is encrypted");
}
