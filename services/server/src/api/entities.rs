//! `/entities/{fqn}`: any entity with its parent chain, children and nearest lineage.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tributary_catalog::{Edge, Entity, EntityKind, Fqn};
use tributary_store::{ChildCount, IncidentSummary};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Viewer;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiPath;
use crate::state::AppState;

/// How many edges each side of an entity page lists.
const EDGE_PREVIEW: u32 = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_entity))
}

/// How many entities a delete soft-deleted (the entity and all it contains).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteResult {
    pub deleted: u64,
}

/// A containing entity, from the service down.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParentRef {
    pub kind: EntityKind,
    pub fqn: Fqn,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntityDetail {
    pub entity: Entity,
    /// Containing entities, outermost first.
    pub parents: Vec<ParentRef>,
    /// Live children per kind.
    pub children: Vec<ChildCount>,
    /// Edges into this entity (at most 100; the lineage endpoint pages further).
    pub upstream: Vec<Edge>,
    /// Edges out of this entity (at most 100).
    pub downstream: Vec<Edge>,
    /// Open or acknowledged incidents on this entity or upstream of it.
    pub incidents: Vec<IncidentSummary>,
}

/// Any live entity by FQN.
#[utoipa::path(get, path = "/entities/{fqn}", tag = "entities",
    params(("fqn" = String, Path, description = "FQN of any entity",
        example = "hive_prod.dwh.client_marts.features_daily.avg_check_30d")),
    responses((status = 200, body = EntityDetail), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_entity(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(fqn): ApiPath<String>,
) -> Result<Json<EntityDetail>, ApiError> {
    let fqn = Fqn::parse(&fqn)?;
    let entity = state.store.get_entity(&fqn).await?;
    let mut ancestors = Vec::new();
    let mut next = fqn.parent();
    while let Some(parent) = next {
        next = parent.parent();
        ancestors.push(parent);
    }
    let mut parents: Vec<ParentRef> = state
        .store
        .entities_by_fqn(&ancestors)
        .await?
        .into_iter()
        .map(|e| ParentRef {
            kind: e.kind,
            fqn: e.fqn,
            name: e.name,
        })
        .collect();
    parents.sort_by_key(|p| p.fqn.parts().len());
    let children = state.store.child_counts(entity.id).await?;
    let (upstream, downstream) = state.store.edges_of(entity.id, EDGE_PREVIEW).await?;
    let incidents = state.store.active_incidents_touching(entity.id).await?;
    Ok(Json(EntityDetail {
        entity,
        parents,
        children,
        upstream,
        downstream,
        incidents,
    }))
}
