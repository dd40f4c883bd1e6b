//! Impact at telecom scale: 1M columns, 5,000 models, 500,000 feature edges on PostgreSQL.
//! p50/p99 of impact for a hot and a typical column, in-process and over HTTP, next to the
//! same question as a PostgreSQL recursive CTE over the same edges, in the same run; and
//! the graph's load time and resident memory.
//!
//! `TRIBUTARY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!  cargo bench -p tributary-server --bench impact`
//! The catalog is generated once into the database `tributary_bench_impact` and reused.
//! `BENCH_SCALE=0.1` shrinks it (for a quick look), `BENCH_REGENERATE=1` rebuilds it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection, Row};
use tributary_catalog::{EntityKind, Fqn};
use tributary_graph::ImpactQuery;
use tributary_server::config::Config;
use tributary_server::synthetic::{CatalogShape, ColumnLineage, NameStyle, generate};
use tributary_store::{PgStore, Store};

const DB: &str = "tributary_bench_impact";
const RUNS: usize = 300;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3;
    (at(0.50), at(0.99))
}

/// The question impact answers, as one recursive query: models, dashboards and pipelines
/// downstream of a column or table, through edges, a table's columns and feature → model. `UNION` on the id alone ends
/// cycles and asks PostgreSQL for less than the graph gives (no distances, no paths).
const CTE: &str = "
WITH RECURSIVE walk(id) AS (
    SELECT $1::uuid
  UNION
    SELECT step.id
    FROM walk w
    CROSS JOIN LATERAL (
        SELECT e.to_id AS id FROM edges e WHERE e.from_id = w.id
        UNION ALL
        SELECT f.parent_id FROM entities f WHERE f.id = w.id AND f.kind = 'feature'
        UNION ALL
        SELECT c.id FROM entities c WHERE c.parent_id = w.id AND c.kind = 'column'
    ) step
)
SELECT en.id
FROM walk w JOIN entities en ON en.id = w.id
WHERE en.kind IN ('ml_model', 'dashboard', 'pipeline') AND en.deleted_at IS NULL";

#[path = "common/mod.rs"]
mod common;
use common::{BenchDatabase, bench_database};

