//! Runs services when their cron schedules come due. Each tick looks at every scheduled
//! service: the latest slot at or before now that no run has served yet is started (a
//! replica that was down for three slots runs once, not three times). The slot is
//! recorded with the run, so another replica seeing the same slot after the lease is
//! released does not run it again.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tributary_catalog::{EntityKind, Fqn};
use tributary_store::{IngestionRun, ListQuery, RunTrigger, StoreError};

use super::{Ingestion, IngestionSettings, StartError};

/// Where time comes from: the wall clock in production, a hand-set one in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// How far back a service that has never run, or not for long, looks for its latest slot.
const LOOKBACK: TimeDelta = TimeDelta::days(31);

pub struct Scheduler {
    ingestion: Arc<Ingestion>,
}

/// A run the scheduler started, carried out on its own task.
pub struct Started {
    pub service: Fqn,
    pub slot: DateTime<Utc>,
    pub task: tokio::task::JoinHandle<Result<IngestionRun, StoreError>>,
}

impl Scheduler {
    pub fn new(ingestion: Arc<Ingestion>) -> Scheduler {
        Scheduler { ingestion }
    }

    /// Starts the runs due at the clock's now.
    pub async fn tick(&self) -> Result<Vec<Started>, StoreError> {
        let now = self.ingestion.clock.now();
        let store = &self.ingestion.store;
        let services = store
            .list_entities(&ListQuery::first(EntityKind::Service, 10_000))
            .await?
            .items;
        let served = store.last_scheduled_slots().await?;
        let mut started = Vec::new();
        for service in services {
            let Some(settings) = IngestionSettings::of(&service) else {
                continue;
            };
            let schedule = match settings.validate() {
                Ok(Some(schedule)) => schedule,
                Ok(None) => continue,
                Err(reason) => {
                    tracing::warn!(service = %service.fqn, %reason, "schedule unreadable; not run");
                    continue;
                }
            };
            if self.ingestion.is_running(service.id) {
                continue;
            }
            let from = served
                .get(&service.id)
                .copied()
                .unwrap_or(service.created_at)
                .max(now - LOOKBACK);
            let mut slot = None;
            let mut after = from;
            while let Some(next) = schedule.next_after(after) {
                if next > now {
                    break;
                }
                slot = Some(next);
                after = next;
            }
            let Some(slot) = slot else { continue };
            match self
                .ingestion
                .begin(&service.fqn, RunTrigger::Schedule, Some(slot))
                .await
            {
                Ok(Some(begun)) => {
                    let ingestion = self.ingestion.clone();
                    started.push(Started {
                        service: service.fqn.clone(),
                        slot,
                        task: tokio::spawn(async move { ingestion.execute(begun, None).await }),
                    });
                }
                Ok(None) => {}
                Err(StartError::Busy { .. }) => {}
                Err(StartError::Store(e)) => return Err(e),
                Err(err) => {
                    tracing::warn!(service = %service.fqn, error = %err, "scheduled run not started")
                }
            }
        }
        Ok(started)
    }

    /// Ticks every `interval` until the task is aborted.
    pub fn spawn(self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(err) = self.tick().await {
                    tracing::warn!(error = %err, "scheduler tick failed; trying again next tick");
                }
            }
        })
    }
}
