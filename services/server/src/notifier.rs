//! Incident notifications to team webhooks: a background loop that claims due deliveries
//! from the store, POSTs them, and records each attempt with a backoff for retries.
//!
//! Deliveries are at least once: a notifier that dies between sending and recording leaves
//! its claim to expire, and the delivery is sent again. Each request carries the delivery's
//! id in `X-Tributary-Delivery` so receivers can drop repeats.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tributary_store::{Delivery, DeliveryOutcome, Store};

/// The header naming the delivery, the same on every retry.
pub const DELIVERY_HEADER: &str = "x-tributary-delivery";

/// How much of a refusing webhook's answer goes into the delivery's error.
const BODY_EXCERPT_CHARS: usize = 200;

/// How the notifier polls, sends and retries. Durations are milliseconds in configuration
/// files (`poll_interval_ms = 1000`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifierConfig {
    /// How often to look for due deliveries when nothing wakes the notifier.
    #[serde(rename = "poll_interval_ms", with = "millis")]
    pub poll_interval: Duration,
    /// How long one webhook call may take, answer body included.
    #[serde(rename = "request_timeout_ms", with = "millis")]
    pub request_timeout: Duration,
    /// Attempts per delivery before it is marked failed.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles with each further failure.
    #[serde(rename = "backoff_base_ms", with = "millis")]
    pub backoff_base: Duration,
    /// The longest wait between attempts.
    #[serde(rename = "backoff_max_ms", with = "millis")]
    pub backoff_max: Duration,
    /// How long a claimed delivery is reserved for this notifier before another may take it.
    /// Never less than twice `request_timeout`, so a slow send is not sent twice.
    #[serde(rename = "claim_lease_ms", with = "millis")]
    pub claim_lease: Duration,
    /// Webhook calls in flight at once, over all teams.
    pub max_in_flight: usize,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            poll_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            max_attempts: 8,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(10 * 60),
            claim_lease: Duration::from_secs(2 * 60),
            max_in_flight: 32,
        }
    }
}

impl NotifierConfig {
    /// The wait before the attempt after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max)
    }

    fn lease(&self) -> Duration {
        self.claim_lease.max(self.request_timeout.saturating_mul(2))
    }
}

/// Durations as integer milliseconds.
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// The webhook notifier; [`Notifier::spawn`] starts it.
pub struct Notifier {
    store: Arc<dyn Store>,
    config: NotifierConfig,
    wake: Arc<Notify>,
}

/// Controls a running notifier. Dropping it stops the loop too, without waiting.
pub struct NotifierHandle {
    waker: NotifierWaker,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Wakes the notifier to look for due deliveries now; cheap to clone into request state.
#[derive(Clone)]
pub struct NotifierWaker(Arc<Notify>);

impl NotifierWaker {
    /// Makes the notifier look for due deliveries without waiting for its poll interval.
    pub fn wake(&self) {
        // notify_one keeps the wake-up if the loop is busy, so it is not lost.
        self.0.notify_one();
    }
}

impl NotifierHandle {
    /// Makes the notifier look for due deliveries now, e.g. right after opening an incident.
    pub fn wake(&self) {
        self.waker.wake();
    }

    /// A waker for places that cannot hold the handle.
    pub fn waker(&self) -> NotifierWaker {
        self.waker.clone()
    }

    /// Stops claiming, lets the calls in flight finish (each within the request timeout)
    /// and record their outcome, then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await
            && e.is_panic()
        {
            tracing::error!(error = %e, "notifier loop panicked");
        }
    }
}

impl Notifier {
    /// Starts the notifier loop on the current tokio runtime.
    pub fn spawn(store: Arc<dyn Store>, config: NotifierConfig) -> NotifierHandle {
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = oneshot::channel();
        let notifier = Notifier {
            store,
            config,
            wake: wake.clone(),
        };
        let task = tokio::spawn(notifier.run(stopped));
        NotifierHandle {
            waker: NotifierWaker(wake),
            stop,
            task,
        }
    }

