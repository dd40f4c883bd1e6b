//! The lineage around an entity, upstream and downstream to any depth, at table level
//! (columns folded into their tables, features into their models) or column level.
//!
//! Nodes come in a fixed order (the root, then nearer before farther, downstream before
//! upstream at the same distance), so a client can page through a huge neighbourhood with
//! an offset and each page's edges join it to the pages before.

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::Direction;
use tributary_catalog::EntityKind;

use crate::graph::{LineageGraph, Link, NodeId};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Table,
    Column,
}

#[derive(Debug, Clone)]
pub struct NeighborhoodQuery {
    pub upstream: u32,
    pub downstream: u32,
    pub level: Level,
}

/// An edge of the neighbourhood; at table level one edge stands for all the column edges
/// between two assets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborhoodEdge {
    pub from: NodeId,
    pub to: NodeId,
    /// Edge sources, sorted; `contains` marks a feature feeding its model.
    pub sources: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Neighborhood {
    pub root: NodeId,
    /// Every node in page order with its signed distance (negative upstream).
    pub nodes: Vec<(NodeId, i32)>,
    pub edges: Vec<NeighborhoodEdge>,
}

impl Neighborhood {
    /// Nodes `[offset, offset + limit)` and the edges that join them to each other and to
    /// the nodes of earlier pages.
    pub fn page(&self, offset: usize, limit: usize) -> (Vec<(NodeId, i32)>, Vec<NeighborhoodEdge>) {
        let end = (offset + limit).min(self.nodes.len());
        let start = offset.min(end);
        let position: HashMap<NodeId, usize> = self.nodes[..end]
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (*n, i))
            .collect();
        let edges = self
            .edges
            .iter()
            .filter(|e| match (position.get(&e.from), position.get(&e.to)) {
                (Some(&a), Some(&b)) => a >= start || b >= start,
                _ => false,
            })
            .cloned()
            .collect();
        (self.nodes[start..end].to_vec(), edges)
    }
}

impl LineageGraph {
    /// The node a member stands under at the given level.
    fn asset(&self, n: NodeId, level: Level) -> NodeId {
        match (level, self.g[n].kind) {
            (Level::Table, EntityKind::Column | EntityKind::Feature) => {
                self.g[n].parent.unwrap_or(n)
            }
            _ => n,
        }
    }

