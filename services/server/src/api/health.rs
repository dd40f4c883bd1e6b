//! `/health` (the process answers) and `/ready` (the store answers and is migrated).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Newest change-log position.
    pub change_seq: i64,
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness: the store is reachable and every migration is applied.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = ErrorBody)))]
async fn ready(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    state.store.readiness().await.map_err(|err| {
        tracing::warn!(error = %err, "not ready");
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the catalog database is unreachable or not migrated",
        )
    })?;
    let change_seq = state.store.last_change_seq().await?;
    Ok(Json(Readiness {
        status: "ready",
        backend: state.store.backend().as_str(),
        change_seq,
    }))
}
