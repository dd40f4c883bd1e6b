//! The graph's shape and how catalog changes apply to it.
//!
//! Nodes are entities, soft-deleted ones included (marked dead, so a restore brings their
//! lineage back). Links are containment (parent → child), lineage edges as stored, and
//! column-to-column links derived from an edge's column mapping. Names are stored, not
//! FQNs: an FQN is rebuilt from the parent chain when a result needs it, which keeps a
//! million-column graph small.

use std::collections::HashMap;

use petgraph::Direction;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use tributary_catalog::{Edge, Entity, EntityKind, Fqn};
use uuid::Uuid;

/// A node's index in the graph; stable across removals.
pub type NodeId = NodeIndex<u32>;

/// An entity as the graph keeps it.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: Uuid,
    pub kind: EntityKind,
    pub name: Box<str>,
    pub parent: Option<NodeId>,
    /// Index into the owner names, see [`LineageGraph::owner_name`].
    pub owner: Option<u32>,
    pub live: bool,
}

/// A lineage link between two nodes. Containment is not a link: it is the node's
/// `parent` and the graph's children index, so that walking a model's lineage never steps
/// over its hundreds of features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// A stored lineage edge. `mapped` says it lists which columns flow, so a single
    /// broken column reaches downstream only through its own mappings.
    Lineage { source: u32, mapped: bool },
    /// Column to column, derived from a lineage edge's column mapping.
    Column { source: u32 },
}

/// The links one stored edge produced, to remove or replace them together.
#[derive(Debug, Default)]
struct EdgeLinks {
    links: Vec<EdgeIndex<u32>>,
    /// Endpoints, when the edge waits for one of them to be loaded.
    waiting_on: Option<Uuid>,
}

/// Sizes, for logs and the memory report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct GraphStats {
    pub nodes: usize,
    pub live_nodes: usize,
    pub links: usize,
    pub lineage_edges: usize,
}

/// Where the graph's memory goes, estimated from its structures' sizes and capacities
/// (allocator overhead not included; compare with the process's resident memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct MemoryEstimate {
    pub nodes: usize,
    /// Node slots, their names, the id → node index and the children index.
    pub node_bytes: usize,
    pub links: usize,
    /// Link slots, and the stored edge → links index.
    pub link_bytes: usize,
}

impl MemoryEstimate {
    pub fn bytes_per_node(&self) -> f64 {
        self.node_bytes as f64 / self.nodes.max(1) as f64
    }

    pub fn bytes_per_link(&self) -> f64 {
        self.link_bytes as f64 / self.links.max(1) as f64
    }
}

/// See [`LineageGraph::fqn_cache`].
pub struct FqnCache<'g> {
    graph: &'g LineageGraph,
    memo: rustc_hash::FxHashMap<NodeId, std::sync::Arc<str>>,
}

impl FqnCache<'_> {
    pub fn get(&mut self, node: NodeId) -> std::sync::Arc<str> {
        if let Some(text) = self.memo.get(&node) {
            return text.clone();
        }
        let n = &self.graph.g[node];
        let mut text = match n.parent {
            Some(parent) => {
                let parent = self.get(parent);
                let mut text = String::with_capacity(parent.len() + 1 + n.name.len());
                text.push_str(&parent);
                text.push('.');
                text
            }
            None => String::with_capacity(n.name.len()),
        };
        tributary_catalog::fqn::push_valid_part(&mut text, &n.name);
        let text: std::sync::Arc<str> = text.into();
        self.memo.insert(node, text.clone());
        text
    }
}

/// Interned strings (team names, edge sources): most nodes share a few of them.
#[derive(Debug, Default)]
struct Interner {
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.into());
        self.index.insert(name.into(), i);
        i
    }

    fn get(&self, i: u32) -> &str {
        &self.names[i as usize]
    }
}

