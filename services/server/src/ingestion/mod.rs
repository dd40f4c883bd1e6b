//! Pulling services on their schedules: one run at a time per service across replicas (a
//! lease row), each run a connector's snapshot reconciled batch by batch, then a sweep of
//! what the source no longer holds; the run's history kept in the store.
//!
//! [`Ingestion`] starts runs (for the API, the CLI and the [`scheduler`]); [`run`] carries
//! one out.

pub mod run;
pub mod scheduler;
pub mod settings;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tributary_catalog::{ConnectionConfig, Entity, EntityKind, Fqn, ServiceType};
use tributary_connectors::{Connector, ConnectorError};
use tributary_store::{IngestionRun, RunTrigger, Store, StoreError};
use uuid::Uuid;

pub use run::RunProgress;
pub use scheduler::{Clock, Scheduler, SystemClock};
pub use settings::IngestionSettings;

/// `[ingestion]` in the server's config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestionConfig {
    /// Whether this replica runs services on their schedules (API and CLI runs work either way).
    pub scheduler: bool,
    /// How often the scheduler looks for services that came due.
    #[serde(rename = "tick_interval_ms", with = "crate::notifier::millis")]
    pub tick_interval: Duration,
    /// How long a replica's claim on a running service lasts without renewal; renewed
    /// every third of it while the run goes on.
    #[serde(rename = "lease_ms", with = "crate::notifier::millis")]
    pub lease: Duration,
    /// A run's time limit when the service sets none.
    #[serde(rename = "run_timeout_ms", with = "crate::notifier::millis")]
    pub run_timeout: Duration,
    /// Further attempts after a transient failure, when the service sets none.
    pub retries: u32,
    /// The wait before the first retry; it doubles with each further one.
    #[serde(rename = "retry_backoff_ms", with = "crate::notifier::millis")]
    pub retry_backoff: Duration,
    /// Entities (and edges) soft-deleted per transaction at the end of a run.
    pub sweep_batch: u32,
}

impl Default for IngestionConfig {
    fn default() -> Self {
        IngestionConfig {
            scheduler: true,
            tick_interval: Duration::from_secs(15),
            lease: Duration::from_secs(60),
            run_timeout: Duration::from_secs(60 * 60),
            retries: 2,
            retry_backoff: Duration::from_secs(5),
            sweep_batch: 1000,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("service {0} not found")]
    NotFound(Fqn),
    #[error(
        "service {service} is a {service_type} service; there is no connector to pull it (push its entities through the API or lineage documents)"
    )]
    NoConnector {
        service: Fqn,
        service_type: &'static str,
    },
    #[error("a run of service {service} is in progress (on {holder}); wait for it to finish")]
    Busy { service: Fqn, holder: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Starts and tracks the runs of this replica.
pub struct Ingestion {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: IngestionConfig,
    pub(crate) clock: Arc<dyn Clock>,
    /// This replica's name in leases and run records.
    pub(crate) holder: String,
    /// Services running in this process: never two runs of one at once, even before the
    /// lease is asked for.
    running: Mutex<HashSet<Uuid>>,
}

/// A service with its run row written and its lease held, ready to pull.
pub struct BegunRun {
    pub run: IngestionRun,
    pub service: Entity,
    pub settings: IngestionSettings,
    connection: ConnectionConfig,
    connector: Result<Box<dyn Connector>, ConnectorError>,
    _running: RunningGuard,
}

/// Takes the service out of the running set when the run ends, however it ends.
struct RunningGuard {
    ingestion: Arc<Ingestion>,
    service: Uuid,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.ingestion
            .running
            .lock()
            .expect("running set")
            .remove(&self.service);
    }
}

impl Ingestion {
    pub fn new(
        store: Arc<dyn Store>,
        config: IngestionConfig,
        clock: Arc<dyn Clock>,
        holder: impl Into<String>,
    ) -> Arc<Ingestion> {
        Arc::new(Ingestion {
            store,
            config,
            clock,
            holder: holder.into(),
            running: Mutex::new(HashSet::new()),
        })
    }

