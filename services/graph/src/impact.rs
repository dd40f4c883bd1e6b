//! Impact analysis: everything downstream of a broken entity, with the distance and one
//! shortest path to each.
//!
//! What counts as downstream:
//! - containment: a broken service, database, schema or table breaks what it contains
//!   (distance 0: it is the same breakage);
//! - lineage edges, each one hop. A table-to-table edge that maps columns carries only
//!   those columns: a broken table flows through it column by column, not as a whole, so
//!   the downstream table is hit where its columns are (and reported through them);
//! - a column also flows along its table's edges that name no columns, since without a
//!   mapping any column may be the one that flows;
//! - a feature feeds its model (one hop); a model feeds what its edges lead to.
//!
//! The walk is a 0-1 breadth-first search: cycle-safe, skipping soft-deleted nodes, never
//! touching the database.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::FxHashMap as HashMap;

use petgraph::Direction;
use tributary_catalog::EntityKind;

use crate::graph::{LineageGraph, Link, NodeId};

/// What to report.
#[derive(Debug, Clone)]
pub struct ImpactQuery {
    /// Stop after this many lineage hops; `None` walks to the end.
    pub max_depth: Option<u32>,
    /// Report only these kinds (all reached kinds are still counted).
    pub kinds: Vec<EntityKind>,
    /// Report at most this many hits, nearest first.
    pub limit: usize,
}

/// One entity hit, with how far and by which way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpactHit {
    pub node: NodeId,
    pub distance: u32,
    /// From the root to this node, both included.
    pub path: Vec<NodeId>,
}

#[derive(Debug, Clone)]
pub struct Impact {
    pub root: NodeId,
    /// Hits of the asked kinds, nearest first.
    pub hits: Vec<ImpactHit>,
    /// How many of each kind the walk reached (the root excluded).
    pub counts: BTreeMap<EntityKind, usize>,
    /// How many entities of the asked kinds the walk reached, before `limit`.
    pub matched: usize,
    /// Whether more hits of the asked kinds exist than `limit` let through.
    pub truncated: bool,
}

