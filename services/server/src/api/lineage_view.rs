//! `GET /lineage/{fqn}`: the lineage around an entity at any depth, a page at a time.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tributary_catalog::{EntityKind, Fqn};
use tributary_graph::{Level, NeighborhoodQuery};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Viewer;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

pub const DEFAULT_DEPTH: u32 = 3;
pub const DEFAULT_NODES: usize = 500;
pub const MAX_NODES: usize = 5000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_lineage))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LineageParams {
    /// Hops upstream (default 3; no upper cap).
    pub upstream: Option<u32>,
    /// Hops downstream (default 3; no upper cap).
    pub downstream: Option<u32>,
    /// `table` folds columns into tables and features into models (default); `column` does not.
    pub level: Option<Level>,
    /// Nodes per response, 1 to 5000 (default 500).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous response.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineageNode {
    pub fqn: Fqn,
    pub kind: EntityKind,
    pub owner: Option<String>,
    /// Hops from the root: positive downstream, negative upstream.
    pub distance: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineageEdge {
    pub from: Fqn,
    pub to: Fqn,
    /// Who asserts it (`contains` joins a feature to its model at column level).
    pub sources: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineagePage {
    pub root: Fqn,
    pub level: Level,
    /// Nodes of this page, nearer first; the root opens the first page.
    pub nodes: Vec<LineageNode>,
    /// Edges joining this page's nodes to each other and to earlier pages' nodes.
    pub edges: Vec<LineageEdge>,
    /// Nodes in the whole neighbourhood at this depth.
    pub total_nodes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn decode_offset(cursor: Option<&str>) -> Result<usize, ApiError> {
    let Some(cursor) = cursor else { return Ok(0) };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_cursor",
                "the cursor is not one this server issued; start again without it",
            )
        })
}

/// Nodes and edges upstream and downstream of an entity, paged.
#[utoipa::path(get, path = "/lineage/{fqn}", tag = "lineage",
    params(("fqn" = String, Path, description = "FQN of any entity",
        example = "hive_prod.dwh.client_marts.features_daily"), LineageParams),
    responses((status = 200, body = LineagePage), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_lineage(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(fqn): ApiPath<String>,
    ApiQuery(params): ApiQuery<LineageParams>,
) -> Result<Json<LineagePage>, ApiError> {
    let fqn = Fqn::parse(&fqn)?;
    let limit = params.limit.unwrap_or(DEFAULT_NODES);
    if limit == 0 || limit > MAX_NODES {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be 1 to {MAX_NODES}"),
        ));
    }
    let offset = decode_offset(params.cursor.as_deref())?;
    let query = NeighborhoodQuery {
        upstream: params.upstream.unwrap_or(DEFAULT_DEPTH),
        downstream: params.downstream.unwrap_or(DEFAULT_DEPTH),
        level: params.level.unwrap_or(Level::Table),
    };
    let entity = state.store.get_entity(&fqn).await?;
    let page = state
        .graph
        .answer(state.store.as_ref(), |graph| {
            let hood = graph.neighborhood(entity.id, &query)?;
            let (nodes, edges) = hood.page(offset, limit);
            let end = offset + nodes.len();
            Some(LineagePage {
                root: graph.fqn(hood.root),
                level: query.level,
                nodes: nodes
                    .into_iter()
                    .map(|(n, distance)| LineageNode {
                        fqn: graph.fqn(n),
                        kind: graph.node(n).kind,
                        owner: graph.owner_name(n).map(str::to_owned),
                        distance,
                    })
                    .collect(),
                edges: edges
                    .into_iter()
                    .map(|e| LineageEdge {
                        from: graph.fqn(e.from),
                        to: graph.fqn(e.to),
                        sources: e.sources,
                    })
                    .collect(),
                total_nodes: hood.nodes.len(),
                next_cursor: (end < hood.nodes.len())
                    .then(|| URL_SAFE_NO_PAD.encode(format!("o:{end}"))),
            })
        })
        .await?;
    page.map(Json).ok_or_else(|| {
        ApiError::not_found(format!(
            "{fqn} is not in the lineage graph yet; retry shortly"
        ))
    })
}