    async fn run(self, mut stopped: oneshot::Receiver<()>) {
        let Some(client) = self.client(&mut stopped).await else {
            return;
        };
        let sender = Arc::new(Sender {
            store: self.store.clone(),
            client,
            config: self.config.clone(),
        });
        let slots = Arc::new(Semaphore::new(self.config.max_in_flight.max(1)));
        let mut in_flight = JoinSet::new();
        tracing::info!(
            poll_interval_ms = self.config.poll_interval.as_millis(),
            max_attempts = self.config.max_attempts,
            "notifier started"
        );
        loop {
            while let Some(done) = in_flight.try_join_next() {
                log_panic(done);
            }
            // Claim only what can be sent at once: a claimed delivery waiting for a slot
            // would use up its lease for nothing.
            let free = slots.available_permits();
            if free > 0 {
                let limit = u32::try_from(free).unwrap_or(u32::MAX);
                match self
                    .store
                    .claim_due_deliveries(Utc::now(), self.config.lease(), limit)
                    .await
                {
                    Ok(claimed) => {
                        for delivery in claimed {
                            let Ok(slot) = slots.clone().try_acquire_owned() else {
                                break;
                            };
                            let sender = sender.clone();
                            in_flight.spawn(async move {
                                sender.deliver(delivery).await;
                                drop(slot);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot claim due webhook deliveries"),
                }
            }
            let saturated = slots.available_permits() == 0;
            tokio::select! {
                _ = &mut stopped => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
                // When every slot is taken, the first one to free up is worth a new claim.
                Some(done) = in_flight.join_next(), if saturated => log_panic(done),
            }
        }
        while let Some(done) = in_flight.join_next().await {
            log_panic(done);
        }
        tracing::info!("notifier stopped");
    }

    /// The HTTP client, retried each poll interval should it fail to build.
    async fn client(&self, stopped: &mut oneshot::Receiver<()>) -> Option<reqwest::Client> {
        loop {
            // Fails only when a provider is installed already, which is as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
            match reqwest::Client::builder()
                .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(self.config.request_timeout)
                .build()
            {
                Ok(client) => return Some(client),
                Err(e) => tracing::error!(error = %e, "cannot build the webhook HTTP client"),
            }
            tokio::select! {
                _ = &mut *stopped => return None,
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }
}

fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(error = %e, "webhook delivery task panicked");
    }
}

/// What one delivery task needs.
struct Sender {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    config: NotifierConfig,
}

/// Why an attempt failed.
struct Refusal {
    error: String,
    status_code: Option<u16>,
}

impl Sender {
    /// Sends one claimed delivery and records how it went.
    async fn deliver(&self, delivery: Delivery) {
        let attempt = delivery.attempts + 1;
        let outcome = match self.post(&delivery).await {
            Ok(status_code) => {
                tracing::info!(
                    delivery_id = %delivery.id, incident_id = %delivery.incident_id,
                    team = %delivery.team, attempt, status_code, "webhook delivered"
                );
                DeliveryOutcome::Delivered { status_code }
            }
            Err(refusal) => {
                let retry_at = (attempt < self.config.max_attempts).then(|| {
                    let wait = self.config.backoff(attempt);
                    Utc::now() + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX)
                });
                tracing::warn!(
                    delivery_id = %delivery.id, incident_id = %delivery.incident_id,
                    team = %delivery.team, attempt, error = %refusal.error,
                    retry_at = ?retry_at, "webhook delivery failed"
                );
                DeliveryOutcome::Failed {
                    error: refusal.error,
                    status_code: refusal.status_code,
                    retry_at,
                }
            }
        };
        if let Err(e) = self
            .store
            .record_delivery_attempt(delivery.id, outcome)
            .await
        {
            // The claim runs out and the delivery is tried again: at least once, not lost.
            tracing::error!(
                delivery_id = %delivery.id, team = %delivery.team, error = %e,
                "cannot record a webhook delivery attempt"
            );
        }
    }

    /// POSTs the payload; a 2xx status is success.
    async fn post(&self, delivery: &Delivery) -> Result<u16, Refusal> {
        let timeout = self.config.request_timeout;
        let sent = self
            .client
            .post(&delivery.url)
            .timeout(timeout)
            .header(DELIVERY_HEADER, delivery.id.to_string())
            .json(&delivery.payload)
            .send()
            .await;
        let mut response = sent.map_err(|e| Refusal {
            error: describe(e, timeout),
            status_code: None,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let excerpt = body_excerpt(&mut response).await;
        Err(Refusal {
            error: if excerpt.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {excerpt}")
            },
            status_code: Some(status.as_u16()),
        })
    }
}

/// A person-readable reason for a failed request. Never includes the URL: webhook URLs
/// often carry their secret in the path.
fn describe(error: reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {}", human(timeout));
    }
    let what = if error.is_builder() {
        "invalid webhook URL"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_redirect() {
        "too many redirects"
    } else {
        "request failed"
    };
    // The innermost cause says what happened ("Connection refused (os error 111)");
    // the layers above it only say where (hyper's "client error (Connect)").
    let error = error.without_url();
    let mut innermost: &dyn std::error::Error = &error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    format!("{what}: {innermost}")
}

/// `5s`, `300ms`.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The start of an answer's body on one line, for the error: enough to recognise it,
/// never the whole of a large page.
async fn body_excerpt(response: &mut reqwest::Response) -> String {
    let mut bytes = Vec::new();
    let mut complete = false;
    // Four bytes a character at most: enough for the excerpt even in the worst case.
    while bytes.len() < BODY_EXCERPT_CHARS * 4 {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => {
                complete = true;
                break;
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let flat: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let mut chars = flat.chars();
    let mut excerpt: String = chars.by_ref().take(BODY_EXCERPT_CHARS).collect();
    if chars.next().is_some() || (!complete && !excerpt.is_empty()) {
        excerpt.push('…');
    }
    excerpt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let config = NotifierConfig::default();
        let waits: Vec<u64> = (1..=10).map(|a| config.backoff(a).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 600]);
        assert_eq!(config.backoff(u32::MAX), config.backoff_max);
    }

    #[test]
    fn config_reads_milliseconds_and_keeps_defaults() {
        let config: NotifierConfig =
            serde_json::from_str(r#"{"poll_interval_ms": 250, "max_attempts": 3}"#).unwrap();
        assert_eq!(config.poll_interval, Duration::from_millis(250));
        assert_eq!(config.max_attempts, 3);
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        let round = serde_json::to_value(&config).unwrap();
        assert_eq!(round["claim_lease_ms"], 120_000);
    }

    #[test]
    fn the_lease_outlasts_a_slow_request() {
        let config = NotifierConfig {
            claim_lease: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            ..NotifierConfig::default()
        };
        assert_eq!(config.lease(), Duration::from_secs(10));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(Duration::from_secs(5)), "5s");
        assert_eq!(human(Duration::from_millis(300)), "300ms");
    }
}