    /// Lineage neighbours of a node in one direction, at the given level.
    fn lineage_neighbours(
        &self,
        n: NodeId,
        dir: Direction,
        level: Level,
        mut visit: impl FnMut(NodeId, &'static str, u32),
    ) {
        let mut members = vec![n];
        if level == Level::Table
            && matches!(self.g[n].kind, EntityKind::Table | EntityKind::MlModel)
        {
            members.extend(self.children(n));
        }
        for m in members {
            for (other, link) in self.links(m, dir) {
                match link {
                    Link::Lineage { source, .. } | Link::Column { source } => {
                        visit(other, "", source)
                    }
                }
            }
            // At column level a feature feeds its model; show that step as an edge.
            if level == Level::Column {
                match (dir, self.g[m].kind) {
                    (Direction::Outgoing, EntityKind::Feature) => {
                        if let Some(model) = self.g[m].parent {
                            visit(model, "contains", 0);
                        }
                    }
                    (Direction::Incoming, EntityKind::MlModel) => {
                        for feature in self.children(m) {
                            visit(feature, "contains", 0);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The lineage around the live entity `root`, or `None` when it is not in the graph.
    pub fn neighborhood(
        &self,
        root: uuid::Uuid,
        query: &NeighborhoodQuery,
    ) -> Option<Neighborhood> {
        let root = self.asset(self.find(root)?, query.level);
        let mut seen: HashMap<NodeId, i32> = HashMap::from([(root, 0)]);
        let mut edges: HashMap<(NodeId, NodeId), HashSet<String>> = HashMap::new();
        let mut order = vec![(root, 0i32)];
        for (dir, depth, sign) in [
            (Direction::Outgoing, query.downstream, 1),
            (Direction::Incoming, query.upstream, -1),
        ] {
            let mut queue = VecDeque::from([(root, 0u32)]);
            let mut reached = HashSet::from([root]);
            while let Some((n, d)) = queue.pop_front() {
                if d >= depth {
                    continue;
                }
                let mut next_nodes = Vec::new();
                self.lineage_neighbours(n, dir, query.level, |other, label, source| {
                    if !self.g[other].live {
                        return;
                    }
                    let other = self.asset(other, query.level);
                    if other == n {
                        return;
                    }
                    let name = if label.is_empty() {
                        self.source_name(source).to_owned()
                    } else {
                        label.to_owned()
                    };
                    let key = if dir == Direction::Outgoing {
                        (n, other)
                    } else {
                        (other, n)
                    };
                    edges.entry(key).or_default().insert(name);
                    next_nodes.push(other);
                });
                next_nodes.sort_unstable_by_key(|n| n.index());
                next_nodes.dedup();
                for other in next_nodes {
                    if reached.insert(other) {
                        queue.push_back((other, d + 1));
                        if let std::collections::hash_map::Entry::Vacant(slot) = seen.entry(other) {
                            let distance = sign * (d as i32 + 1);
                            slot.insert(distance);
                            order.push((other, distance));
                        }
                    }
                }
            }
        }
        // Nearer first, downstream before upstream at equal distance; BFS order within.
        let rank: HashMap<NodeId, usize> = order
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (*n, i))
            .collect();
        order.sort_by_key(|&(n, d)| (d.unsigned_abs(), d < 0, rank[&n]));
        let mut edges: Vec<NeighborhoodEdge> = edges
            .into_iter()
            .filter(|((a, b), _)| seen.contains_key(a) && seen.contains_key(b))
            .map(|((from, to), sources)| {
                let mut sources: Vec<String> = sources.into_iter().collect();
                sources.sort();
                NeighborhoodEdge { from, to, sources }
            })
            .collect();
        edges.sort_by_key(|e| (rank[&e.from], rank[&e.to]));
        Some(Neighborhood {
            root,
            nodes: order,
            edges,
        })
    }
}

#[cfg(test)]
mod tests {
    use tributary_catalog::EntityKind::*;

    use super::*;
    use crate::graph::tests::Builder;

    fn wide(fan_out: usize) -> Builder {
        let mut b = Builder::default();
        b.entity(Service, "s");
        b.entity(Database, "s.d");
        b.entity(Schema, "s.d.x");
        b.entity(Table, "s.d.x.hub");
        b.entity(Column, "s.d.x.hub.c");
        b.entity(Table, "s.d.x.up");
        b.edge("s.d.x.up", "s.d.x.hub", &[]);
        for i in 0..fan_out {
            let t = format!("s.d.x.t{i:05}");
            b.entity(Table, &t);
            b.edge("s.d.x.hub", &t, &[]);
        }
        b
    }

    fn q(up: u32, down: u32, level: Level) -> NeighborhoodQuery {
        NeighborhoodQuery {
            upstream: up,
            downstream: down,
            level,
        }
    }

    #[test]
    fn pages_of_a_huge_fan_out_cover_every_node_once() {
        let b = wide(10_000);
        let hood = b
            .graph
            .neighborhood(b.ids["s.d.x.hub"], &q(1, 1, Level::Table))
            .unwrap();
        assert_eq!(hood.nodes.len(), 10_002);
        let mut seen = HashSet::new();
        let mut edge_count = 0;
        let mut offset = 0;
        while offset < hood.nodes.len() {
            let (nodes, edges) = hood.page(offset, 500);
            assert!(nodes.len() <= 500);
            for (n, _) in &nodes {
                assert!(seen.insert(*n), "a node came twice");
            }
            edge_count += edges.len();
            offset += 500;
        }
        assert_eq!(seen.len(), 10_002);
        assert_eq!(
            edge_count, 10_001,
            "every edge arrives exactly once, with its later end"
        );
        assert_eq!(hood.nodes[0], (hood.root, 0));
        assert_eq!(hood.nodes[1].1, 1, "downstream first at distance 1");
        assert_eq!(hood.nodes.last().unwrap().1, -1);
    }

    #[test]
    fn depth_limits_each_direction() {
        let mut b = wide(2);
        b.entity(Table, "s.d.x.far");
        b.edge("s.d.x.t00000", "s.d.x.far", &[]);
        let near = b
            .graph
            .neighborhood(b.ids["s.d.x.hub"], &q(0, 1, Level::Table))
            .unwrap();
        assert_eq!(near.nodes.len(), 3);
        let deep = b
            .graph
            .neighborhood(b.ids["s.d.x.hub"], &q(0, 9, Level::Table))
            .unwrap();
        assert_eq!(deep.nodes.len(), 4);
        assert_eq!(deep.nodes.last().unwrap().1, 2);
    }

    #[test]
    fn column_level_shows_column_edges_and_table_level_folds_them() {
        let mut b = Builder::default();
        b.entity(Service, "s");
        b.entity(Database, "s.d");
        b.entity(Schema, "s.d.x");
        for t in ["a", "b"] {
            b.entity(Table, &format!("s.d.x.{t}"));
            b.entity(Column, &format!("s.d.x.{t}.c"));
        }
        b.entity(Service, "ml");
        b.entity(MlModel, "ml.m");
        b.entity(Feature, "ml.m.f");
        b.edge("s.d.x.a", "s.d.x.b", &[("s.d.x.a.c", "s.d.x.b.c")]);
        b.edge("s.d.x.b.c", "ml.m.f", &[]);
        let cols = b
            .graph
            .neighborhood(b.ids["s.d.x.a.c"], &q(0, 5, Level::Column))
            .unwrap();
        let names: Vec<String> = cols
            .nodes
            .iter()
            .map(|(n, _)| b.graph.fqn(*n).to_string())
            .collect();
        assert_eq!(names, ["s.d.x.a.c", "s.d.x.b.c", "ml.m.f", "ml.m"]);
        let tables = b
            .graph
            .neighborhood(b.ids["s.d.x.a.c"], &q(0, 5, Level::Table))
            .unwrap();
        let names: Vec<String> = tables
            .nodes
            .iter()
            .map(|(n, _)| b.graph.fqn(*n).to_string())
            .collect();
        assert_eq!(names, ["s.d.x.a", "s.d.x.b", "ml.m"]);
        assert_eq!(tables.edges.len(), 2);
        let up = b
            .graph
            .neighborhood(b.ids["ml.m"], &q(5, 0, Level::Table))
            .unwrap();
        assert_eq!(
            up.nodes.len(),
            3,
            "the model's upstream comes through its features"
        );
    }
}
