//! The webhook notifier against real HTTP listeners on 127.0.0.1, on both store backends.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tributary_catalog::{ConnectionConfig, EntityDraft, EntityKind, Fqn};
use tributary_server::notifier::{DELIVERY_HEADER, Notifier, NotifierConfig};
use tributary_store::testing::ScratchStore;
use tributary_store::{
    Delivery, DeliveryStatus, EntityTree, Incident, NewDelivery, NewIncident, Severity, Store,
};
use uuid::Uuid;

/// How long a test waits for the notifier to reach the expected state.
const DEADLINE: Duration = Duration::from_secs(10);

/// Quick polls and retries, so tests finish in a fraction of a second.
fn config(request_timeout: Duration, max_attempts: u32) -> NotifierConfig {
    NotifierConfig {
        poll_interval: Duration::from_millis(20),
        request_timeout,
        max_attempts,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        claim_lease: Duration::from_secs(60),
        max_in_flight: 8,
    }
}

/// One request a webhook received.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    headers: HeaderMap,
    body: Value,
}

/// How a test webhook answers its n-th call (0-based): a status, or `None` for never.
type Answer =
    Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = Option<StatusCode>> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Hook {
    received: Arc<Mutex<Vec<Received>>>,
    answer: Answer,
}

/// A webhook on a real socket; `answer` gives the status of each call, `None` never answers.
async fn webhook(
    answer: impl Fn(usize) -> Option<StatusCode> + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Received>>>) {
    let answer = Arc::new(answer);
    webhook_async(move |call| {
        let answer = answer.clone();
        async move { answer(call) }
    })
    .await
}

/// [`webhook`] with an answer that may await, e.g. to look at the store.
async fn webhook_async<F, Fut>(answer: F) -> (String, Arc<Mutex<Vec<Received>>>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<StatusCode>> + Send + 'static,
{
    let hook = Hook {
        received: Arc::default(),
        answer: Arc::new(move |call| Box::pin(answer(call))),
    };
    let received = hook.received.clone();
    let app = Router::new()
        .route("/hook/{secret}", post(receive))
        .with_state(hook);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url(addr), received)
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/hook/s3cr3t-path-token")
}

async fn receive(
    State(hook): State<Hook>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let call = {
        let mut received = hook.received.lock().unwrap();
        received.push(Received {
            at: Instant::now(),
            headers,
            body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
        });
        received.len() - 1
    };
    match (hook.answer)(call).await {
        Some(status) if status.is_success() => (status, "thanks".into()),
        Some(status) => (status, format!("boom\n{}", "x".repeat(1000))),
        None => std::future::pending().await,
    }
}

/// A table and an incident on it with one delivery per `(team, url)`, queued in that order.
async fn incident(store: &dyn Store, hooks: &[(&str, &str)]) -> Incident {
    let fqn = |s: &str| Fqn::parse(s).unwrap();
    if store.get_entity(&fqn("hive")).await.is_err() {
        store
            .put_service(
                "test",
                EntityDraft::bare(EntityKind::Service, fqn("hive"), "test"),
                ConnectionConfig::default(),
            )
            .await
            .unwrap();
    }
    let table = store
        .put_entity_tree(
            "test",
            EntityTree {
                root: EntityDraft::bare(EntityKind::Table, fqn("hive.dwh.marts.daily"), "test"),
                children: None,
            },
        )
        .await
        .unwrap()
        .root;
    let deliveries = hooks
        .iter()
        .map(|(team, url)| NewDelivery {
            team: (*team).into(),
            url: (*url).into(),
            payload: json!({
                "event": "incident.opened",
                "team": team,
                "incident": {"title": "daily is stale", "severity": "high"},
                "affected": ["hive.dwh.marts.daily", "bi.churn"],
                "note": "naïve ünïcode \u{1F30A}",
            }),
        })
        .collect();
    store
        .open_incident(
            "alice",
            NewIncident {
                id: uuid::Uuid::now_v7(),
                entity_id: table.id,
                fqn: table.fqn.to_string(),
                title: "daily is stale".into(),
                description: None,
                severity: Severity::High,
                snapshot: json!({"root": "hive.dwh.marts.daily", "affected": 2}),
                touched: vec![],
                deliveries,
            },
        )
        .await
        .unwrap()
}