impl LineageGraph {
    /// Where a breakage at `n` flows next, with the cost of each step (0 or 1 hop).
    fn downstream_steps(&self, n: NodeId, mut visit: impl FnMut(NodeId, u32)) {
        let kind = self.g[n].kind;
        let contains_breaks = matches!(
            kind,
            EntityKind::Service | EntityKind::Database | EntityKind::Schema | EntityKind::Table
        );
        if contains_breaks {
            for child in self.children(n) {
                visit(child, 0);
            }
        }
        for (next, link) in self.links(n, Direction::Outgoing) {
            match link {
                // Its column links carry a mapped table edge.
                Link::Lineage { mapped: true, .. } if kind == EntityKind::Table => {}
                Link::Lineage { .. } | Link::Column { .. } => visit(next, 1),
            }
        }
        match kind {
            EntityKind::Feature => {
                if let Some(model) = self.g[n].parent {
                    visit(model, 1);
                }
            }
            EntityKind::Column => {
                if let Some(table) = self.g[n].parent {
                    for (next, link) in self.links(table, Direction::Outgoing) {
                        if let Link::Lineage { mapped: false, .. } = link {
                            visit(next, 1);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Shortest distances from `root` and the step each node was reached from.
    fn walk(
        &self,
        root: NodeId,
        max_depth: Option<u32>,
    ) -> (HashMap<NodeId, u32>, HashMap<NodeId, NodeId>) {
        let mut distance: HashMap<NodeId, u32> = HashMap::default();
        let mut previous: HashMap<NodeId, NodeId> = HashMap::default();
        let mut queue = VecDeque::new();
        distance.insert(root, 0);
        queue.push_back(root);
        while let Some(n) = queue.pop_front() {
            let d = distance[&n];
            self.downstream_steps(n, |next, cost| {
                if !self.g[next].live {
                    return;
                }
                let nd = d + cost;
                if max_depth.is_some_and(|max| nd > max) {
                    return;
                }
                if distance.get(&next).is_none_or(|&old| nd < old) {
                    distance.insert(next, nd);
                    previous.insert(next, n);
                    if cost == 0 {
                        queue.push_front(next);
                    } else {
                        queue.push_back(next);
                    }
                }
            });
        }
        // A table whose columns are hit is hit through its nearest one, though it is not
        // broken as a whole (nothing flows on from it as a table).
        let mut columns: Vec<(u32, NodeId)> = distance
            .iter()
            .filter(|&(&n, _)| n != root && self.g[n].kind == EntityKind::Column)
            .map(|(&n, &d)| (d, n))
            .collect();
        columns.sort_unstable_by_key(|&(d, n)| (d, n.index()));
        for (d, column) in columns {
            if let Some(table) = self.g[column].parent
                && self.g[table].live
                && !distance.contains_key(&table)
            {
                distance.insert(table, d);
                previous.insert(table, column);
            }
        }
        (distance, previous)
    }

    /// Ids of every entity downstream of the live entity `root` (the root excluded).
    pub fn reach(&self, root: uuid::Uuid, max_depth: Option<u32>) -> Option<Vec<uuid::Uuid>> {
        let root = self.find(root)?;
        let (distance, _) = self.walk(root, max_depth);
        Some(
            distance
                .keys()
                .filter(|&&n| n != root)
                .map(|&n| self.g[n].id)
                .collect(),
        )
    }

    /// Everything downstream of the live entity `root`, or `None` when it is not in the graph.
    pub fn impact(&self, root: uuid::Uuid, query: &ImpactQuery) -> Option<Impact> {
        let root = self.find(root)?;
        let (distance, previous) = self.walk(root, query.max_depth);

        let mut counts = BTreeMap::new();
        let mut matched = Vec::new();
        for (&n, &d) in &distance {
            if n == root {
                continue;
            }
            let kind = self.g[n].kind;
            *counts.entry(kind).or_insert(0) += 1;
            if query.kinds.contains(&kind) {
                matched.push((d, n));
            }
        }
        // Nearest first; ties by index, which is stable for a given graph.
        matched.sort_unstable_by_key(|&(d, n)| (d, n.index()));
        let total = matched.len();
        let truncated = total > query.limit;
        matched.truncate(query.limit);
        let hits = matched
            .into_iter()
            .map(|(d, n)| {
                let mut path = vec![n];
                let mut at = n;
                while let Some(&p) = previous.get(&at) {
                    path.push(p);
                    at = p;
                }
                path.reverse();
                ImpactHit {
                    node: n,
                    distance: d,
                    path,
                }
            })
            .collect();
        Some(Impact {
            root,
            hits,
            counts,
            matched: total,
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use tributary_catalog::EntityKind::*;

    use super::*;
    use crate::graph::tests::Builder;

    fn query(kinds: &[EntityKind]) -> ImpactQuery {
        ImpactQuery {
            max_depth: None,
            kinds: kinds.to_vec(),
            limit: 1000,
        }
    }

    /// hive.d.s.{raw,mart}: raw.x → mart.y (mapped), mart.y → m.f (feature) → m → dash.
    fn catalog() -> Builder {
        let mut b = Builder::default();
        b.entity(Service, "hive");
        b.entity(Database, "hive.d");
        b.entity(Schema, "hive.d.s");
        for t in ["raw", "mart"] {
            b.entity(Table, &format!("hive.d.s.{t}"));
        }
        b.entity(Column, "hive.d.s.raw.x");
        b.entity(Column, "hive.d.s.raw.other");
        b.entity(Column, "hive.d.s.mart.y");
        b.entity(Service, "ml");
        b.entity_owned(MlModel, "ml.m", Some("growth"));
        b.entity(Feature, "ml.m.f");
        b.entity(Dashboard, "ml.dash");
        b.edge(
            "hive.d.s.raw",
            "hive.d.s.mart",
            &[("hive.d.s.raw.x", "hive.d.s.mart.y")],
        );
        b.edge("hive.d.s.mart.y", "ml.m.f", &[]);
        b.edge("ml.m", "ml.dash", &[]);
        b
    }

    fn hit_names(b: &Builder, impact: &Impact) -> Vec<(String, u32)> {
        impact
            .hits
            .iter()
            .map(|h| (b.graph.fqn(h.node).to_string(), h.distance))
            .collect()
    }

    #[test]
    fn a_column_reaches_the_model_and_dashboard_by_its_mapping() {
        let b = catalog();
        let impact = b
            .graph
            .impact(b.ids["hive.d.s.raw.x"], &query(&[MlModel, Dashboard]))
            .unwrap();
        assert_eq!(
            hit_names(&b, &impact),
            [("ml.m".into(), 3), ("ml.dash".into(), 4)]
        );
        let path: Vec<String> = impact.hits[0]
            .path
            .iter()
            .map(|&n| b.graph.fqn(n).to_string())
            .collect();
        assert_eq!(
            path,
            ["hive.d.s.raw.x", "hive.d.s.mart.y", "ml.m.f", "ml.m"]
        );
    }

    #[test]
    fn an_unmapped_column_does_not_flow_through_a_mapped_edge() {
        let b = catalog();
        let impact = b
            .graph
            .impact(b.ids["hive.d.s.raw.other"], &query(&[MlModel]))
            .unwrap();
        assert!(impact.hits.is_empty());
    }

    #[test]
    fn a_broken_schema_breaks_its_tables_columns_and_what_they_feed() {
        let b = catalog();
        let impact = b
            .graph
            .impact(b.ids["hive.d.s"], &query(&[Table, MlModel]))
            .unwrap();
        let hits = hit_names(&b, &impact);
        assert!(hits.contains(&("hive.d.s.raw".into(), 0)));
        assert!(hits.contains(&("ml.m".into(), 2)), "{hits:?}");
        assert_eq!(impact.counts[&Column], 3);
    }

    #[test]
    fn a_broken_table_flows_through_mapped_edges_column_by_column() {
        let b = catalog();
        let impact = b
            .graph
            .impact(b.ids["hive.d.s.raw"], &query(&[Table, Column, MlModel]))
            .unwrap();
        let hits = hit_names(&b, &impact);
        assert!(hits.contains(&("hive.d.s.mart.y".into(), 1)), "{hits:?}");
        assert!(
            hits.contains(&("hive.d.s.mart".into(), 1)),
            "the table is hit through its column"
        );
        let mart = impact
            .hits
            .iter()
            .find(|h| b.graph.fqn(h.node).as_str() == "hive.d.s.mart")
            .unwrap();
        let path: Vec<String> = mart
            .path
            .iter()
            .map(|&n| b.graph.fqn(n).to_string())
            .collect();
        assert_eq!(
            path,
            [
                "hive.d.s.raw",
                "hive.d.s.raw.x",
                "hive.d.s.mart.y",
                "hive.d.s.mart"
            ]
        );
    }

    #[test]
    fn cycles_terminate_and_depth_is_honoured() {
        let mut b = catalog();
        b.edge("ml.dash", "hive.d.s.raw", &[]);
        let all = b
            .graph
            .impact(b.ids["ml.m"], &query(&[Dashboard, MlModel, Table]))
            .unwrap();
        assert!(hit_names(&b, &all).contains(&("hive.d.s.raw".into(), 2)));
        assert!(
            !all.hits.iter().any(|h| h.node == all.root),
            "the root is not its own hit"
        );
        let shallow = ImpactQuery {
            max_depth: Some(1),
            ..query(&[Dashboard, Table])
        };
        let near = b.graph.impact(b.ids["ml.m"], &shallow).unwrap();
        assert_eq!(hit_names(&b, &near), [("ml.dash".into(), 1)]);
    }

    #[test]
    fn soft_deleted_nodes_are_skipped() {
        let mut b = catalog();
        let mut entity = dead_entity(&b, "ml.m.f", Feature);
        entity.deleted_at = Some(chrono::Utc::now());
        b.graph.apply_entity(&entity);
        let impact = b
            .graph
            .impact(b.ids["hive.d.s.raw.x"], &query(&[MlModel]))
            .unwrap();
        assert!(impact.hits.is_empty());
        entity.deleted_at = None;
        b.graph.apply_entity(&entity);
        let impact = b
            .graph
            .impact(b.ids["hive.d.s.raw.x"], &query(&[MlModel]))
            .unwrap();
        assert_eq!(
            impact.hits.len(),
            1,
            "a restored node carries its lineage again"
        );
    }

    fn dead_entity(b: &Builder, fqn: &str, kind: EntityKind) -> tributary_catalog::Entity {
        let f = tributary_catalog::Fqn::parse(fqn).unwrap();
        let now = chrono::Utc::now();
        tributary_catalog::Entity {
            id: b.ids[fqn],
            kind,
            name: f.name().into(),
            parent_id: f.parent().map(|p| b.ids[p.as_str()]),
            fqn: f,
            display_name: None,
            description: None,
            owner: None,
            tags: vec![],
            attrs: serde_json::json!({}),
            source: "test".into(),
            version: 2,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }

    #[test]
    fn limits_truncate_nearest_first() {
        let b = catalog();
        let q = ImpactQuery {
            limit: 1,
            ..query(&[MlModel, Dashboard])
        };
        let impact = b.graph.impact(b.ids["hive.d.s.raw.x"], &q).unwrap();
        assert!(impact.truncated);
        assert_eq!(hit_names(&b, &impact), [("ml.m".into(), 3)]);
    }
}