    /// A replica name that tells people which host and process ran something.
    pub fn default_holder() -> String {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        format!("{host}:{}", std::process::id())
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Whether a run of the service is going on in this process.
    pub fn is_running(&self, service: Uuid) -> bool {
        self.running.lock().expect("running set").contains(&service)
    }

    /// The service at `fqn`, if it has a connector.
    async fn pullable(&self, service: &Fqn) -> Result<(Entity, ServiceType), StartError> {
        let entity = match self.store.get_entity(service).await {
            Ok(e) if e.kind == EntityKind::Service => e,
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                return Err(StartError::NotFound(service.clone()));
            }
            Err(e) => return Err(e.into()),
        };
        let service_type: ServiceType =
            serde_json::from_value(entity.attrs["service_type"].clone())
                .map_err(|_| StartError::NotFound(service.clone()))?;
        if !matches!(service_type, ServiceType::Mlflow) {
            return Err(StartError::NoConnector {
                service: service.clone(),
                service_type: service_type.as_str(),
            });
        }
        Ok((entity, service_type))
    }

    /// Asks the service's source whether it answers and takes the credentials: `Err` with
    /// why not, worded for a person, with the connection's secrets scrubbed.
    pub async fn test_connection(&self, service: &Fqn) -> Result<Result<(), String>, StartError> {
        let (_, service_type) = self.pullable(service).await?;
        let connection = self.store.service_connection(service).await?;
        let outcome = match connector_for(service_type, service, &connection) {
            Ok(connector) => connector.test_connection().await,
            Err(err) => Err(err),
        };
        Ok(outcome.map_err(|e| run::scrub(e.to_string(), &connection)))
    }

    /// Claims the service (in this process, then by its lease) and records a run starting.
    /// `slot` is the cron slot a scheduled run serves: `Ok(None)` when another replica has
    /// served it already.
    pub async fn begin(
        self: &Arc<Self>,
        service: &Fqn,
        trigger: RunTrigger,
        slot: Option<DateTime<Utc>>,
    ) -> Result<Option<BegunRun>, StartError> {
        let (entity, service_type) = self.pullable(service).await?;
        {
            let mut running = self.running.lock().expect("running set");
            if !running.insert(entity.id) {
                return Err(StartError::Busy {
                    service: service.clone(),
                    holder: self.holder.clone(),
                });
            }
        }
        let guard = RunningGuard {
            ingestion: self.clone(),
            service: entity.id,
        };
        let now = self.clock.now();
        if !self
            .store
            .acquire_ingestion_lease(entity.id, &self.holder, now, self.config.lease)
            .await?
        {
            let holder = self
                .store
                .ingestion_runs(entity.id, 1)
                .await?
                .into_iter()
                .next()
                .map(|r| r.holder)
                .unwrap_or_else(|| "another replica".into());
            return Err(StartError::Busy {
                service: service.clone(),
                holder,
            });
        }
        if let Some(slot) = slot
            && self
                .store
                .last_scheduled_slot(entity.id)
                .await?
                .is_some_and(|served| served >= slot)
        {
            self.store
                .release_ingestion_lease(entity.id, &self.holder)
                .await?;
            return Ok(None);
        }
        let settings = IngestionSettings::of(&entity).unwrap_or_default();
        let connection = self.store.service_connection(service).await?;
        let connector = connector_for(service_type, service, &connection);
        let run = self
            .store
            .start_ingestion_run(entity.id, trigger, &self.holder, now, slot)
            .await?;
        Ok(Some(BegunRun {
            run,
            service: entity,
            settings,
            connection,
            connector,
            _running: guard,
        }))
    }
}

/// The connector of a service, built from its connection settings.
fn connector_for(
    service_type: ServiceType,
    service: &Fqn,
    connection: &ConnectionConfig,
) -> Result<Box<dyn Connector>, ConnectorError> {
    // reqwest is built without a default TLS provider; installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match service_type {
        ServiceType::Mlflow => {
            let config = tributary_mlflow::MlflowConfig::from_connection(connection)?;
            Ok(Box::new(tributary_mlflow::MlflowConnector::new(
                service.clone(),
                config,
            )?))
        }
        other => Err(ConnectorError::Config(format!(
            "no connector for {} services",
            other.as_str()
        ))),
    }
}
