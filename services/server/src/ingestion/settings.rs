//! A service's own ingestion settings: when to pull it, and how long a run may take.
//! Kept in the service entity's `attrs.ingestion`, written through `PUT /services/{name}`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tributary_catalog::Entity;
use tributary_connectors::{Schedule, ScheduleError};
use utoipa::ToSchema;

/// When and how a service is pulled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestionSettings {
    /// Five-field cron (`0 3 * * *`) or a preset (`@hourly`, `@daily`, `@weekly`, …).
    /// Unset: pulled only when asked (API or `tributary ingest`).
    #[schema(example = "0 3 * * *")]
    pub schedule: Option<String>,
    /// IANA time zone the schedule is read in; UTC when unset.
    #[schema(example = "Europe/Moscow")]
    pub timezone: Option<String>,
    /// A run's time limit, in seconds (1 to 86,400); the server's default when unset.
    pub timeout_secs: Option<u64>,
    /// Further attempts after a transient failure (0 to 10); the server's default when unset.
    pub retries: Option<u32>,
}

impl IngestionSettings {
    /// The settings stored with a service.
    pub fn of(service: &Entity) -> Option<IngestionSettings> {
        serde_json::from_value(service.attrs.get("ingestion")?.clone()).ok()
    }

    /// Checks the settings, giving the schedule they describe (if any).
    pub fn validate(&self) -> Result<Option<Schedule>, String> {
        if let Some(t) = self.timeout_secs
            && !(1..=86_400).contains(&t)
        {
            return Err(format!("timeout_secs must be 1 to 86400, not {t}"));
        }
        if let Some(r) = self.retries
            && r > 10
        {
            return Err(format!("retries must be 0 to 10, not {r}"));
        }
        match (&self.schedule, &self.timezone) {
            (Some(pattern), zone) => Schedule::parse(pattern, zone.as_deref())
                .map(Some)
                .map_err(|e: ScheduleError| e.to_string()),
            (None, Some(_)) => Err("timezone is given without a schedule".into()),
            (None, None) => Ok(None),
        }
    }

    pub fn timeout(&self, default: Duration) -> Duration {
        self.timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(default)
    }

    pub fn retries(&self, default: u32) -> u32 {
        self.retries.unwrap_or(default)
    }
}
