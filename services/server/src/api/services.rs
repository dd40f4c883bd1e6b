//! `/services`: the source systems and their connection configs (admin writes).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tributary_catalog::{ConnectionConfig, Entity, EntityDraft, EntityKind, Fqn, ServiceType};
use tributary_store::ListQuery;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::entities::DeleteResult;
use crate::api::validate::validate_text;
use crate::auth::{Admin, Viewer};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::ingestion::IngestionSettings;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_services))
        .routes(routes!(get_service, put_service, delete_service))
}

/// A service as written.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRequest {
    pub service_type: ServiceType,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// Owning team.
    pub owner: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// How connectors reach it. Secrets are stored but never shown.
    #[serde(default)]
    pub connection: ConnectionConfig,
    /// When it is pulled (cron schedule and time zone) and how long a run may take.
    pub ingestion: Option<IngestionSettings>,
}

/// A service as shown: secrets in `connection` read `"***"`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    pub id: Uuid,
    pub name: String,
    pub fqn: Fqn,
    pub service_type: ServiceType,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    pub connection: ConnectionConfig,
    pub ingestion: Option<IngestionSettings>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceList {
    pub items: Vec<ServiceView>,
}

fn view(entity: Entity, connection: &ConnectionConfig) -> Result<ServiceView, ApiError> {
    let service_type =
        serde_json::from_value(entity.attrs["service_type"].clone()).map_err(|e| {
            ApiError::internal(&format!("service {} has no valid type: {e}", entity.fqn))
        })?;
    let ingestion = IngestionSettings::of(&entity);
    Ok(ServiceView {
        id: entity.id,
        name: entity.name,
        fqn: entity.fqn,
        service_type,
        display_name: entity.display_name,
        description: entity.description,
        owner: entity.owner,
        tags: entity.tags,
        connection: connection.redacted(),
        ingestion,
        version: entity.version,
        created_at: entity.created_at,
        updated_at: entity.updated_at,
    })
}

fn service_fqn(name: &str) -> Result<Fqn, ApiError> {
    Ok(Fqn::from_parts([name])?)
}

/// Every live service.
#[utoipa::path(get, path = "/services", tag = "services",
    responses((status = 200, body = ServiceList), (status = 401, body = ErrorBody)))]
async fn list_services(
    _: Viewer,
    State(state): State<AppState>,
) -> Result<Json<ServiceList>, ApiError> {
    let page = state
        .store
        .list_entities(&ListQuery::first(EntityKind::Service, 10_000))
        .await?;
    let connections = state.store.service_connections().await?;
    let items = page
        .items
        .into_iter()
        .map(|entity| {
            let connection = connections.get(&entity.id).cloned().unwrap_or_default();
            view(entity, &connection)
        })
        .collect::<Result<_, _>>()?;
    Ok(Json(ServiceList { items }))
}

/// One service, its connection config with secrets hidden.
#[utoipa::path(get, path = "/services/{name}", tag = "services",
    params(("name" = String, Path, description = "Service name", example = "hive_prod")),
    responses((status = 200, body = ServiceView), (status = 404, body = ErrorBody)))]
async fn get_service(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ServiceView>, ApiError> {
    let fqn = service_fqn(&name)?;
    let entity = state.store.get_entity(&fqn).await?;
    if entity.kind != EntityKind::Service {
        return Err(ApiError::not_found(format!("service {fqn} not found")));
    }
    let connection = state.store.service_connection(&fqn).await?;
    Ok(Json(view(entity, &connection)?))
}

/// Creates or replaces a service. Sending `"***"` for a secret keeps the stored one.
#[utoipa::path(put, path = "/services/{name}", tag = "services",
    params(("name" = String, Path, description = "Service name", example = "hive_prod")),
    request_body = ServiceRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ServiceView),
        (status = 200, description = "Updated or unchanged", body = ServiceView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn put_service(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<ServiceRequest>,
) -> Result<(StatusCode, Json<ServiceView>), ApiError> {
    let fqn = service_fqn(&name)?;
    validate_text("display_name", body.display_name.as_deref())?;
    validate_text("description", body.description.as_deref())?;
    let mut draft = EntityDraft::bare(EntityKind::Service, fqn.clone(), "api");
    draft.display_name = body.display_name;
    draft.description = body.description;
    draft.owner = body.owner;
    draft.tags = crate::api::validate::validate_tags(body.tags)?;
    draft.attrs = json!({ "service_type": body.service_type });
    if let Some(settings) = body.ingestion {
        settings.validate().map_err(|reason| {
            ApiError::bad_request("invalid_ingestion", format!("ingestion: {reason}"))
        })?;
        draft.attrs["ingestion"] = json!(settings);
    }
    let written = state
        .store
        .put_service(who.actor(), draft, body.connection)
        .await?;
    let connection = state.store.service_connection(&fqn).await?;
    let status = if written.root_created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(written.root, &connection)?)))
}

/// Soft-deletes a service and everything in it.
#[utoipa::path(delete, path = "/services/{name}", tag = "services",
    params(("name" = String, Path, description = "Service name", example = "hive_prod")),
    security(("bearer" = [])),
    responses((status = 200, body = DeleteResult), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_service(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<DeleteResult>, ApiError> {
    let fqn = service_fqn(&name)?;
    let deleted = state
        .store
        .delete_entity(who.actor(), EntityKind::Service, &fqn)
        .await?;
    Ok(Json(DeleteResult { deleted }))
}
