//! Impact checked against an independent computation: a plain Dijkstra over the raw rows
//! the store holds (entities with parents, edges with column mappings), written here from
//! the rules alone, on a random catalog of over 50,000 entities with cycles.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use tributary_catalog::{EntityKind, Fqn};
use tributary_graph::ImpactQuery;
use tributary_server::live_graph::LiveGraph;
use tributary_server::synthetic::{CatalogShape, ColumnLineage, NameStyle, generate};
use tributary_store::Store;
use tributary_store::testing::ScratchStore;
use uuid::Uuid;

#[derive(Default)]
struct Oracle {
    kind: HashMap<Uuid, EntityKind>,
    parent: HashMap<Uuid, Uuid>,
    children: HashMap<Uuid, Vec<Uuid>>,
    /// Lineage steps: edges, and column pairs of column mappings.
    lineage: HashMap<Uuid, Vec<Uuid>>,
    /// Edges that map columns, by their source: a table does not flow through them whole.
    mapped: HashSet<(Uuid, Uuid)>,
    /// Table edges without a column mapping, by their source table.
    unmapped: HashMap<Uuid, Vec<Uuid>>,
}

impl Oracle {
    async fn read(store: &dyn Store) -> Oracle {
        let mut o = Oracle::default();
        let mut by_fqn = HashMap::new();
        let mut after = None;
        loop {
            let batch = store.scan_entities(after, 5000).await.unwrap();
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            for e in batch {
                o.kind.insert(e.id, e.kind);
                by_fqn.insert(e.fqn.to_string(), e.id);
                if let Some(p) = e.parent_id {
                    o.parent.insert(e.id, p);
                    o.children.entry(p).or_default().push(e.id);
                }
            }
        }
        let mut after = None;
        loop {
            let batch = store.scan_edges(after, 5000).await.unwrap();
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            for e in batch {
                o.lineage.entry(e.from_id).or_default().push(e.to_id);
                if e.columns.is_empty() {
                    o.unmapped.entry(e.from_id).or_default().push(e.to_id);
                } else {
                    o.mapped.insert((e.from_id, e.to_id));
                }
                for m in &e.columns {
                    for from in &m.from {
                        o.lineage
                            .entry(by_fqn[from.as_str()])
                            .or_default()
                            .push(by_fqn[m.to.as_str()]);
                    }
                }
            }
        }
        o
    }

    /// Every (next, cost) step out of `n`, by the documented rules.
    fn steps(&self, n: Uuid) -> Vec<(Uuid, u32)> {
        let table = self.kind[&n] == EntityKind::Table;
        let mut out: Vec<(Uuid, u32)> = self
            .lineage
            .get(&n)
            .into_iter()
            .flatten()
            .filter(|&&m| {
                !(table
                    && self.mapped.contains(&(n, m))
                    && !self.unmapped.get(&n).is_some_and(|u| u.contains(&m)))
            })
            .map(|&m| (m, 1))
            .collect();
        match self.kind[&n] {
            EntityKind::Service | EntityKind::Database | EntityKind::Schema | EntityKind::Table => {
                out.extend(self.children.get(&n).into_iter().flatten().map(|&c| (c, 0)));
            }
            EntityKind::Feature => out.push((self.parent[&n], 1)),
            EntityKind::Column => {
                out.extend(
                    self.unmapped
                        .get(&self.parent[&n])
                        .into_iter()
                        .flatten()
                        .map(|&m| (m, 1)),
                );
            }
            _ => {}
        }
        out.retain(|(m, _)| self.kind.contains_key(m));
        out
    }

    fn distances(&self, root: Uuid) -> HashMap<Uuid, u32> {
        let mut dist = HashMap::from([(root, 0)]);
        let mut heap = BinaryHeap::from([Reverse((0u32, root))]);
        while let Some(Reverse((d, n))) = heap.pop() {
            if dist[&n] < d {
                continue;
            }
            for (m, cost) in self.steps(n) {
                if dist.get(&m).is_none_or(|&old| d + cost < old) {
                    dist.insert(m, d + cost);
                    heap.push(Reverse((d + cost, m)));
                }
            }
        }
        // Tables are hit through their nearest hit column when not broken whole.
        let mut columns: Vec<(u32, Uuid)> = dist
            .iter()
            .filter(|&(&n, _)| n != root && self.kind[&n] == EntityKind::Column)
            .map(|(&n, &d)| (d, n))
            .collect();
        columns.sort();
        for (d, column) in columns {
            dist.entry(self.parent[&column]).or_insert(d);
        }
        dist.remove(&root);
        dist
    }
}

