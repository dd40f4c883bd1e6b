//! The search index on disk across restarts: opened as it is when nothing changed (by its
//! stored change-log position, not by timing), caught up with writes made while it was
//! closed by another process, rebuilt only when it has nothing usable.

// The router harness only; the rest of the API suite runs in api_sqlite/api_postgres.
#[path = "api/harness.rs"]
#[allow(dead_code)]
mod harness;

use axum::http::StatusCode;
use serde_json::json;
use tributary_catalog::{EntityDraft, EntityKind, Fqn};
use tributary_search::{Filters, Found, Opening, SearchIndex, SearchRequest, Tier};
use tributary_server::config::{Config, SearchConfig};
use tributary_store::EntityTree;
use tributary_store::testing::ScratchStore;

fn find(index: &SearchIndex, text: &str) -> Vec<String> {
    index
        .search(&SearchRequest {
            text,
            filters: Filters::default(),
            tiers: Tier::SEARCH,
            offset: 0,
            limit: 10,
        })
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.fqn)
        .collect()
}

async fn restarts(scratch: ScratchStore) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        search: SearchConfig {
            dir: Some(dir.path().join("catalog.search")),
            in_memory: false,
        },
        ..Config::default()
    };
    let index_dir = config.search.dir.clone().unwrap();

    // First start: no index yet, so it is built; a write through the API reaches it.
    let app = harness::TestApp::with_config(scratch, config).await;
    let (s, _) = app
        .put(
            "/api/v1/services/mlflow",
            &app.admin,
            json!({"service_type": "mlflow"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, body) = app
        .put(
            "/api/v1/models",
            &app.editor,
            json!({"fqn": "mlflow.churn", "features": [{"name": "avg_check_30d"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let harness::TestApp {
        router,
        state,
        scratch,
        ..
    } = app;
    drop(router);
    drop(state);
    let store = scratch.store.clone();
    let last = store.last_change_seq().await.unwrap();

    // The index kept the position of the last write it applied.
    let (index, found) = SearchIndex::open_dir(&index_dir).unwrap();
    assert_eq!(found, Found::At { seq: last });
    drop(index);

    // Restart with nothing changed: opened as is.
    let (index, opening) = tributary_search::open(Some(&index_dir), store.as_ref())
        .await
        .unwrap();
    assert_eq!(opening, Opening::Current { seq: last });
    assert_eq!(
        find(&index, "avg_check_30d")[0],
        "mlflow.churn.avg_check_30d"
    );
    drop(index);

    // Another process writes while the index is closed.
    let other = tributary_store::open(&scratch.url).await.unwrap();
    let mut model = EntityDraft::bare(
        EntityKind::MlModel,
        Fqn::parse("mlflow.upsell").unwrap(),
        "other-process",
    );
    model.description = Some("Offers for heavy users".into());
    let feature = EntityDraft::bare(
        EntityKind::Feature,
        Fqn::parse("mlflow.upsell.tenure_days").unwrap(),
        "other-process",
    );
    other
        .put_entity_tree(
            "other",
            EntityTree {
                root: model,
                children: Some(vec![feature]),
            },
        )
        .await
        .unwrap();
    other
        .delete_entity(
            "other",
            EntityKind::MlModel,
            &Fqn::parse("mlflow.churn").unwrap(),
        )
        .await
        .unwrap();
    let newest = other.last_change_seq().await.unwrap();
    assert!(newest > last);

    // Restart: only the changes since the stored position are applied.
    let (index, opening) = tributary_search::open(Some(&index_dir), store.as_ref())
        .await
        .unwrap();
    match opening {
        Opening::CaughtUp { from, to, changes } => {
            assert_eq!((from, to), (last, newest));
            assert!(changes > 0);
        }
        other => panic!("expected a catch-up, got {other:?}"),
    }
    assert_eq!(find(&index, "tenure_days")[0], "mlflow.upsell.tenure_days");
    assert_eq!(find(&index, "heavy users"), ["mlflow.upsell"]);
    assert!(find(&index, "avg_check_30d").is_empty());
    drop(index);

    // An index ahead of the log belongs to another catalog: rebuilt, not trusted.
    let fresh = tributary_store::testing::sqlite().await;
    let (_, opening) = tributary_search::open(Some(&index_dir), fresh.store.as_ref())
        .await
        .unwrap();
    assert!(matches!(opening, Opening::Rebuilt(_)), "{opening:?}");
}

/// `tributary reindex` rebuilds the index beside the SQLite file, and refuses while another
/// process holds it.
#[tokio::test]
async fn reindex_rebuilds_and_respects_the_lock() {
    let scratch = tributary_store::testing::sqlite().await;
    let store = scratch.store.clone();
    let mut model = EntityDraft::bare(EntityKind::Service, Fqn::parse("mlflow").unwrap(), "test");
    model.attrs = json!({"service_type": "mlflow"});
    store
        .put_service("test", model, Default::default())
        .await
        .unwrap();
    let reindex = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(["--database-url", &scratch.url, "reindex"])
            .env("TRIBUTARY_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = reindex();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.starts_with("reindexed 1 entities"), "{stdout}");
    let db = scratch.url.trim_start_matches("sqlite://");
    let dir = std::path::Path::new(db).with_extension("search");
    let (held, found) = SearchIndex::open_dir(&dir).unwrap();
    assert_eq!(
        found,
        Found::At {
            seq: store.last_change_seq().await.unwrap()
        }
    );
    let out = reindex();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use by another process"),
        "{out:?}"
    );
    drop(held);
}

#[tokio::test]
async fn search_index_restarts_on_sqlite() {
    restarts(tributary_store::testing::sqlite().await).await;
}

#[tokio::test]
async fn search_index_restarts_on_postgres() {
    if let Some(scratch) = tributary_store::testing::postgres().await {
        restarts(scratch).await;
    }
}
