//! Assembles the HTTP application and serves it until told to stop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tributary_search::{Opening, SearchError};
use tributary_store::{Store, StoreError};
use utoipa_swagger_ui::SwaggerUi;

use crate::api;
use crate::config::Config;
use crate::error::{self, ApiError};
use crate::ingestion::{Ingestion, Scheduler, SystemClock};
use crate::live_graph::{self, LiveGraph};
use crate::notifier::Notifier;
use crate::state::AppState;

/// What can stop the server from starting once the store is open.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("loading the lineage graph: {0}")]
    Graph(#[from] StoreError),
    #[error("opening the search index: {0}")]
    Search(#[from] SearchError),
}

/// The shared state: the store, and the lineage graph and search index kept from it.
pub async fn state(store: Arc<dyn Store>, config: &Config) -> Result<AppState, StartError> {
    let dir = config.search.dir.as_deref();
    if dir.is_none() {
        tracing::info!("search index kept in memory (set search.dir to keep it across restarts)");
    }
    // Both read the whole catalog at start (the index only when it must be rebuilt):
    // side by side, start-up waits for the slower one only.
    let (graph, search) = tokio::join!(
        LiveGraph::load(store.as_ref()),
        tributary_search::open(dir, store.as_ref())
    );
    let graph = graph?;
    let (search, opening) = search?;
    match opening {
        Opening::Current { seq } => tracing::info!(seq, "search index current"),
        Opening::CaughtUp { from, to, changes } => {
            tracing::info!(
                from,
                to,
                changes,
                "search index caught up with the change log"
            )
        }
        Opening::Rebuilt(_) => {}
    }
    Ok(AppState {
        store: store.clone(),
        graph,
        search,
        notifier: None,
        documents: Default::default(),
        ingestion: Ingestion::new(
            store.clone(),
            config.ingestion.clone(),
            Arc::new(SystemClock),
            Ingestion::default_holder(),
        ),
        platforms: config.documents.datahub_platforms.clone().into(),
        anonymous_read: config.auth.anonymous_read,
    })
}

/// The whole application: API, OpenAPI document, API explorer, error fallbacks and layers.
pub fn router(state: AppState, config: &Config) -> Router {
    let (api, openapi) = api::router().split_for_parts();
    api.merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
        .fallback(crate::ui::serve)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            live_graph::sync_after_writes,
        ))
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.http.body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            // The panic message may hold internal detail: it goes to the log, not the client.
            tracing::error!("a request handler panicked");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; the server log has the details",
            )
            .into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.http.request_timeout_secs),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    // The path only: query strings may carry values people consider private.
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_response(|res: &Response, latency: Duration, _: &tracing::Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        latency_ms = latency.as_millis() as u64,
                        "served"
                    );
                }),
        )
}

/// Serves until `shutdown` completes, then drains in-flight requests. Meanwhile follows
/// the change log for writes made by other replicas and delivers incident notifications.
pub async fn serve(
    mut state: AppState,
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let follower = live_graph::spawn_follower(
        state.clone(),
        Duration::from_millis(config.graph.follow_interval_ms),
    );
    let notifier = Notifier::spawn(state.store.clone(), config.notifier.clone());
    let scheduler = config
        .ingestion
        .scheduler
        .then(|| Scheduler::new(state.ingestion.clone()).spawn(config.ingestion.tick_interval));
    state.notifier = Some(notifier.waker());
    let app = router(state, config);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    follower.abort();
    if let Some(scheduler) = scheduler {
        scheduler.abort();
    }
    notifier.shutdown().await;
    served
}

/// Completes on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: draining requests");
}
