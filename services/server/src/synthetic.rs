//! A synthetic catalog of any size, for tests and benchmarks: Hive marts in lineage layers
//! with column mappings, ML models whose features come from mart columns (a few "hot"
//! columns used by many models), dashboards fed by models, and owning teams.
//!
//! Everything is written through the store's bulk paths (one transaction per mart with
//! all its columns, edges in large batches), the same paths the API and connectors use.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;
use tributary_catalog::{
    ColumnMapping, EdgeDraft, EdgeKey, EntityDraft, EntityKind, Fqn, TeamDraft,
};
use tributary_store::{EntityTree, Store, StoreError};

const ACTOR: &str = "synthetic";
const SOURCE: &str = "synthetic";
const EDGE_BATCH: usize = 5_000;

/// How column lineage is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColumnLineage {
    /// Table-to-table edges carrying column mappings (as OpenMetadata and YAML documents do).
    Mapped,
    /// One column-to-column edge per mapping, no table edges: what a recursive SQL query
    /// over the edge table can follow, for benchmarks against one.
    Explicit,
}

/// How generated entities are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NameStyle {
    /// `c_007`, `f_012`: compact, for lineage benchmarks.
    Numbered,
    /// Words as warehouses name things (`payment_amount`, `avg_payment_amount_30d`),
    /// with descriptions: close names abound, as search meets them in the field.
    Words,
}

