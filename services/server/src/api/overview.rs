//! `GET /overview`, what the home page shows at a glance, and `GET /me`, who the caller
//! is (so a client shows editing actions only to those who may use them).

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tributary_catalog::{EntityKind, Role};
use tributary_store::{IncidentStatus, IncidentSummary, IngestionRun, ListQuery};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Viewer;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Active incidents and recent runs shown; the pages behind them list the rest.
const SHOWN: u32 = 10;
/// Services read to name the runs' services; a catalog has tens, not thousands.
const SERVICES_READ: u32 = 10_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(overview))
        .routes(routes!(me))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    /// Live entities by kind.
    pub counts: BTreeMap<EntityKind, usize>,
    pub lineage_edges: usize,
    /// Open and acknowledged incidents, newest first (at most 10).
    pub active_incidents: Vec<IncidentSummary>,
    /// The newest ingestion runs across services, newest first (at most 10).
    pub recent_runs: Vec<RecentRun>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecentRun {
    pub service: String,
    #[serde(flatten)]
    pub run: IngestionRun,
}

/// Counts by kind, active incidents and the newest ingestion runs: the home page.
#[utoipa::path(get, path = "/overview", tag = "overview",
    responses((status = 200, body = Overview), (status = 401, body = ErrorBody)))]
async fn overview(_: Viewer, State(state): State<AppState>) -> Result<Json<Overview>, ApiError> {
    let (counts, lineage_edges) = {
        let graph = state.graph.read();
        (
            graph.live_kinds().into_iter().collect(),
            graph.stats().lineage_edges,
        )
    };
    let mut active_incidents = state
        .store
        .list_incidents(Some(IncidentStatus::Open), SHOWN)
        .await?;
    active_incidents.extend(
        state
            .store
            .list_incidents(Some(IncidentStatus::Acknowledged), SHOWN)
            .await?,
    );
    active_incidents.sort_by_key(|i| std::cmp::Reverse(i.opened_at));
    active_incidents.truncate(SHOWN as usize);
    let active_incidents = active_incidents
        .into_iter()
        .map(|i| IncidentSummary {
            id: i.id,
            title: i.title,
            severity: i.severity,
            status: i.status,
            fqn: i.fqn,
            opened_at: i.opened_at,
        })
        .collect();

    let services = state
        .store
        .list_entities(&ListQuery::first(EntityKind::Service, SERVICES_READ))
        .await?;
    let names: HashMap<Uuid, String> = services.items.into_iter().map(|s| (s.id, s.name)).collect();
    // A run of a service deleted since is history nobody can act on: left out.
    let recent_runs = state
        .store
        .recent_ingestion_runs(SHOWN)
        .await?
        .into_iter()
        .filter_map(|run| {
            let service = names.get(&run.service_id)?.clone();
            Some(RecentRun { service, run })
        })
        .collect();
    Ok(Json(Overview {
        counts,
        lineage_edges,
        active_incidents,
        recent_runs,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The token's name, or `anonymous`.
    pub name: String,
    /// The token's role; none for an anonymous reader.
    pub role: Option<Role>,
    /// Whether this caller may write catalog content (editor or admin).
    pub can_edit: bool,
}

/// Who the caller is: the token's name and role, or an anonymous reader.
#[utoipa::path(get, path = "/me", tag = "tokens",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(Viewer(who): Viewer) -> Json<Me> {
    Json(Me {
        can_edit: who.role.is_some_and(|r| r >= Role::Editor),
        name: who.name,
        role: who.role,
    })
}
