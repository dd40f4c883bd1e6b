//! A lineage document with 5,000 features, each fed by its own column, pushed over HTTP to
//! a server on SQLite and on PostgreSQL: the first push (model, features and edges created,
//! graph and search index brought up to date before the answer), a re-push of the
//! unchanged document (recognised from the change log), and a re-push of the same content
//! in another text (a comment added: parsed and compared in full; nothing written).
//! Medians and maxima over several pushes, each timed from sending the request to the last
//! byte of the answer; for the first push, a column also adds the client's parse of the
//! diff (1.2 MB of JSON, parsed into a `serde_json::Value`), the client's work rather than
//! the catalog's, which earlier figures included.
//!
//! `TRIBUTARY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!  cargo bench -p tributary-server --bench documents`

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tributary_catalog::{EntityDraft, EntityKind, Fqn, Role};
use tributary_server::api::tokens::issue_token;
use tributary_server::config::Config;
use tributary_store::{EntityTree, PgStore, SqliteStore, Store};

// The binary's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FEATURES: usize = 5_000;
const COLUMNS_PER_TABLE: usize = 50;
/// Distinct models pushed for the first-push figure; re-pushes per model.
const MODELS: usize = 9;
const REPUSHES: usize = 3;

fn fqn(text: &str) -> Fqn {
    Fqn::parse(text).unwrap()
}

fn document(model: &str) -> String {
    let mut doc =
        format!("version: 1\nmodels:\n  - fqn: {model}\n    owner: ml-team\n    features:\n");
    for i in 0..FEATURES {
        let (t, c) = (i / COLUMNS_PER_TABLE, i % COLUMNS_PER_TABLE);
        doc.push_str(&format!(
            "      - name: feature_{i:05}\n        data_type: numerical\n        source: hive.dwh.marts.mart_{t:03}.col_{c:02}\n        transform: avg over 30 days\n"
        ));
    }
    doc
}

async fn seed(store: &dyn Store) {
    for (name, kind) in [("hive", "hive"), ("mlflow", "mlflow")] {
        let mut draft = EntityDraft::bare(EntityKind::Service, fqn(name), "bench");
        draft.attrs = serde_json::json!({ "service_type": kind });
        store
            .put_service("bench", draft, Default::default())
            .await
            .unwrap();
    }
    store
        .put_team(
            "bench",
            tributary_catalog::TeamDraft {
                name: "ml-team".into(),
                display_name: None,
                description: None,
                contact: None,
                webhook_url: None,
            },
        )
        .await
        .unwrap();
    for t in 0..FEATURES.div_ceil(COLUMNS_PER_TABLE) {
        let table = format!("hive.dwh.marts.mart_{t:03}");
        let columns = (0..COLUMNS_PER_TABLE)
            .map(|c| {
                let mut d = EntityDraft::bare(
                    EntityKind::Column,
                    fqn(&format!("{table}.col_{c:02}")),
                    "bench",
                );
                d.attrs = serde_json::json!({ "data_type": "double", "ordinal": c });
                d
            })
            .collect();
        store
            .put_entity_tree(
                "bench",
                EntityTree {
                    root: EntityDraft::bare(EntityKind::Table, fqn(&table), "bench"),
                    children: Some(columns),
                },
            )
            .await
            .unwrap();
    }
}

fn stats(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(samples[samples.len() / 2]), ms(*samples.last().unwrap()))
}