/// The size and shape of the catalog to generate.
#[derive(Debug, Clone, clap::Args)]
pub struct CatalogShape {
    /// Tables ("marts").
    #[arg(long, default_value_t = 200)]
    pub marts: usize,
    #[arg(long, default_value_t = 50)]
    pub columns_per_mart: usize,
    /// Lineage layers: marts of layer n are fed by marts of layer n-1.
    #[arg(long, default_value_t = 4)]
    pub layers: usize,
    /// Upstream marts per mart (above the first layer).
    #[arg(long, default_value_t = 2)]
    pub upstreams_per_mart: usize,
    /// Share of mart-to-mart edges that carry no column mapping.
    #[arg(long, default_value_t = 0.05)]
    pub unmapped_share: f64,
    /// Edges from a later layer back to an earlier one (lineage from query logs has cycles).
    #[arg(long, default_value_t = 3)]
    pub cycles: usize,
    #[arg(long, default_value_t = 100)]
    pub models: usize,
    #[arg(long, default_value_t = 20)]
    pub features_per_model: usize,
    /// Columns that many models use.
    #[arg(long, default_value_t = 5)]
    pub hot_columns: usize,
    /// Share of models with a feature on a hot column.
    #[arg(long, default_value_t = 0.3)]
    pub hot_share: f64,
    #[arg(long, default_value_t = 20)]
    pub dashboards: usize,
    #[arg(long, default_value_t = 8)]
    pub teams: usize,
    /// Share of models and dashboards without an owner.
    #[arg(long, default_value_t = 0.05)]
    pub unowned_share: f64,
    #[arg(long, value_enum, default_value_t = ColumnLineage::Mapped)]
    pub column_lineage: ColumnLineage,
    #[arg(long, value_enum, default_value_t = NameStyle::Numbered)]
    pub names: NameStyle,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl CatalogShape {
    fn layer_count(&self) -> usize {
        self.layers.max(1)
    }

    /// Mart FQNs per lineage layer, spread evenly.
    fn marts_per_layer(&self) -> Vec<Vec<String>> {
        let layers = self.layer_count();
        (0..layers)
            .map(|l| {
                (0..self.marts)
                    .filter(|i| i % layers == l)
                    .map(|i| mart(l, i))
                    .collect()
            })
            .collect()
    }

    /// The columns many models read: the first columns of the first layer's marts.
    fn hot_column_names(&self, first: &[String]) -> Vec<String> {
        (0..self.hot_columns.min(first.len() * self.columns_per_mart))
            .map(|h| self.column(&first[h % first.len()], h / first.len()))
            .collect()
    }

    /// The hot columns and some first-layer columns this shape generates, known without
    /// generating it (the picks use no randomness): for reusing a generated catalog.
    pub fn root_columns(&self) -> (Vec<Fqn>, Vec<Fqn>) {
        let layers = self.marts_per_layer();
        let first = &layers[0];
        let hot = self
            .hot_column_names(first)
            .iter()
            .map(|c| fqn(c))
            .collect();
        let last = self.columns_per_mart.saturating_sub(1);
        let typical = first
            .iter()
            .take(20)
            .map(|t| fqn(&self.column(t, last)))
            .collect();
        (hot, typical)
    }
}

/// What was generated, for picking benchmark roots.
#[derive(Debug, Clone)]
pub struct Generated {
    pub hot_columns: Vec<Fqn>,
    /// Columns of the first layer that feed something downstream.
    pub typical_columns: Vec<Fqn>,
    pub entities: usize,
    pub edges: usize,
}

fn fqn(text: &str) -> Fqn {
    Fqn::parse(text).expect("generated names are valid")
}

fn mart(layer: usize, i: usize) -> String {
    format!("warehouse.dwh.layer_{layer}.mart_{i:05}")
}

const MEASURES: [&str; 40] = [
    "check",
    "payment",
    "call",
    "sms",
    "data_usage",
    "balance",
    "topup",
    "refund",
    "session",
    "click",
    "order",
    "visit",
    "purchase",
    "tenure",
    "arpu",
    "roaming",
    "voice",
    "traffic",
    "device",
    "tariff",
    "complaint",
    "bonus",
    "cashback",
    "transfer",
    "deposit",
    "loan",
    "credit",
    "debit",
    "fee",
    "subscription",
    "churn",
    "discount",
    "delivery",
    "basket",
    "search",
    "login",
    "pageview",
    "upload",
    "download",
    "ticket",
];
const QUALIFIERS: [&str; 8] = [
    "amount", "count", "duration", "share", "ratio", "flag", "value", "days",
];
const AGGREGATES: [&str; 8] = ["avg", "sum", "min", "max", "cnt", "std", "last", "median"];
const WINDOWS: [&str; 7] = ["1d", "7d", "14d", "30d", "90d", "180d", "365d"];
const TARGETS: [&str; 8] = [
    "churn",
    "upsell",
    "fraud",
    "default",
    "lifetime value",
    "propensity",
    "next purchase",
    "tariff change",
];
const SEGMENTS: [&str; 8] = [
    "prepaid",
    "postpaid",
    "corporate",
    "premium",
    "youth",
    "roaming",
    "new",
    "dormant",
];

impl CatalogShape {
    /// The FQN of `table`'s `j`th column.
    fn column(&self, table: &str, j: usize) -> String {
        match self.names {
            NameStyle::Numbered => format!("{table}.c_{j:03}"),
            NameStyle::Words => {
                // Each table starts the vocabulary elsewhere, so marts differ; names stay
                // unique within a table.
                let offset = table
                    .bytes()
                    .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
                let (m, q) = (MEASURES.len(), QUALIFIERS.len());
                let base = format!(
                    "{}_{}",
                    MEASURES[(j + offset) % m],
                    QUALIFIERS[(j / m + offset) % q]
                );
                if j < m * q {
                    format!("{table}.{base}")
                } else {
                    format!("{table}.{base}_{j}")
                }
            }
        }
    }

    /// Names for model `k`'s features, one per source column, unique within the model.
    fn feature_names(&self, k: usize, sources: &[String]) -> Vec<String> {
        let mut used = std::collections::HashSet::new();
        sources
            .iter()
            .enumerate()
            .map(|(j, source)| {
                let name = match self.names {
                    NameStyle::Numbered => format!("f_{j:03}"),
                    NameStyle::Words => {
                        let column = source.rsplit('.').next().unwrap_or(source);
                        format!(
                            "{}_{column}_{}",
                            AGGREGATES[(k + j) % AGGREGATES.len()],
                            WINDOWS[(k / AGGREGATES.len() + j * 3) % WINDOWS.len()]
                        )
                    }
                };
                let mut unique = name.clone();
                let mut n = 1;
                while !used.insert(unique.clone()) {
                    n += 1;
                    unique = format!("{name}_v{n}");
                }
                unique
            })
            .collect()
    }

    fn model_description(&self, k: usize) -> Option<String> {
        (self.names == NameStyle::Words).then(|| {
            format!(
                "Predicts {} for {} subscribers",
                TARGETS[k % TARGETS.len()],
                SEGMENTS[(k / TARGETS.len()) % SEGMENTS.len()]
            )
        })
    }

