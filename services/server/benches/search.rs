//! Search at telecom scale: 1M columns, 5,000 models, 500,000 features (named as
//! warehouses name them, so close names abound) on PostgreSQL. p50/p99 of models-by-feature
//! (exact and fuzzy), free search and suggest over HTTP, next to the same questions asked
//! of PostgreSQL with `pg_trgm` on the same rows, in the same run, query by query
//! alternating; and the index's build time and size on disk.
//!
//! `TRIBUTARY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!  cargo bench -p tributary-server --bench search`
//! The catalog is generated once into the database `tributary_bench_search` and reused.
//! `BENCH_SCALE=0.1` shrinks it (for a quick look), `BENCH_REGENERATE=1` rebuilds it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{Connection, PgConnection, Row};
use tributary_search::Opening;
use tributary_server::config::{Config, SearchConfig};
use tributary_server::synthetic::{CatalogShape, ColumnLineage, NameStyle, generate};
use tributary_store::{PgStore, Store};

const DB: &str = "tributary_bench_search";
const QUERIES: usize = 300;

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3;
    (at(0.50), at(0.99))
}

/// `text` as a LIKE pattern matching itself only (names are full of `_`).
fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// One edit: the middle character dropped (`avg_chek_30d` for `avg_check_30d`).
fn typo(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut at = chars.len() / 2;
    while at + 1 < chars.len() && !chars[at].is_alphanumeric() {
        at += 1;
    }
    chars
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != at)
        .map(|(_, c)| c)
        .collect()
}

/// What PostgreSQL is asked, per operation. `$1` is the query text, lowercased.
struct Baseline {
    sql: String,
    /// Turns the query text into the bound parameter.
    param: fn(&str) -> String,
}

async fn measure(
    label: &str,
    queries: &[String],
    http: &reqwest::Client,
    url: impl Fn(&str) -> String,
    check: impl Fn(&Value) -> usize,
    pg: &mut PgConnection,
    baseline: &Baseline,
) -> String {
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let (mut our_found, mut their_found) = (0, 0);
    // One warm-up pass each, then the measured pass, alternating query by query.
    for measured in [false, true] {
        for q in queries {
            let started = Instant::now();
            let body: Value = http.get(url(q)).send().await.unwrap().json().await.unwrap();
            let ours_took = started.elapsed();
            let started = Instant::now();
            let rows = sqlx::query(sqlx::AssertSqlSafe(baseline.sql.as_str()))
                .bind((baseline.param)(&q.to_lowercase()))
                .fetch_all(&mut *pg)
                .await
                .unwrap();
            let theirs_took = started.elapsed();
            if measured {
                ours.push(ours_took);
                theirs.push(theirs_took);
                our_found += usize::from(check(&body) > 0);
                their_found += usize::from(!rows.is_empty());
            }
        }
    }
    let (o50, o99) = percentiles(ours);
    let (p50, p99) = percentiles(theirs);
    format!(
        "| {label} | {o50:.2} | {o99:.2} | {p50:.2} | {p99:.2} | {:.1}× | {:.1}× | {our_found}/{n} | {their_found}/{n} |",
        p50 / o50,
        p99 / o99,
        n = queries.len()
    )
}

#[path = "common/mod.rs"]
mod common;
use common::{BenchDatabase, bench_database};

