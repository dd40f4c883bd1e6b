//! `/lineage/edges`: write and remove lineage edges. Graph reads come with the graph crate.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tributary_catalog::{ColumnMapping, EdgeDraft, EdgeKey, Fqn, validate_name};
use tributary_store::EdgesWritten;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::validate::{FieldErrors, validate_text};
use crate::auth::Editor;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Edge source used when a request names none.
pub const DEFAULT_SOURCE: &str = "api";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_edges, delete_edges))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgesRequest {
    pub edges: Vec<EdgeRequest>,
}

/// One edge: data flows from `from` to `to`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeRequest {
    #[schema(example = "hive_prod.dwh.client_marts.features_daily.tariff_plan")]
    pub from: String,
    #[schema(example = "mlflow_prod.upsell_propensity.tariff_plan")]
    pub to: String,
    /// Who asserts the edge (default `api`). Edges are unique per (from, to, source).
    pub source: Option<String>,
    /// Column-level mapping, for table-to-table edges.
    #[serde(default)]
    pub columns: Vec<ColumnMapping>,
    /// The transform (SQL or expression) producing `to`.
    pub transform: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeKeysRequest {
    pub edges: Vec<EdgeKeyRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeKeyRequest {
    pub from: String,
    pub to: String,
    pub source: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EdgeRef {
    pub from: Fqn,
    pub to: Fqn,
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EdgesDeleted {
    pub deleted: u64,
    /// Edges asked for that did not exist.
    pub missing: Vec<EdgeRef>,
}

fn edge_key(
    errors: &mut FieldErrors,
    i: usize,
    from: &str,
    to: &str,
    source: Option<String>,
) -> Option<EdgeKey> {
    let field = |f: &str| format!("edges[{i}].{f}");
    let from = Fqn::parse(from)
        .inspect_err(|e| errors.add(field("from"), e.to_string()))
        .ok();
    let to = Fqn::parse(to)
        .inspect_err(|e| errors.add(field("to"), e.to_string()))
        .ok();
    let source = source.unwrap_or_else(|| DEFAULT_SOURCE.to_owned());
    if let Err(e) = validate_name(&source) {
        errors.add(field("source"), e.to_string());
        return None;
    }
    let (from, to) = (from?, to?);
    if from == to {
        errors.add(field("to"), "an edge cannot join an entity to itself");
        return None;
    }
    Some(EdgeKey { from, to, source })
}

/// Creates or updates edges, all or none: every endpoint must be a live entity.
#[utoipa::path(put, path = "/lineage/edges", tag = "lineage", security(("bearer" = [])),
    request_body = EdgesRequest,
    responses((status = 200, body = EdgesWritten), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "An endpoint does not exist or cannot carry lineage", body = ErrorBody)))]
async fn put_edges(
    Editor(who): Editor,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EdgesRequest>,
) -> Result<Json<EdgesWritten>, ApiError> {
    let mut errors = FieldErrors::default();
    let mut drafts = Vec::with_capacity(body.edges.len());
    for (i, edge) in body.edges.into_iter().enumerate() {
        errors.check(
            format!("edges[{i}].transform"),
            validate_text("transform", edge.transform.as_deref()),
        );
        if let Some(key) = edge_key(&mut errors, i, &edge.from, &edge.to, edge.source) {
            drafts.push(EdgeDraft {
                key,
                columns: edge.columns,
                transform: edge.transform,
            });
        }
    }
    errors.finish()?;
    Ok(Json(state.store.put_edges(who.actor(), drafts).await?))
}

/// Removes edges by (from, to, source); edges that do not exist are reported, not an error.
#[utoipa::path(delete, path = "/lineage/edges", tag = "lineage", security(("bearer" = [])),
    request_body = EdgeKeysRequest,
    responses((status = 200, body = EdgesDeleted), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_edges(
    Editor(who): Editor,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EdgeKeysRequest>,
) -> Result<Json<EdgesDeleted>, ApiError> {
    let mut errors = FieldErrors::default();
    let keys: Vec<EdgeKey> = body
        .edges
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| edge_key(&mut errors, i, &e.from, &e.to, e.source))
        .collect();
    errors.finish()?;
    let asked = keys.len() as u64;
    let missing = state.store.delete_edges(who.actor(), keys).await?;
    Ok(Json(EdgesDeleted {
        deleted: asked - missing.len() as u64,
        missing: missing
            .into_iter()
            .map(|k| EdgeRef {
                from: k.from,
                to: k.to,
                source: k.source,
            })
            .collect(),
    }))
}