    fn table_description(&self, n: usize) -> Option<String> {
        (self.names == NameStyle::Words).then(|| {
            format!(
                "Daily {} mart for {} subscribers",
                MEASURES[n % MEASURES.len()].replace('_', " "),
                SEGMENTS[(n / MEASURES.len()) % SEGMENTS.len()]
            )
        })
    }
}

/// Writes the catalog. `progress` hears a line per phase.
pub async fn generate(
    store: &dyn Store,
    shape: &CatalogShape,
    progress: impl Fn(String),
) -> Result<Generated, StoreError> {
    let mut rng = SmallRng::seed_from_u64(shape.seed);
    let layers = shape.layer_count();
    let teams: Vec<String> = (0..shape.teams.max(1))
        .map(|t| format!("team_{t:02}"))
        .collect();
    for team in &teams {
        store
            .put_team(
                ACTOR,
                TeamDraft {
                    name: team.clone(),
                    display_name: Some(format!("Team {team}")),
                    description: None,
                    contact: Some(format!("#{team}")),
                    webhook_url: None,
                },
            )
            .await?;
    }
    for (name, kind) in [
        ("warehouse", "hive"),
        ("registry", "mlflow"),
        ("bi", "custom"),
    ] {
        let mut draft = EntityDraft::bare(EntityKind::Service, fqn(name), SOURCE);
        draft.attrs = json!({ "service_type": kind });
        store.put_service(ACTOR, draft, Default::default()).await?;
    }

    let per_layer = shape.marts_per_layer();
    // The services; the database and the schemas are counted at the end.
    let mut entities = 3;
    for (n, table) in per_layer.iter().flatten().enumerate() {
        let mut root = EntityDraft::bare(EntityKind::Table, fqn(table), SOURCE);
        root.owner = Some(teams[n % teams.len()].clone());
        root.description = shape.table_description(n);
        let columns = (0..shape.columns_per_mart)
            .map(|j| {
                let mut c =
                    EntityDraft::bare(EntityKind::Column, fqn(&shape.column(table, j)), SOURCE);
                c.attrs = json!({ "data_type": "double", "ordinal": j });
                c
            })
            .collect();
        store
            .put_entity_tree(
                ACTOR,
                EntityTree {
                    root,
                    children: Some(columns),
                },
            )
            .await?;
        entities += 1 + shape.columns_per_mart;
        if n % 1000 == 999 {
            progress(format!("{} marts written", n + 1));
        }
    }
    progress(format!(
        "{} marts with {} columns each",
        shape.marts, shape.columns_per_mart
    ));

    let mut edges: Vec<EdgeDraft> = Vec::new();
    let edge = |from: &str, to: &str, columns: Vec<ColumnMapping>| EdgeDraft {
        key: EdgeKey {
            from: fqn(from),
            to: fqn(to),
            source: SOURCE.into(),
        },
        columns,
        transform: None,
    };
    let cols = shape.columns_per_mart;
    for l in 1..layers {
        for table in &per_layer[l] {
            let upstream = &per_layer[l - 1];
            if upstream.is_empty() || cols == 0 {
                continue;
            }
            let sources: Vec<&String> = (0..shape.upstreams_per_mart.max(1))
                .map(|_| &upstream[rng.random_range(0..upstream.len())])
                .collect();
            // Each column comes from one column of one upstream mart.
            let mut mappings: Vec<Vec<(usize, usize)>> = vec![Vec::new(); sources.len()];
            for j in 0..cols {
                mappings[rng.random_range(0..sources.len())].push((rng.random_range(0..cols), j));
            }
            for (source, pairs) in sources.iter().zip(mappings) {
                match shape.column_lineage {
                    ColumnLineage::Mapped if rng.random_bool(shape.unmapped_share) => {
                        edges.push(edge(source, table, vec![]))
                    }
                    ColumnLineage::Mapped => {
                        let columns = pairs
                            .iter()
                            .map(|&(from, to)| ColumnMapping {
                                from: vec![fqn(&shape.column(source, from))],
                                to: fqn(&shape.column(table, to)),
                                function: None,
                            })
                            .collect();
                        edges.push(edge(source, table, columns));
                    }
                    ColumnLineage::Explicit => {
                        for (from, to) in pairs {
                            edges.push(edge(
                                &shape.column(source, from),
                                &shape.column(table, to),
                                vec![],
                            ));
                        }
                    }
                }
            }
        }
    }
    for _ in 0..shape.cycles {
        if layers < 2 {
            break;
        }
        let (late, early) = (&per_layer[layers - 1], &per_layer[0]);
        if late.is_empty() || early.is_empty() {
            break;
        }
        let (from, to) = (
            &late[rng.random_range(0..late.len())],
            &early[rng.random_range(0..early.len())],
        );
        match shape.column_lineage {
            ColumnLineage::Mapped => edges.push(edge(from, to, vec![])),
            ColumnLineage::Explicit => {
                edges.push(edge(&shape.column(from, 0), &shape.column(to, 0), vec![]))
            }
        }
    }

    // Models read mostly from the last layers; hot columns sit in the first.
    let first = &per_layer[0];
    let hot_columns = shape.hot_column_names(first);
    let late: Vec<&String> = per_layer[layers / 2..].iter().flatten().collect();
    let mut models = Vec::new();
    for k in 0..shape.models {
        let model = format!("registry.model_{k:05}");
        let mut root = EntityDraft::bare(EntityKind::MlModel, fqn(&model), SOURCE);
        if !rng.random_bool(shape.unowned_share) {
            root.owner = Some(teams[rng.random_range(0..teams.len())].clone());
        }
        root.attrs = json!({ "algorithm": "xgboost", "version": "1" });
        root.description = shape.model_description(k);
        // Each feature's source column, drawn before the features are named after them.
        let linked = shape.features_per_model > 0 && cols > 0 && !late.is_empty();
        let sources: Vec<String> = (0..shape.features_per_model)
            .map(|j| {
                if !linked {
                    String::new()
                } else if j == 0 && !hot_columns.is_empty() && rng.random_bool(shape.hot_share) {
                    hot_columns[rng.random_range(0..hot_columns.len())].clone()
                } else {
                    shape.column(
                        late[rng.random_range(0..late.len())],
                        rng.random_range(0..cols),
                    )
                }
            })
            .collect();
        let names = shape.feature_names(k, &sources);
        let features = names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let mut f =
                    EntityDraft::bare(EntityKind::Feature, fqn(&format!("{model}.{name}")), SOURCE);
                f.owner = root.owner.clone();
                f.attrs = json!({ "ordinal": j });
                f
            })
            .collect();
        store
            .put_entity_tree(
                ACTOR,
                EntityTree {
                    root,
                    children: Some(features),
                },
            )
            .await?;
        entities += 1 + shape.features_per_model;
        if linked {
            for (from, name) in sources.iter().zip(&names) {
                edges.push(edge(from, &format!("{model}.{name}"), vec![]));
            }
        }
        models.push(model);
    }
    progress(format!(
        "{} models with {} features each",
        shape.models, shape.features_per_model
    ));
    for d in 0..shape.dashboards {
        let dashboard = format!("bi.dashboard_{d:04}");
        let mut root = EntityDraft::bare(EntityKind::Dashboard, fqn(&dashboard), SOURCE);
        if !rng.random_bool(shape.unowned_share) {
            root.owner = Some(teams[rng.random_range(0..teams.len())].clone());
        }
        store
            .put_entity_tree(
                ACTOR,
                EntityTree {
                    root,
                    children: None,
                },
            )
            .await?;
        entities += 1;
        for _ in 0..rng.random_range(1..=3usize) {
            if !models.is_empty() {
                edges.push(edge(
                    &models[rng.random_range(0..models.len())],
                    &dashboard,
                    vec![],
                ));
            }
        }
    }
    // The same (from, to) may have been drawn twice; the store keeps one edge per key.
    let mut seen = std::collections::HashSet::new();
    edges.retain(|e| seen.insert((e.key.from.clone(), e.key.to.clone())));
    let edge_count = edges.len();
    for (i, batch) in edges.chunks(EDGE_BATCH).enumerate() {
        store.put_edges(ACTOR, batch.to_vec()).await?;
        if i % 20 == 19 {
            progress(format!(
                "{} of {edge_count} edges written",
                (i + 1) * EDGE_BATCH
            ));
        }
    }
    progress(format!("{edge_count} edges"));
    let (hot_columns, typical_columns) = shape.root_columns();
    Ok(Generated {
        hot_columns,
        typical_columns,
        entities: entities + 1 + layers,
        edges: edge_count,
    })
}