/// Polls the incident's deliveries until `done` holds, failing after [`DEADLINE`].
async fn wait_for(
    store: &dyn Store,
    incident: Uuid,
    what: &str,
    done: impl Fn(&[Delivery]) -> bool,
) -> Vec<Delivery> {
    let start = Instant::now();
    loop {
        let deliveries = store.deliveries_of(incident).await.unwrap();
        if done(&deliveries) {
            return deliveries;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "waited {DEADLINE:?} for {what}; deliveries are {deliveries:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn settled(d: &Delivery) -> bool {
    d.status != DeliveryStatus::Pending
}

pub async fn a_healthy_webhook_gets_the_payload_once(scratch: ScratchStore) {
    let store = scratch.store.clone();
    let (hook, received) = webhook(|_| Some(StatusCode::OK)).await;
    let incident = incident(store.as_ref(), &[("growth", &hook)]).await;
    let queued = store.deliveries_of(incident.id).await.unwrap();
    let notifier = Notifier::spawn(store.clone(), config(Duration::from_secs(5), 3));

    let done = wait_for(store.as_ref(), incident.id, "delivery", |d| settled(&d[0])).await;
    assert_eq!(done[0].status, DeliveryStatus::Delivered);
    assert_eq!(done[0].attempts, 1);
    assert_eq!(done[0].last_status_code, Some(200));
    assert!(done[0].last_error.is_none());
    assert!(done[0].delivered_at.is_some());

    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "delivered once");
    assert_eq!(
        received[0].body, queued[0].payload,
        "the payload arrives intact"
    );
    assert_eq!(received[0].body["note"], "naïve ünïcode \u{1F30A}");
    assert_eq!(
        received[0].headers[header::CONTENT_TYPE],
        "application/json"
    );
    assert_eq!(
        received[0].headers[DELIVERY_HEADER],
        queued[0].id.to_string().as_str()
    );
    tokio::time::timeout(DEADLINE, notifier.shutdown())
        .await
        .expect("the notifier stops when asked");
}

pub async fn server_errors_are_retried_with_backoff_until_delivered(scratch: ScratchStore) {
    let store = scratch.store.clone();
    // The webhook notes, on each call, what the store said about the delivery by then:
    // the failures recorded between attempts.
    let seen: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let (hook, received) = {
        let store = store.clone();
        let seen = seen.clone();
        webhook_async(move |call| {
            let store = store.clone();
            let seen = seen.clone();
            async move {
                let incidents = store.list_incidents(None, 1).await.unwrap();
                let delivery = store.deliveries_of(incidents[0].id).await.unwrap();
                seen.lock().unwrap().push(delivery[0].clone());
                Some(if call < 2 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                })
            }
        })
        .await
    };
    let incident = incident(store.as_ref(), &[("growth", &hook)]).await;
    let notifier = Notifier::spawn(store.clone(), config(Duration::from_secs(5), 5));

    let done = wait_for(store.as_ref(), incident.id, "delivery", |d| settled(&d[0])).await;
    notifier.shutdown().await;
    assert_eq!(done[0].status, DeliveryStatus::Delivered);
    assert_eq!(done[0].attempts, 3);
    assert_eq!(done[0].last_status_code, Some(200));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        (seen[0].attempts, seen[0].last_status_code),
        (0, None),
        "first call: nothing recorded yet"
    );
    for (attempts, recorded) in [(1, &seen[1]), (2, &seen[2])] {
        assert_eq!(recorded.attempts, attempts);
        assert_eq!(recorded.status, DeliveryStatus::Pending);
        assert_eq!(recorded.last_status_code, Some(500));
        let error = recorded.last_error.as_deref().unwrap();
        assert!(
            error.starts_with("HTTP 500 Internal Server Error: boom x"),
            "{error}"
        );
        assert!(
            error.chars().count() <= 260,
            "only the start of the body: {error}"
        );
    }

    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    let gaps: Vec<Duration> = received.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(20), "backoff {gaps:?}");
    assert!(
        gaps[1] >= Duration::from_millis(40),
        "backoff doubles {gaps:?}"
    );
}

