//! The in-memory lineage graph (being written).
#![forbid(unsafe_code)]
