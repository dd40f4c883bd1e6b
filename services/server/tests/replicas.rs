//! Two server processes on one PostgreSQL database: a write through one shows in the
//! other's lineage graph and search index within 2 s, through the change-log follower.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tributary_catalog::Role;
use tributary_server::api::tokens::issue_token;

mod common;
use common::{get_json, put, start};

#[tokio::test]
async fn a_second_process_sees_a_write_within_two_seconds() {
    let Some(scratch) = tributary_store::testing::postgres().await else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let admin = issue_token(scratch.store.as_ref(), "test", "admin", Role::Admin)
        .await
        .unwrap()
        .token;
    let first = start(&scratch.url, &client).await;
    let second = start(&scratch.url, &client).await;

    put(
        &client,
        &first,
        &admin,
        "/api/v1/services/hive",
        json!({"service_type": "hive"}),
    )
    .await;
    put(
        &client,
        &first,
        &admin,
        "/api/v1/services/ml",
        json!({"service_type": "mlflow"}),
    )
    .await;
    let columns = json!([{"name": "amount", "data_type": "double"}]);
    put(
        &client,
        &first,
        &admin,
        "/api/v1/tables",
        json!({"fqn": "hive.d.s.pay", "columns": columns}),
    )
    .await;
    put(
        &client,
        &first,
        &admin,
        "/api/v1/models",
        json!({"fqn": "ml.churn", "features": [{"name": "amount_30d"}]}),
    )
    .await;
    // The second process learns the entities first (an impact of 0), so the edge below can
    // reach it only through the change-log follower, not through an on-demand catch-up.
    let impact = format!("{}/api/v1/impact?fqn=hive.d.s.pay.amount", second.url);
    let before: Value = get_json(&client, &impact).await;
    assert_eq!(before["total"], 0, "{before}");

    put(
        &client,
        &first,
        &admin,
        "/api/v1/lineage/edges",
        json!({"edges": [{"from": "hive.d.s.pay.amount", "to": "ml.churn.amount_30d"}]}),
    )
    .await;
    let written = Instant::now();
    loop {
        let report: Value = get_json(&client, &impact).await;
        if report["total"] == 1 {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(2),
            "the second process had not seen the write after 2 s: {report}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "second process saw the write after {} ms",
        written.elapsed().as_millis()
    );

    // The search index follows the same log.
    put(
        &client,
        &first,
        &admin,
        "/api/v1/models",
        json!({"fqn": "ml.upsell", "features": [{"name": "amount_90d"}]}),
    )
    .await;
    let written = Instant::now();
    let search = format!("{}/api/v1/search?q=amount_90d", second.url);
    loop {
        let found: Value = get_json(&client, &search).await;
        if found["hits"][0]["fqn"] == "ml.upsell.amount_90d" {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(2),
            "the second process's search had not seen the write after 2 s: {found}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "second process's search saw the write after {} ms",
        written.elapsed().as_millis()
    );
}