pub async fn a_webhook_that_never_answers_fails_after_its_attempts(scratch: ScratchStore) {
    let store = scratch.store.clone();
    let (hook, received) = webhook(|_| None).await;
    let incident = incident(store.as_ref(), &[("growth", &hook)]).await;
    let notifier = Notifier::spawn(store.clone(), config(Duration::from_millis(300), 2));

    let done = wait_for(store.as_ref(), incident.id, "giving up", |d| settled(&d[0])).await;
    notifier.shutdown().await;
    assert_eq!(done[0].status, DeliveryStatus::Failed);
    assert_eq!(done[0].attempts, 2);
    assert_eq!(done[0].last_status_code, None);
    assert_eq!(done[0].last_error.as_deref(), Some("timed out after 300ms"));
    assert!(done[0].delivered_at.is_none());
    assert_eq!(
        received.lock().unwrap().len(),
        2,
        "tried twice, then no more"
    );
}

pub async fn an_unreachable_webhook_fails_with_a_readable_error(scratch: ScratchStore) {
    let store = scratch.store.clone();
    // A port nobody listens on: bound, then released.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let incident = incident(store.as_ref(), &[("growth", &url(addr))]).await;
    let notifier = Notifier::spawn(store.clone(), config(Duration::from_secs(5), 1));

    let done = wait_for(store.as_ref(), incident.id, "giving up", |d| settled(&d[0])).await;
    notifier.shutdown().await;
    assert_eq!(done[0].status, DeliveryStatus::Failed);
    assert_eq!(done[0].attempts, 1);
    let error = done[0].last_error.as_deref().unwrap();
    assert!(error.starts_with("could not connect"), "{error}");
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert!(
        !error.contains("s3cr3t"),
        "webhook URLs hold secrets; errors must not repeat them: {error}"
    );
}

pub async fn a_failing_webhook_does_not_hold_up_a_healthy_one(scratch: ScratchStore) {
    let store = scratch.store.clone();
    let (hanging, _) = webhook(|_| None).await;
    let (healthy, received) = webhook(|_| Some(StatusCode::NO_CONTENT)).await;
    // The hanging one is queued, so claimed and started, first.
    let incident = incident(store.as_ref(), &[("stuck", &hanging), ("growth", &healthy)]).await;
    let notifier = Notifier::spawn(store.clone(), config(Duration::from_secs(3), 1));

    let during = wait_for(store.as_ref(), incident.id, "the healthy delivery", |d| {
        settled(&d[1])
    })
    .await;
    assert_eq!(during[1].status, DeliveryStatus::Delivered);
    assert_eq!(during[1].last_status_code, Some(204));
    assert_eq!(
        (during[0].status, during[0].attempts),
        (DeliveryStatus::Pending, 0),
        "delivered while the hanging call was still waiting for its answer"
    );
    assert_eq!(received.lock().unwrap().len(), 1);

    let after = wait_for(store.as_ref(), incident.id, "the hanging delivery", |d| {
        settled(&d[0])
    })
    .await;
    notifier.shutdown().await;
    assert_eq!(after[0].status, DeliveryStatus::Failed);
    assert_eq!(after[0].last_error.as_deref(), Some("timed out after 3s"));
}

pub async fn wake_sends_without_waiting_for_the_poll(scratch: ScratchStore) {
    let store = scratch.store.clone();
    let (hook, _) = webhook(|_| Some(StatusCode::OK)).await;
    let config = NotifierConfig {
        poll_interval: Duration::from_secs(3600),
        ..config(Duration::from_secs(5), 3)
    };
    let first = incident(store.as_ref(), &[("growth", &hook)]).await;
    let notifier = Notifier::spawn(store.clone(), config);
    // Once the first is delivered the loop is asleep for the hour.
    wait_for(store.as_ref(), first.id, "the first delivery", |d| {
        settled(&d[0])
    })
    .await;
    let second = incident(store.as_ref(), &[("growth", &hook)]).await;
    notifier.wake();
    let done = wait_for(store.as_ref(), second.id, "the woken delivery", |d| {
        settled(&d[0])
    })
    .await;
    assert_eq!(done[0].status, DeliveryStatus::Delivered);
    notifier.shutdown().await;
}

/// One `#[tokio::test]` per scenario and backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(tributary_store::testing::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(scratch) = tributary_store::testing::postgres().await else {
                        return;
                    };
                    super::$name(scratch).await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_healthy_webhook_gets_the_payload_once,
    server_errors_are_retried_with_backoff_until_delivered,
    a_webhook_that_never_answers_fails_after_its_attempts,
    an_unreachable_webhook_fails_with_a_readable_error,
    a_failing_webhook_does_not_hold_up_a_healthy_one,
    wake_sends_without_waiting_for_the_poll,
);
