//! Tributary's in-memory lineage graph: every entity and lineage edge of the catalog, held
//! in a petgraph graph so that lineage and impact walks never query the database per hop.
//!
//! The graph does no I/O. The server loads it from the store, applies the change log to it,
//! and asks it questions: [`LineageGraph::impact`] (what breaks downstream of an entity,
//! and by which path) and [`LineageGraph::neighborhood`] (the lineage around an entity, at
//! table or column level, a page at a time).
#![forbid(unsafe_code)]

mod graph;
mod impact;
mod neighborhood;

pub use graph::{FqnCache, GraphStats, LineageGraph, Link, MemoryEstimate, Node, NodeId};
pub use impact::{Impact, ImpactHit, ImpactQuery};
pub use neighborhood::{Level, Neighborhood, NeighborhoodEdge, NeighborhoodQuery};
