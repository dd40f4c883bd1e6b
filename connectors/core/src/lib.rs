//! What every connector shares.
//!
//! A connector reads a source system (MLflow, a Hive metastore, ClickHouse) and reports
//! what it holds; it never writes the catalog. It hands its snapshot over batch by batch
//! through a [`SnapshotSink`], so a source of a million columns never sits whole in memory:
//! the server reconciles each batch (one transaction) before the connector reads on, and at
//! the end of a run soft-deletes what this service reported before and no longer does.
//!
//! Ingestion runs on a [`Schedule`]: a cron pattern in a time zone.
#![forbid(unsafe_code)]

mod schedule;

use async_trait::async_trait;
use tributary_catalog::{EdgeDraft, EntityDraft};

pub use schedule::{Schedule, ScheduleError};

/// An entity as the source holds it, with the complete set of its children (a table and
/// its columns, a model and its features): children no longer listed are gone.
#[derive(Debug, Clone)]
pub struct SourceTree {
    pub root: EntityDraft,
    pub children: Vec<EntityDraft>,
}

/// One batch of a snapshot: entity trees, and the edges the source asserts among them and
/// towards what the catalog already holds.
#[derive(Debug, Clone, Default)]
pub struct SnapshotBatch {
    pub trees: Vec<SourceTree>,
    pub edges: Vec<EdgeDraft>,
}

/// Where a connector's snapshot goes.
#[async_trait]
pub trait SnapshotSink: Send {
    /// Takes one batch; returns once it is reconciled, so the connector's memory is bounded
    /// by a batch. An error ends the run.
    async fn accept(&mut self, batch: SnapshotBatch) -> Result<(), SinkError>;

    /// Something the run read past without using (a model without a signature, a dataset
    /// that maps to no table), shown with the run.
    fn warn(&mut self, warning: String);
}

/// A source system the catalog pulls metadata from.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Checks that the source answers and accepts the credentials.
    async fn test_connection(&self) -> Result<(), ConnectorError>;

    /// Reads everything the source holds and hands it to `sink`, batch by batch.
    async fn pull(&self, sink: &mut dyn SnapshotSink) -> Result<(), ConnectorError>;
}

/// Why the server could not take a batch.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Why a connection test or a pull failed, worded for the person reading the run.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("the service's connection settings are invalid: {0}")]
    Config(String),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} refused the credentials ({status}); check the service's connection settings")]
    Unauthorized { url: String, status: u16 },
    #[error("{url} answered {status}: {message}")]
    Source {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} answered something this connector cannot read: {reason}")]
    Unreadable { url: String, reason: String },
    #[error("the catalog could not take a batch: {0}")]
    Sink(#[from] SinkError),
}