// The binary's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rss_at_start = resident_bytes();
    let BenchDatabase {
        options,
        scale,
        fresh,
    } = bench_database(DB).await;
    let store = PgStore::open_with(options.clone()).await.unwrap();
    let shape = CatalogShape {
        marts: (20_000.0 * scale) as usize,
        columns_per_mart: 50,
        layers: 4,
        upstreams_per_mart: 2,
        unmapped_share: 0.0,
        cycles: 20,
        models: (5_000.0 * scale) as usize,
        features_per_model: 100,
        hot_columns: 5,
        hot_share: 0.3,
        dashboards: (500.0 * scale) as usize,
        teams: 40,
        unowned_share: 0.05,
        column_lineage: ColumnLineage::Explicit,
        names: NameStyle::Numbered,
        seed: 7,
    };
    let started = Instant::now();
    let generated = if fresh {
        let g = generate(&store, &shape, |line| eprintln!("  {line}"))
            .await
            .unwrap();
        eprintln!("generated in {:.0} s", started.elapsed().as_secs_f64());
        let mut conn = PgConnection::connect_with(&options).await.unwrap();
        sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
        g
    } else {
        // The generator's root picks follow from the shape alone.
        let (hot_columns, typical_columns) = shape.root_columns();
        tributary_server::synthetic::Generated {
            hot_columns,
            typical_columns,
            entities: 0,
            edges: 0,
        }
    };

    let mut conn = PgConnection::connect_with(&options).await.unwrap();
    let columns: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM entities WHERE kind = 'column'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let models: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM entities WHERE kind = 'ml_model'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let feature_edges: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM edges e JOIN entities t ON t.id = e.to_id WHERE t.kind = 'feature'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let all_edges: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM edges")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let entities: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM entities")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    println!(
        "catalog: {entities} entities ({columns} columns, {models} models), {all_edges} edges ({feature_edges} column -> feature)"
    );

    // Fresh planner statistics for the CTE, whether the catalog was just written or reused.
    sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
    if fresh {
        println!("(resident memory below is unreliable on a generating run: rerun to measure it)");
    }
    let before = rss_at_start;
    let started = Instant::now();
    let config = Config::default();
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(store);
    let state = tributary_server::app::state(store.clone(), &config)
        .await
        .unwrap();
    let load = started.elapsed();
    let rss = resident_bytes().saturating_sub(before);
    let stats = state.graph.read().stats();
    let memory = state.graph.read().memory();
    println!(
        "graph: loaded in {:.1} s; {} nodes, {} links; resident memory +{:.0} MiB ({:.0} bytes per node+link)",
        load.as_secs_f64(),
        stats.nodes,
        stats.links,
        rss as f64 / 1048576.0,
        rss as f64 / (stats.nodes + stats.links) as f64
    );

    println!(
        "graph structures: {:.0} bytes per node ({} nodes, {:.0} MiB), {:.0} bytes per link ({} links, {:.0} MiB)",
        memory.bytes_per_node(),
        memory.nodes,
        memory.node_bytes as f64 / 1048576.0,
        memory.bytes_per_link(),
        memory.links,
        memory.link_bytes as f64 / 1048576.0
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = state.clone();
    tokio::spawn(async move {
        tributary_server::app::serve(served, &Config::default(), listener, std::future::pending())
            .await
    });
    let client = reqwest::Client::new();

    let query = ImpactQuery {
        max_depth: None,
        kinds: vec![
            EntityKind::MlModel,
            EntityKind::Dashboard,
            EntityKind::Pipeline,
        ],
        limit: 100_000,
    };
    // A typical column: of 200 columns in the layers models read from, one with the median
    // number of hits among those that feed anything.
    let mut candidates = Vec::new();
    for k in 0..200usize {
        let fqn = Fqn::parse(&format!(
            "warehouse.dwh.layer_2.mart_{:05}.c_{:03}",
            (k * 4 + 2) % shape.marts.max(1),
            k % 50
        ))
        .unwrap();
        if let Ok(entity) = store.get_entity(&fqn).await {
            let hits = state
                .graph
                .read()
                .impact(entity.id, &query)
                .map_or(0, |i| i.matched);
            if hits > 0 {
                candidates.push((hits, fqn));
            }
        }
    }
    candidates.sort();
    let typical = candidates[candidates.len() / 2].1.clone();
    println!(
        "typical column: median of {} columns with hits (hits range {}..{})",
        candidates.len(),
        candidates[0].0,
        candidates[candidates.len() - 1].0
    );

    println!(
        "\n| root | models + dashboards hit | graph walk p50 / p99 (ms) | in-process with report p50 / p99 (ms) | HTTP p50 / p99 (ms) | PostgreSQL CTE p50 / p99 (ms) | CTE p50 ÷ in-process p50 |"
    );
    println!("|---|---|---|---|---|---|---|");
    let roots = [
        ("hot column", generated.hot_columns[0].clone()),
        ("typical column", typical),
        (
            "whole table (a failed load)",
            Fqn::parse("warehouse.dwh.layer_1.mart_00001").unwrap(),
        ),
    ];
    for (label, fqn) in roots {
        let id = store.get_entity(&fqn).await.unwrap().id;
        let mut walk = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            let graph = state.graph.read();
            std::hint::black_box(graph.impact(id, &query).unwrap());
            walk.push(t.elapsed());
        }
        let mut in_process = Vec::with_capacity(RUNS);
        let mut hits = 0;
        let mut graph_ids = HashSet::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let graph = state.graph.read();
            let impact = graph.impact(id, &query).unwrap();
            let report =
                tributary_server::api::impact::report(&graph, &state.graph, &impact, &query);
            in_process.push(t.elapsed());
            hits = report.total;
            graph_ids = impact.hits.iter().map(|h| graph.node(h.node).id).collect();
        }
        let url = format!("http://{addr}/api/v1/impact?fqn={fqn}&limit=100000");
        let mut http = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            let body = client
                .get(&url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            http.push(t.elapsed());
            assert!(body.len() > 2);
        }
        let mut cte = Vec::with_capacity(30);
        let mut cte_ids = HashSet::new();
        for _ in 0..30 {
            let t = Instant::now();
            let rows = sqlx::query(CTE)
                .bind(id)
                .fetch_all(&mut conn)
                .await
                .unwrap();
            cte.push(t.elapsed());
            cte_ids = rows.iter().map(|r| r.get::<uuid::Uuid, _>("id")).collect();
        }
        assert_eq!(
            graph_ids, cte_ids,
            "the graph and the CTE disagree on {fqn}"
        );
        let (w50, w99) = percentiles(walk);
        let (ip50, ip99) = percentiles(in_process);
        let (hp50, hp99) = percentiles(http);
        let (cp50, cp99) = percentiles(cte);
        println!(
            "| {label} `{fqn}` | {hits} | {w50:.3} / {w99:.3} | {ip50:.3} / {ip99:.3} | {hp50:.2} / {hp99:.2} | {cp50:.1} / {cp99:.1} | {:.0}× |",
            cp50 / ip50
        );
    }
}
