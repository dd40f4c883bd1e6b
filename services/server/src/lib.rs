//! The `tributary` server: HTTP API, auth, OpenAPI, the demo catalog.
//!
//! `main.rs` only parses the command line and calls in here; everything testable lives here.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod applied_documents;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod demo;
pub mod error;
pub mod extract;
pub mod ingest_cli;
pub mod ingestion;
pub mod lineage_cli;
pub mod live_graph;
pub mod notifier;
pub mod state;
pub mod synthetic;
pub mod ui;