#[derive(Debug, Default)]
pub struct LineageGraph {
    pub(crate) g: StableDiGraph<Node, Link, u32>,
    by_id: HashMap<Uuid, NodeId>,
    edges: HashMap<Uuid, EdgeLinks>,
    /// Edges whose endpoint is not loaded yet, by the missing entity's id.
    dangling: HashMap<Uuid, Vec<Edge>>,
    /// Children whose parent is not loaded yet, by the parent's id.
    orphans: HashMap<Uuid, Vec<NodeId>>,
    /// Every node's children (live or not), for the nodes that have any.
    contents: HashMap<NodeId, Vec<NodeId>>,
    owners: Interner,
    sources: Interner,
    live_nodes: usize,
}

impl LineageGraph {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> GraphStats {
        GraphStats {
            nodes: self.g.node_count(),
            live_nodes: self.live_nodes,
            links: self.g.edge_count(),
            lineage_edges: self.edges.len(),
        }
    }

    /// How many live entities of each kind the graph holds.
    pub fn live_kinds(&self) -> HashMap<EntityKind, usize> {
        let mut counts = HashMap::new();
        for node in self.g.node_weights().filter(|n| n.live) {
            *counts.entry(node.kind).or_insert(0) += 1;
        }
        counts
    }

    /// An estimate of the memory the graph holds; see [`MemoryEstimate`].
    pub fn memory(&self) -> MemoryEstimate {
        use std::mem::size_of;
        let (node_slots, link_slots) = self.g.capacity();
        let names: usize = self.g.node_weights().map(|n| n.name.len()).sum();
        // A hashbrown slot is the entry plus one control byte.
        let id_index = self.by_id.capacity() * (size_of::<(Uuid, NodeId)>() + 1);
        let contents = self.contents.capacity() * (size_of::<(NodeId, Vec<NodeId>)>() + 1)
            + self
                .contents
                .values()
                .map(|c| c.capacity() * size_of::<NodeId>())
                .sum::<usize>();
        let edge_index = self.edges.capacity() * (size_of::<(Uuid, EdgeLinks)>() + 1)
            + self
                .edges
                .values()
                .map(|e| e.links.capacity() * size_of::<EdgeIndex<u32>>())
                .sum::<usize>();
        MemoryEstimate {
            nodes: self.g.node_count(),
            node_bytes: node_slots * size_of::<petgraph::graph::Node<Option<Node>, u32>>()
                + names
                + id_index
                + contents,
            links: self.g.edge_count(),
            link_bytes: link_slots * size_of::<petgraph::graph::Edge<Option<Link>, u32>>()
                + edge_index,
        }
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.g[id]
    }

    /// The live node of an entity.
    pub fn find(&self, id: Uuid) -> Option<NodeId> {
        self.by_id.get(&id).copied().filter(|&n| self.g[n].live)
    }

    /// The live entities with a lineage edge into `node` (a feature's source columns),
    /// each once, in edge order.
    pub fn direct_sources(&self, node: NodeId) -> Vec<NodeId> {
        let mut sources: Vec<NodeId> = Vec::new();
        for edge in self.g.edges_directed(node, Direction::Incoming) {
            let from = edge.source();
            if self.g[from].live && !sources.contains(&from) {
                sources.push(from);
            }
        }
        sources.reverse();
        sources
    }

    pub fn owner_name(&self, node: NodeId) -> Option<&str> {
        self.g[node].owner.map(|o| self.owners.get(o))
    }

    pub fn source_name(&self, source: u32) -> &str {
        self.sources.get(source)
    }

    /// The node's FQN text, rebuilt from the parent chain without re-validating names.
    pub fn fqn_text(&self, node: NodeId) -> String {
        let mut parts: Vec<&str> = Vec::with_capacity(5);
        let mut next = Some(node);
        while let Some(n) = next {
            parts.push(&self.g[n].name);
            next = self.g[n].parent;
        }
        parts.reverse();
        tributary_catalog::fqn::format_valid_parts(&parts)
    }