async fn impact_matches_the_oracle(scratch: ScratchStore) {
    let store = scratch.store.as_ref();
    let shape = CatalogShape {
        marts: 1000,
        columns_per_mart: 40,
        layers: 4,
        upstreams_per_mart: 2,
        unmapped_share: 0.05,
        cycles: 5,
        models: 300,
        features_per_model: 30,
        hot_columns: 5,
        hot_share: 0.4,
        dashboards: 50,
        teams: 6,
        unowned_share: 0.1,
        column_lineage: ColumnLineage::Mapped,
        names: NameStyle::Numbered,
        seed: 42,
    };
    let generated = generate(store, &shape, |_| {}).await.unwrap();
    assert!(
        generated.entities >= 50_000,
        "{} entities",
        generated.entities
    );
    let live = LiveGraph::load(store).await.unwrap();
    let oracle = Oracle::read(store).await;
    assert!(oracle.kind.len() >= 50_000);

    let mut roots: Vec<Fqn> = generated.hot_columns.clone();
    roots.extend(generated.typical_columns.iter().take(5).cloned());
    for fqn in [
        "warehouse.dwh.layer_1.mart_00001",
        "warehouse.dwh.layer_0",
        "warehouse",
        "registry.model_00007.f_000",
        "registry.model_00007",
        "warehouse.dwh.layer_2.mart_00002.c_017",
    ] {
        roots.push(Fqn::parse(fqn).unwrap());
    }
    let everything = ImpactQuery {
        max_depth: None,
        kinds: EntityKind::ALL.to_vec(),
        limit: usize::MAX,
    };
    let mut compared = 0;
    for fqn in &roots {
        let root = store.get_entity(fqn).await.unwrap().id;
        let expected = oracle.distances(root);
        let graph = live.read();
        let impact = graph.impact(root, &everything).unwrap();
        let got: HashMap<Uuid, u32> = impact
            .hits
            .iter()
            .map(|h| (graph.node(h.node).id, h.distance))
            .collect();
        assert_eq!(
            got.len(),
            expected.len(),
            "{fqn}: reached a different number of entities"
        );
        assert!(got == expected, "{fqn}: distances differ from the oracle");
        for hit in &impact.hits {
            let ids: Vec<Uuid> = hit.path.iter().map(|&n| graph.node(n).id).collect();
            assert_eq!(
                (ids[0], *ids.last().unwrap()),
                (root, graph.node(hit.node).id)
            );
            let cost: u32 = ids
                .windows(2)
                .map(|w| {
                    // The last step may climb from a hit column to its table.
                    if w[1] == *ids.last().unwrap()
                        && oracle.kind[&w[0]] == EntityKind::Column
                        && oracle.parent.get(&w[0]) == Some(&w[1])
                    {
                        return 0;
                    }
                    oracle
                        .steps(w[0])
                        .iter()
                        .filter(|(m, _)| *m == w[1])
                        .map(|(_, c)| *c)
                        .min()
                        .unwrap_or_else(|| {
                            panic!("{fqn}: the path takes a step that is not in the catalog")
                        })
                })
                .sum();
            assert_eq!(cost, hit.distance, "{fqn}: the path is not a shortest one");
        }
        compared += expected.len();
    }
    let hot = store
        .get_entity(&generated.hot_columns[0])
        .await
        .unwrap()
        .id;
    let models_hit: HashSet<Uuid> = {
        let graph = live.read();
        graph
            .impact(hot, &everything)
            .unwrap()
            .hits
            .iter()
            .filter(|h| graph.node(h.node).kind == EntityKind::MlModel)
            .map(|h| graph.node(h.node).id)
            .collect()
    };
    assert!(
        models_hit.len() >= 10,
        "a hot column feeds many models ({})",
        models_hit.len()
    );
    eprintln!(
        "{} roots, {compared} (entity, distance) pairs matched the oracle",
        roots.len()
    );
}

#[tokio::test]
async fn on_sqlite() {
    impact_matches_the_oracle(tributary_store::testing::sqlite().await).await;
}

#[tokio::test]
async fn on_postgres() {
    if let Some(scratch) = tributary_store::testing::postgres().await {
        impact_matches_the_oracle(scratch).await;
    }
}