async fn run(label: &str, store: Arc<dyn Store>) -> String {
    seed(store.as_ref()).await;
    let token = issue_token(store.as_ref(), "bench", "ci", Role::Editor)
        .await
        .unwrap()
        .token;
    let config = Config::default();
    let state = tributary_server::app::state(store.clone(), &config)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/api/v1/lineage/documents",
        listener.local_addr().unwrap()
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        tributary_server::app::serve(state, &Config::default(), listener, async {
            let _ = stopped.await;
        })
        .await
    });
    let http = reqwest::Client::new();
    let push = |doc: String| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let started = Instant::now();
            let res = http
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/yaml")
                .body(doc)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let bytes = res.bytes().await.unwrap();
            let received = started.elapsed();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert!(status.is_success(), "{body}");
            (received, started.elapsed(), body)
        }
    };
    let (mut first, mut again, mut compared) = (Vec::new(), Vec::new(), Vec::new());
    let mut first_parsed = Vec::new();
    let mut indexed = Vec::new();
    let search = url.replace("/lineage/documents", "/search");
    for m in 0..MODELS {
        let doc = document(&format!("mlflow.model_{m}"));
        let (took, parsed, body) = push(doc.clone()).await;
        assert_eq!(
            body["edges"]["added"].as_array().unwrap().len(),
            FEATURES,
            "every edge is new on the first push"
        );
        first.push(took);
        first_parsed.push(parsed);
        // The search index follows on its own task: how long until the model is found.
        let answered = Instant::now();
        loop {
            let hits: serde_json::Value = http
                .get(format!("{search}?q=model_{m}&kind=ml_model"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if hits["hits"].as_array().is_some_and(|h| !h.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        indexed.push(answered.elapsed());
        for _ in 0..REPUSHES {
            let (took, _, body) = push(doc.clone()).await;
            assert_eq!(body["edges"]["unchanged"], FEATURES as u64);
            assert!(body["entities"]["updated"].as_array().unwrap().is_empty());
            again.push(took);
        }
        for build in 0..REPUSHES {
            let (took, _, body) = push(format!("{doc}# build {build}\n")).await;
            assert_eq!(body["edges"]["unchanged"], FEATURES as u64);
            assert!(body["entities"]["updated"].as_array().unwrap().is_empty());
            compared.push(took);
        }
    }
    let _ = stop.send(());
    let _ = server.await;
    let (f50, fmax) = stats(first);
    let (p50, _) = stats(first_parsed);
    let (a50, amax) = stats(again);
    let (c50, cmax) = stats(compared);
    let (i50, imax) = stats(indexed);
    format!(
        "| {label} | {f50:.0} | {fmax:.0} | {p50:.0} | {i50:.0} / {imax:.0} | {a50:.1} | {amax:.1} | {c50:.0} | {cmax:.0} |"
    )
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut rows = Vec::new();

    // `TRIBUTARY_BENCH_BACKENDS=postgres` for one backend alone (profiling).
    let backends = std::env::var("TRIBUTARY_BENCH_BACKENDS").unwrap_or("sqlite,postgres".into());
    let dir = tempfile::tempdir().unwrap();
    if backends.contains("sqlite") {
        let sqlite = SqliteStore::open(&format!("sqlite://{}/catalog.db", dir.path().display()))
            .await
            .unwrap();
        rows.push(run("SQLite", Arc::new(sqlite)).await);
    }

    if let Ok(admin_url) = std::env::var("TRIBUTARY_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("TRIBUTARY_TEST_POSTGRES_URL"))
        && backends.contains("postgres")
    {
        let db = "tributary_bench_documents";
        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
        for ddl in [
            format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            format!("CREATE DATABASE {db}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(ddl))
                .execute(&mut admin)
                .await
                .unwrap();
        }
        let options = PgConnectOptions::from_str(&admin_url).unwrap().database(db);
        let pg = PgStore::open_with(options).await.unwrap();
        rows.push(run("PostgreSQL", Arc::new(pg)).await);
    } else {
        eprintln!("TRIBUTARY_BENCH_POSTGRES_URL not set: PostgreSQL skipped");
    }

    println!(
        "\n| backend | first push median ms | first push max ms | first push and the client's parse of the diff: median ms | then found by search, median / max ms | re-push median ms | re-push max ms | same content, new text: median ms | max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!(
        "\n({FEATURES} features, each with a source column and a transform, {} bytes of YAML; \
         {MODELS} models pushed once each, then {REPUSHES} unchanged re-pushes and {REPUSHES} \
         re-pushes with a comment added each; over HTTP; the lineage graph is updated before each \
         answer, the search index right after)",
        document("mlflow.model_0").len()
    );
}