    /// A cache of FQN texts for building many results: each node's text is its parent's
    /// plus its own name, so shared ancestors (a model, a table) are formatted once.
    pub fn fqn_cache(&self) -> FqnCache<'_> {
        FqnCache {
            graph: self,
            memo: rustc_hash::FxHashMap::default(),
        }
    }

    /// The node's FQN, rebuilt from the parent chain.
    pub fn fqn(&self, node: NodeId) -> Fqn {
        let mut parts = Vec::with_capacity(5);
        let mut next = Some(node);
        while let Some(n) = next {
            parts.push(self.g[n].name.to_string());
            next = self.g[n].parent;
        }
        parts.reverse();
        Fqn::from_parts(parts).expect("stored names are valid FQN parts")
    }

    /// Adds or updates an entity (live or soft-deleted).
    pub fn apply_entity(&mut self, entity: &Entity) {
        let owner = entity.owner.as_deref().map(|o| self.owners.intern(o));
        let live = entity.is_live();
        if let Some(&n) = self.by_id.get(&entity.id) {
            let node = &mut self.g[n];
            if node.live != live {
                if live {
                    self.live_nodes += 1;
                } else {
                    self.live_nodes -= 1;
                }
            }
            node.live = live;
            node.owner = owner;
            return;
        }
        let parent = entity.parent_id.and_then(|p| self.by_id.get(&p).copied());
        let n = self.g.add_node(Node {
            id: entity.id,
            kind: entity.kind,
            name: entity.name.as_str().into(),
            parent,
            owner,
            live,
        });
        self.by_id.insert(entity.id, n);
        if live {
            self.live_nodes += 1;
        }
        match (entity.parent_id, parent) {
            (Some(_), Some(p)) => self.contents.entry(p).or_default().push(n),
            (Some(missing), None) => self.orphans.entry(missing).or_default().push(n),
            _ => {}
        }
        if let Some(children) = self.orphans.remove(&entity.id) {
            for child in children {
                self.g[child].parent = Some(n);
                self.contents.entry(n).or_default().push(child);
            }
        }
        if let Some(waiting) = self.dangling.remove(&entity.id) {
            for edge in waiting {
                // Column mappings were resolved when the edge first arrived; without them
                // here the edge still links at table level, which over- rather than
                // under-reports impact.
                self.apply_edge(&edge, &HashMap::new());
            }
        }
    }

    /// Adds or replaces a lineage edge. `columns` resolves the FQNs of its column mapping
    /// to entity ids; mappings naming unknown columns are skipped.
    pub fn apply_edge(&mut self, edge: &Edge, columns: &HashMap<String, Uuid>) {
        self.remove_edge(edge.id);
        let (Some(&from), Some(&to)) = (self.by_id.get(&edge.from_id), self.by_id.get(&edge.to_id))
        else {
            let missing = if self.by_id.contains_key(&edge.from_id) {
                edge.to_id
            } else {
                edge.from_id
            };
            self.dangling.entry(missing).or_default().push(edge.clone());
            self.edges.insert(
                edge.id,
                EdgeLinks {
                    links: Vec::new(),
                    waiting_on: Some(missing),
                },
            );
            return;
        };
        let source = self.sources.intern(&edge.source);
        let mut links = vec![self.g.add_edge(
            from,
            to,
            Link::Lineage {
                source,
                mapped: !edge.columns.is_empty(),
            },
        )];
        for mapping in &edge.columns {
            let Some(to_col) = columns
                .get(mapping.to.as_str())
                .and_then(|id| self.by_id.get(id))
                .copied()
            else {
                continue;
            };
            for from_col in &mapping.from {
                if let Some(&from_col) = columns
                    .get(from_col.as_str())
                    .and_then(|id| self.by_id.get(id))
                {
                    links.push(self.g.add_edge(from_col, to_col, Link::Column { source }));
                }
            }
        }
        self.edges.insert(
            edge.id,
            EdgeLinks {
                links,
                waiting_on: None,
            },
        );
    }

    /// Removes a lineage edge and the column links derived from it.
    pub fn remove_edge(&mut self, edge_id: Uuid) {
        let Some(old) = self.edges.remove(&edge_id) else {
            return;
        };
        for link in old.links {
            self.g.remove_edge(link);
        }
        if let Some(missing) = old.waiting_on
            && let Some(waiting) = self.dangling.get_mut(&missing)
        {
            waiting.retain(|e| e.id != edge_id);
        }
    }

    /// Outgoing or incoming links of a node, with the node at the other end.
    pub(crate) fn links(
        &self,
        n: NodeId,
        dir: Direction,
    ) -> impl Iterator<Item = (NodeId, Link)> + '_ {
        self.g.edges_directed(n, dir).map(move |e| {
            let other = if dir == Direction::Outgoing {
                e.target()
            } else {
                e.source()
            };
            (other, *e.weight())
        })
    }

    /// Live children of a node.
    pub(crate) fn children(&self, n: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.contents
            .get(&n)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |&c| self.g[c].live)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::Utc;
    use serde_json::json;
    use tributary_catalog::ColumnMapping;

    use super::*;

    /// Builds entities and edges by FQN for tests.
    #[derive(Default)]
    pub struct Builder {
        pub graph: LineageGraph,
        pub ids: HashMap<String, Uuid>,
    }

    impl Builder {
        pub fn entity(&mut self, kind: EntityKind, fqn: &str) -> Uuid {
            self.entity_owned(kind, fqn, None)
        }

        pub fn entity_owned(&mut self, kind: EntityKind, fqn: &str, owner: Option<&str>) -> Uuid {
            let f = Fqn::parse(fqn).unwrap();
            let id = Uuid::now_v7();
            let parent_id = f.parent().map(|p| self.ids[p.as_str()]);
            let now = Utc::now();
            self.graph.apply_entity(&Entity {
                id,
                kind,
                name: f.name().to_owned(),
                fqn: f,
                parent_id,
                display_name: None,
                description: None,
                owner: owner.map(Into::into),
                tags: vec![],
                attrs: json!({}),
                source: "test".into(),
                version: 1,
                created_at: now,
                updated_at: now,
                deleted_at: None,
            });
            self.ids.insert(fqn.to_owned(), id);
            id
        }

        pub fn edge(&mut self, from: &str, to: &str, columns: &[(&str, &str)]) -> Uuid {
            let id = Uuid::now_v7();
            let now = Utc::now();
            let edge = Edge {
                id,
                from_id: self.ids[from],
                to_id: self.ids[to],
                from: Fqn::parse(from).unwrap(),
                to: Fqn::parse(to).unwrap(),
                source: "test".into(),
                columns: columns
                    .iter()
                    .map(|(f, t)| ColumnMapping {
                        from: vec![Fqn::parse(f).unwrap()],
                        to: Fqn::parse(t).unwrap(),
                        function: None,
                    })
                    .collect(),
                transform: None,
                created_at: now,
                updated_at: now,
            };
            let resolved = self.ids.clone();
            self.graph.apply_edge(&edge, &resolved);
            id
        }

        pub fn node(&self, fqn: &str) -> NodeId {
            self.graph.by_id[&self.ids[fqn]]
        }
    }

    #[test]
    fn fqns_are_rebuilt_from_names_with_quoting() {
        let mut b = Builder::default();
        b.entity(EntityKind::Service, "svc");
        b.entity(EntityKind::Database, "svc.\"db.v2\"");
        assert_eq!(
            b.graph.fqn(b.node("svc.\"db.v2\"")).as_str(),
            "svc.\"db.v2\""
        );
    }

    #[test]
    fn replacing_an_edge_replaces_its_column_links() {
        let mut b = Builder::default();
        b.entity(EntityKind::Service, "s");
        b.entity(EntityKind::Database, "s.d");
        b.entity(EntityKind::Schema, "s.d.x");
        for t in ["a", "b"] {
            b.entity(EntityKind::Table, &format!("s.d.x.{t}"));
            b.entity(EntityKind::Column, &format!("s.d.x.{t}.c"));
        }
        let before = b.graph.stats().links;
        assert_eq!(before, 0, "containment is not a link");
        let id = b.edge("s.d.x.a", "s.d.x.b", &[("s.d.x.a.c", "s.d.x.b.c")]);
        assert_eq!(b.graph.stats().links, before + 2);
        b.graph.remove_edge(id);
        assert_eq!(b.graph.stats().links, before);
    }
}