// The binary's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
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
        unmapped_share: 0.05,
        cycles: 20,
        models: (5_000.0 * scale) as usize,
        features_per_model: 100,
        hot_columns: 5,
        hot_share: 0.3,
        dashboards: (500.0 * scale) as usize,
        teams: 40,
        unowned_share: 0.05,
        column_lineage: ColumnLineage::Mapped,
        names: NameStyle::Words,
        seed: 11,
    };
    if fresh {
        let started = Instant::now();
        generate(&store, &shape, |line| eprintln!("  {line}"))
            .await
            .unwrap();
        eprintln!("generated in {:.0} s", started.elapsed().as_secs_f64());
    }
    let mut pg = PgConnection::connect_with(&options).await.unwrap();
    let counts = sqlx::query(
        "SELECT count(*) FILTER (WHERE kind = 'column'), count(*) FILTER (WHERE kind = 'ml_model'),
                count(*) FILTER (WHERE kind = 'feature'), count(*)
         FROM entities WHERE deleted_at IS NULL",
    )
    .fetch_one(&mut pg)
    .await
    .unwrap();
    let (columns, models, features, all): (i64, i64, i64, i64) =
        (counts.get(0), counts.get(1), counts.get(2), counts.get(3));
    println!(
        "catalog: {columns} columns, {models} models, {features} features, {all} entities in all"
    );

    // PostgreSQL's side: trigram indexes on the lowercased names and descriptions.
    let trigram = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        .execute(&mut pg)
        .await
        .is_ok();
    let started = Instant::now();
    if trigram {
        for ddl in [
            "CREATE INDEX IF NOT EXISTS bench_name_trgm ON entities USING gin (lower(name) gin_trgm_ops)",
            "CREATE INDEX IF NOT EXISTS bench_description_trgm ON entities USING gin (lower(description) gin_trgm_ops)",
        ] {
            sqlx::query(ddl).execute(&mut pg).await.unwrap();
        }
    }
    sqlx::query("CREATE INDEX IF NOT EXISTS bench_name_lower ON entities (lower(name))")
        .execute(&mut pg)
        .await
        .unwrap();
    sqlx::query("ANALYZE").execute(&mut pg).await.unwrap();
    let pg_index_bytes: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(pg_relation_size(indexrelid)), 0)::bigint FROM pg_index
         WHERE indexrelid::regclass::text IN ('bench_name_trgm', 'bench_description_trgm')",
    )
    .fetch_one(&mut pg)
    .await
    .unwrap();
    println!(
        "postgres: pg_trgm {}; trigram indexes {:.0} MiB (ready in {:.1} s this run)",
        if trigram {
            "present"
        } else {
            "absent: ILIKE scans"
        },
        pg_index_bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );

    // Our side: the index built from scratch on disk, then a server over it.
    let dir = std::env::temp_dir().join(format!(
        "tributary-bench-search-{}",
        options.get_database().unwrap_or(DB)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store: Arc<dyn Store> = Arc::new(store);
    let (index, opening) = tributary_search::open(Some(&dir), store.as_ref())
        .await
        .unwrap();
    let Opening::Rebuilt(rebuilt) = opening else {
        panic!("a fresh directory is rebuilt")
    };
    let stats = index.stats();
    println!(
        "search index: {} documents built in {:.1} s; {:.0} MiB on disk in {} segments",
        rebuilt.documents,
        rebuilt.elapsed.as_secs_f64(),
        stats.bytes_on_disk as f64 / 1048576.0,
        stats.segments
    );
    drop(index);
    let config = Config {
        search: SearchConfig {
            dir: Some(dir.clone()),
            in_memory: false,
        },
        ..Config::default()
    };
    let state = tributary_server::app::state(store.clone(), &config)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        tributary_server::app::serve(state, &Config::default(), listener, std::future::pending())
            .await
    });
    let http = reqwest::Client::new();

    // The questions: feature names the catalog holds, drawn evenly; typos of them; phrases
    // of descriptions; prefixes as typed.
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM entities WHERE kind = 'feature' AND deleted_at IS NULL
         ORDER BY md5(id::text) LIMIT $1",
    )
    .bind(QUERIES as i64)
    .fetch_all(&mut pg)
    .await
    .unwrap();
    let typos: Vec<String> = names.iter().map(|n| typo(n)).collect();
    let segments = [
        "prepaid",
        "postpaid",
        "corporate",
        "premium",
        "youth",
        "dormant",
    ];
    let free: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| match i % 4 {
            0 => n.clone(),
            1 => typo(n),
            2 => format!("{} subscribers", segments[i % segments.len()]),
            _ => n.split('_').skip(1).take(2).collect::<Vec<_>>().join(" "),
        })
        .collect();
    let prefixes: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| n.chars().take(3 + i % 6).collect())
        .collect();

    // The named baseline: how a trigram-backed catalog answers "models using a feature
    // named like this", exact names first (similarity 1). The same query serves the typo.
    let similar = if trigram {
        "SELECT m.fqn, f.name FROM entities f JOIN entities m ON m.id = f.parent_id
         WHERE f.kind = 'feature' AND f.deleted_at IS NULL AND lower(f.name) % $1
         ORDER BY similarity(lower(f.name), $1) DESC, m.fqn LIMIT 20"
    } else {
        "SELECT m.fqn, f.name FROM entities f JOIN entities m ON m.id = f.parent_id
         WHERE f.kind = 'feature' AND f.deleted_at IS NULL AND f.name ILIKE '%' || $1 || '%'
         ORDER BY m.fqn LIMIT 20"
    };
    let exact_trgm = Baseline {
        sql: similar.into(),
        param: |q| q.to_owned(),
    };
    let exact_btree = Baseline {
        sql: "SELECT m.fqn, f.name FROM entities f JOIN entities m ON m.id = f.parent_id
              WHERE f.kind = 'feature' AND f.deleted_at IS NULL AND lower(f.name) = $1
              ORDER BY m.fqn LIMIT 20"
            .into(),
        param: |q| q.to_owned(),
    };
    let fuzzy = Baseline {
        sql: similar.into(),
        param: |q| q.to_owned(),
    };
    let search = Baseline {
        sql: if trigram {
            "SELECT fqn FROM entities
             WHERE deleted_at IS NULL AND (lower(name) % $1 OR lower(description) LIKE '%' || $1 || '%')
             ORDER BY similarity(lower(name), $1) DESC, fqn LIMIT 20"
        } else {
            "SELECT fqn FROM entities
             WHERE deleted_at IS NULL AND (name ILIKE '%' || $1 || '%' OR description ILIKE '%' || $1 || '%')
             ORDER BY fqn LIMIT 20"
        }
        .into(),
        param: |q| q.to_owned(),
    };
    let suggest = Baseline {
        sql: "SELECT fqn FROM entities WHERE deleted_at IS NULL AND lower(name) LIKE $1
              ORDER BY length(name), fqn LIMIT 10"
            .into(),
        param: |q| format!("{}%", like_literal(q)),
    };

    let models_found = |body: &Value| body["models"].as_array().map_or(0, Vec::len);
    let hits_found = |body: &Value| body["hits"].as_array().map_or(0, Vec::len);
    let items_found = |body: &Value| body["items"].as_array().map_or(0, Vec::len);
    let enc = |q: &str| q.replace(' ', "%20");
    println!();
    println!(
        "| operation ({QUERIES} queries) | ours p50 ms | ours p99 ms | PostgreSQL p50 ms | PostgreSQL p99 ms | p50 ratio | p99 ratio | ours answered | PostgreSQL answered |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let rows = [
        measure(
            "models-by-feature, exact name (PG: `pg_trgm` similarity)",
            &names,
            &http,
            |q| format!("{base}/search/models-by-feature?name={}", enc(q)),
            models_found,
            &mut pg,
            &exact_trgm,
        )
        .await,
        measure(
            "models-by-feature, exact name (PG: b-tree equality on lower(name), exact only)",
            &names,
            &http,
            |q| format!("{base}/search/models-by-feature?name={}", enc(q)),
            models_found,
            &mut pg,
            &exact_btree,
        )
        .await,
        measure(
            "models-by-feature, fuzzy, typo'd name (PG: `pg_trgm` similarity)",
            &typos,
            &http,
            |q| format!("{base}/search/models-by-feature?name={}&fuzzy=true", enc(q)),
            models_found,
            &mut pg,
            &fuzzy,
        )
        .await,
        measure(
            "free search (PG: similarity on name OR description LIKE)",
            &free,
            &http,
            |q| format!("{base}/search?q={}", enc(q)),
            hits_found,
            &mut pg,
            &search,
        )
        .await,
        measure(
            "suggest, 3–8 typed characters (PG: `pg_trgm` LIKE prefix)",
            &prefixes,
            &http,
            |q| format!("{base}/suggest?q={}", enc(q)),
            items_found,
            &mut pg,
            &suggest,
        )
        .await,
    ];
    for row in rows {
        println!("{row}");
    }
}
