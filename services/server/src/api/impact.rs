//! `/impact`: what breaks downstream of an entity, grouped by the teams to tell.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tributary_catalog::{EntityKind, Fqn};
use tributary_graph::{Impact, ImpactQuery, LineageGraph};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Viewer;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;
use crate::live_graph::LiveGraph;
use crate::state::AppState;

/// Kinds reported when a request names none: what consumes data.
pub const DEFAULT_KINDS: [EntityKind; 3] = [
    EntityKind::MlModel,
    EntityKind::Dashboard,
    EntityKind::Pipeline,
];
pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 100_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_impact))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImpactParams {
    /// The broken entity: a column, table, schema, service, feature or model.
    #[param(example = "hive_prod.dwh.client_marts.features_daily.avg_check_30d")]
    pub fqn: String,
    /// Lineage hops to follow; absent means no limit.
    pub depth: Option<u32>,
    /// Comma-separated kinds to report (default `ml_model,dashboard,pipeline`).
    #[param(example = "ml_model,dashboard")]
    pub kinds: Option<String>,
    /// Most entities to list, nearest first (default 1000).
    pub limit: Option<usize>,
}

/// One hit entity.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImpactedEntity {
    /// FQN of the hit entity.
    #[schema(value_type = String)]
    pub fqn: Arc<str>,
    pub kind: EntityKind,
    /// Lineage hops from the root (a table's own columns are 0).
    pub distance: u32,
    /// FQNs of one shortest path from the root to this entity, both included.
    #[schema(value_type = Vec<String>)]
    pub path: Vec<Arc<str>>,
}

/// The hit entities one team owns, and how to reach the team.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamImpact {
    pub team: String,
    pub display_name: Option<String>,
    pub contact: Option<String>,
    pub entities: Vec<ImpactedEntity>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RootRef {
    pub id: Uuid,
    pub fqn: Fqn,
    pub kind: EntityKind,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImpactReport {
    pub root: RootRef,
    pub depth: Option<u32>,
    pub kinds: Vec<EntityKind>,
    /// Entities of the asked kinds reached, before `limit`.
    pub total: usize,
    /// Whether `limit` cut the list.
    pub truncated: bool,
    /// Every entity reached, by kind (columns, tables, features… included).
    pub counts: BTreeMap<EntityKind, usize>,
    /// Hit entities by owning team, teams in name order.
    pub teams: Vec<TeamImpact>,
    /// Hit entities nobody owns.
    pub unowned: Vec<ImpactedEntity>,
}

pub fn parse_kinds(kinds: Option<&str>) -> Result<Vec<EntityKind>, ApiError> {
    match kinds {
        None => Ok(DEFAULT_KINDS.to_vec()),
        Some(list) => list
            .split(',')
            .map(|k| k.trim().parse::<EntityKind>().map_err(ApiError::from))
            .collect(),
    }
}

/// Builds the report for `root`; shared by this endpoint and incidents.
pub fn report(
    graph: &LineageGraph,
    live: &LiveGraph,
    impact: &Impact,
    query: &ImpactQuery,
) -> ImpactReport {
    let root = impact.root;
    let node = graph.node(root);
    // Paths share most of their nodes and ancestors: each FQN is formatted once.
    let mut fqns = graph.fqn_cache();
    let mut teams: BTreeMap<&str, Vec<ImpactedEntity>> = BTreeMap::new();
    let mut unowned = Vec::new();
    for hit in &impact.hits {
        let item = ImpactedEntity {
            fqn: fqns.get(hit.node),
            kind: graph.node(hit.node).kind,
            distance: hit.distance,
            path: hit.path.iter().map(|&p| fqns.get(p)).collect(),
        };
        match graph.owner_name(hit.node) {
            Some(owner) => teams.entry(owner).or_default().push(item),
            None => unowned.push(item),
        }
    }
    ImpactReport {
        root: RootRef {
            id: node.id,
            fqn: graph.fqn(root),
            kind: node.kind,
            owner: graph.owner_name(root).map(str::to_owned),
        },
        depth: query.max_depth,
        kinds: query.kinds.clone(),
        total: impact.matched,
        truncated: impact.truncated,
        counts: impact.counts.clone(),
        teams: teams
            .into_iter()
            .map(|(team, entities)| {
                let known = live.team(team);
                TeamImpact {
                    display_name: known.as_ref().and_then(|t| t.display_name.clone()),
                    contact: known.and_then(|t| t.contact),
                    team: team.to_owned(),
                    entities,
                }
            })
            .collect(),
        unowned,
    }
}

/// Resolves an FQN to a live entity's id and walks the graph from it.
pub async fn impact_of(
    state: &AppState,
    fqn: &Fqn,
    query: &ImpactQuery,
) -> Result<ImpactReport, ApiError> {
    let entity = state.store.get_entity(fqn).await?;
    let report = state
        .graph
        .answer(state.store.as_ref(), |graph| {
            let impact = graph.impact(entity.id, query)?;
            Some(report(graph, &state.graph, &impact, query))
        })
        .await?;
    report.ok_or_else(|| {
        ApiError::not_found(format!(
            "{fqn} is not in the lineage graph yet; retry shortly"
        ))
    })
}

/// Every downstream entity of the asked kinds, with distance and path, grouped by team.
#[utoipa::path(get, path = "/impact", tag = "lineage", params(ImpactParams),
    responses((status = 200, body = ImpactReport), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_impact(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ImpactParams>,
) -> Result<Json<ImpactReport>, ApiError> {
    let fqn = Fqn::parse(&params.fqn)?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be 1 to {MAX_LIMIT}"),
        ));
    }
    let query = ImpactQuery {
        max_depth: params.depth,
        kinds: parse_kinds(params.kinds.as_deref())?,
        limit,
    };
    Ok(Json(impact_of(&state, &fqn, &query).await?))
}
