//! `/services/{name}/runs`: ingestion runs of a service — start one now, read the history.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tributary_catalog::{EntityKind, Fqn};
use tributary_store::{IngestionRun, RunTrigger};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Editor, Viewer};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::ingestion::StartError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs, start_run))
        .routes(routes!(test_connection))
}

/// Whether the source answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionTest {
    pub reachable: bool,
    /// Why not, for a person to act on.
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunList {
    /// Newest first.
    pub items: Vec<IngestionRun>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// How many runs, newest first (1 to 500, default 50).
    pub limit: Option<u32>,
}

impl From<StartError> for ApiError {
    fn from(err: StartError) -> Self {
        match err {
            StartError::NotFound(fqn) => ApiError::not_found(format!("service {fqn} not found")),
            err @ StartError::NoConnector { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_connector",
                err.to_string(),
            ),
            err @ StartError::Busy { .. } => {
                ApiError::new(StatusCode::CONFLICT, "run_in_progress", err.to_string())
            }
            StartError::Store(e) => e.into(),
        }
    }
}

fn service_fqn(name: &str) -> Result<Fqn, ApiError> {
    Ok(Fqn::from_parts([name])?)
}

/// The service's ingestion runs, newest first: status, times, counts, warnings, error.
#[utoipa::path(get, path = "/services/{name}/runs", tag = "services",
    params(("name" = String, Path, description = "Service name", example = "mlflow_prod"), RunsQuery),
    responses((status = 200, body = RunList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_runs(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> Result<Json<RunList>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be 1 to 500, not {limit}"),
        ));
    }
    let fqn = service_fqn(&name)?;
    let service = state.store.get_entity(&fqn).await?;
    if service.kind != EntityKind::Service {
        return Err(ApiError::not_found(format!("service {fqn} not found")));
    }
    let items = state.store.ingestion_runs(service.id, limit).await?;
    Ok(Json(RunList { items }))
}

/// Asks the service's source whether it answers and accepts the stored credentials;
/// nothing is read into the catalog. A source that fails is a 200 saying why.
#[utoipa::path(post, path = "/services/{name}/connection-test", tag = "services",
    params(("name" = String, Path, description = "Service name", example = "mlflow_prod")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ConnectionTest),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "The service has no connector", body = ErrorBody)))]
async fn test_connection(
    _: Editor,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ConnectionTest>, ApiError> {
    let fqn = service_fqn(&name)?;
    let outcome = state.ingestion.test_connection(&fqn).await?;
    Ok(Json(ConnectionTest {
        reachable: outcome.is_ok(),
        error: outcome.err(),
    }))
}

/// Starts a run of the service now. Answers at once with the run (`running`); follow it
/// through `GET /services/{name}/runs`.
#[utoipa::path(post, path = "/services/{name}/runs", tag = "services",
    params(("name" = String, Path, description = "Service name", example = "mlflow_prod")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Started", body = IngestionRun),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A run of this service is in progress", body = ErrorBody),
        (status = 422, description = "The service has no connector", body = ErrorBody)))]
async fn start_run(
    _: Editor,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<(StatusCode, Json<IngestionRun>), ApiError> {
    let fqn = service_fqn(&name)?;
    let begun = state
        .ingestion
        .begin(&fqn, RunTrigger::Manual, None)
        .await?
        .expect("a run serving no slot is never skipped");
    let run = begun.run.clone();
    tokio::spawn(async move {
        if let Err(err) = state.ingestion.execute(begun, None).await {
            tracing::error!(error = %err, "could not record the end of an ingestion run");
        }
        // This process wrote it: its graph and index see it now, not at the next poll.
        crate::live_graph::follow(&state).await;
    });
    Ok((StatusCode::ACCEPTED, Json(run)))
}
