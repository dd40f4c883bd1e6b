//! Tributary's catalog domain: what the catalog holds and the rules its names follow.
//!
//! No I/O lives here. The store persists these types, the server speaks them over HTTP,
//! and connectors produce them.
#![forbid(unsafe_code)]

pub mod edge;
pub mod entity;
pub mod error;
pub mod fqn;
pub mod kind;
pub mod name;
pub mod role;
pub mod service;
pub mod team;

pub use edge::{ColumnMapping, Edge, EdgeDraft, EdgeKey};
pub use entity::{Entity, EntityDraft};
pub use error::CatalogError;
pub use fqn::Fqn;
pub use kind::EntityKind;
pub use name::validate_name;
pub use role::Role;
pub use service::{ConnectionConfig, REDACTED, ServiceType};
pub use team::{Team, TeamDraft};
