//! `PUT /lineage`: OpenMetadata's addLineage body, so existing OpenMetadata lineage scripts
//! work unchanged. Entity references come by FQN or by id.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use tributary_catalog::{ColumnMapping, EdgeDraft, EdgeKey, EntityKind, Fqn};
use tributary_store::EdgesWritten;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::validate::validate_text;
use crate::auth::Editor;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(add_lineage))
}

/// OpenMetadata's AddLineageRequest.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddLineage {
    pub description: Option<String>,
    pub edge: OmEdge,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OmEdge {
    pub from_entity: OmEntityReference,
    pub to_entity: OmEntityReference,
    pub description: Option<String>,
    pub lineage_details: Option<OmLineageDetails>,
}

/// A reference by `fullyQualifiedName`, or by `id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OmEntityReference {
    pub id: Option<Uuid>,
    /// `table`, `mlmodel`, `dashboard`, `pipeline`, `column`, …; checked when given.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub fully_qualified_name: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OmLineageDetails {
    pub sql_query: Option<String>,
    #[serde(default)]
    pub columns_lineage: Vec<OmColumnLineage>,
    pub description: Option<String>,
    /// `Manual` (default), `QueryLineage`, `ViewLineage`, …: becomes the edge source `om:<source>`.
    pub source: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OmColumnLineage {
    #[serde(default)]
    pub from_columns: Vec<String>,
    pub to_column: String,
    pub function: Option<String>,
}

/// Our kind for an OpenMetadata entity type.
fn kind_of(om_type: &str) -> Option<EntityKind> {
    Some(match om_type.to_ascii_lowercase().as_str() {
        "table" => EntityKind::Table,
        "column" => EntityKind::Column,
        "mlmodel" | "ml_model" => EntityKind::MlModel,
        "mlfeature" | "feature" => EntityKind::Feature,
        "dashboard" => EntityKind::Dashboard,
        "pipeline" => EntityKind::Pipeline,
        _ => return None,
    })
}

async fn resolve(
    state: &AppState,
    side: &str,
    reference: &OmEntityReference,
) -> Result<Fqn, ApiError> {
    let unknown = |message: String| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_reference",
            message,
        )
    };
    let entity = match (&reference.fully_qualified_name, reference.id) {
        (Some(fqn), _) => state
            .store
            .get_entity(&Fqn::parse(fqn)?)
            .await
            .map_err(|_| unknown(format!("{side}: {fqn} does not exist")))?,
        (None, Some(id)) => state
            .store
            .entities_by_id(&[id])
            .await?
            .into_iter()
            .find(|e| e.is_live())
            .ok_or_else(|| unknown(format!("{side}: no live entity has id {id}")))?,
        (None, None) => {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!("{side} needs fullyQualifiedName or id"),
            ));
        }
    };
    if let Some(om_type) = &reference.kind {
        match kind_of(om_type) {
            Some(kind) if kind == entity.kind => {}
            Some(kind) => {
                return Err(unknown(format!(
                    "{side}: {} is a {}, not a {kind}",
                    entity.fqn, entity.kind
                )));
            }
            None => {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    format!("{side}: unsupported type {om_type:?}"),
                ));
            }
        }
    }
    Ok(entity.fqn)
}

/// Adds (or replaces) one edge, in OpenMetadata's request format.
#[utoipa::path(put, path = "/lineage", tag = "lineage", security(("bearer" = [])),
    request_body = AddLineage,
    responses((status = 200, body = EdgesWritten), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn add_lineage(
    Editor(who): Editor,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AddLineage>,
) -> Result<Json<EdgesWritten>, ApiError> {
    let from = resolve(&state, "fromEntity", &body.edge.from_entity).await?;
    let to = resolve(&state, "toEntity", &body.edge.to_entity).await?;
    if from == to {
        return Err(ApiError::bad_request(
            "invalid_body",
            "an edge cannot join an entity to itself",
        ));
    }
    let details = body.edge.lineage_details;
    let source = format!(
        "om:{}",
        details
            .as_ref()
            .and_then(|d| d.source.as_deref())
            .unwrap_or("Manual")
    );
    tributary_catalog::validate_name(&source)?;
    let transform = details.as_ref().and_then(|d| d.sql_query.clone());
    validate_text("sqlQuery", transform.as_deref())?;
    let mut columns = Vec::new();
    for (i, c) in details
        .iter()
        .flat_map(|d| d.columns_lineage.iter())
        .enumerate()
    {
        let parse = |f: &str| {
            Fqn::parse(f).map_err(|e| {
                ApiError::bad_request("invalid_fqn", format!("columnsLineage[{i}]: {e}"))
            })
        };
        columns.push(ColumnMapping {
            from: c
                .from_columns
                .iter()
                .map(|f| parse(f))
                .collect::<Result<_, _>>()?,
            to: parse(&c.to_column)?,
            function: c.function.clone(),
        });
    }
    let draft = EdgeDraft {
        key: EdgeKey { from, to, source },
        columns,
        transform,
    };
    Ok(Json(state.store.put_edges(who.actor(), vec![draft]).await?))
}
