//! `/incidents`: open an incident on a broken entity, snapshot its impact, and tell every
//! affected team through its webhook; then acknowledge and resolve it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tributary_catalog::Fqn;
use tributary_graph::ImpactQuery;
use tributary_store::{Delivery, Incident, IncidentStatus, NewDelivery, NewIncident, Severity};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::impact::{self, ImpactReport, ImpactedEntity};
use crate::api::validate::{FieldErrors, validate_text};
use crate::auth::{Editor, Viewer};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// Entities a notification lists in its `text` before saying "and N more".
const TEXT_ITEMS: usize = 10;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents, open_incident))
        .routes(routes!(get_incident))
        .routes(routes!(acknowledge_incident))
        .routes(routes!(resolve_incident))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentRequest {
    /// The broken entity.
    #[schema(example = "hive_prod.dwh.client_marts.features_daily.avg_check_30d")]
    pub fqn: String,
    #[schema(example = "avg_check_30d is empty since the 03:00 load")]
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
}

/// An incident with its webhook deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDetail {
    pub incident: Incident,
    pub deliveries: Vec<Delivery>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentList {
    pub items: Vec<Incident>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only incidents in this state.
    pub status: Option<IncidentStatus>,
    /// At most this many, newest first (1 to 1000, default 100).
    pub limit: Option<u32>,
}

fn text_line(item: &ImpactedEntity) -> String {
    let via = if item.path.len() > 2 {
        format!(" (via {})", item.path[1..item.path.len() - 1].join(" → "))
    } else {
        String::new()
    };
    format!("• {} {}{via}", item.kind, item.fqn)
}

/// The body posted to one team's webhook. `text` makes it a valid Slack or Mattermost
/// incoming-webhook message as it is.
fn payload(
    incident: &Value,
    report: &ImpactReport,
    team: &str,
    affected: &[ImpactedEntity],
) -> Value {
    let severity = incident["severity"]
        .as_str()
        .unwrap_or_default()
        .to_uppercase();
    let mut text = format!(
        "[{severity}] {}\n{} {} broke. ",
        incident["title"].as_str().unwrap_or_default(),
        report.root.kind,
        report.root.fqn
    );
    if affected.is_empty() {
        text.push_str(&format!("It is owned by {team}."));
    } else {
        text.push_str(&format!(
            "{} of {team}'s entities are affected:\n",
            affected.len()
        ));
        for item in affected.iter().take(TEXT_ITEMS) {
            text.push_str(&text_line(item));
            text.push('\n');
        }
        if affected.len() > TEXT_ITEMS {
            text.push_str(&format!("…and {} more.", affected.len() - TEXT_ITEMS));
        }
    }
    json!({
        "event": "incident.opened",
        "text": text,
        "incident": incident,
        "root": report.root,
        "team": team,
        "affected": affected,
    })
}

/// Opens an incident: snapshots the impact and queues one notification per affected team.
#[utoipa::path(post, path = "/incidents", tag = "incidents", security(("bearer" = [])),
    request_body = IncidentRequest,
    responses((status = 201, body = IncidentDetail), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn open_incident(
    Editor(who): Editor,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<IncidentRequest>,
) -> Result<(StatusCode, Json<IncidentDetail>), ApiError> {
    let fqn = Fqn::parse(&body.fqn)?;
    let mut errors = FieldErrors::default();
    if body.title.trim().is_empty() || body.title.chars().count() > 500 {
        errors.add("title", "title must be 1 to 500 characters");
    }
    errors.check("title", validate_text("title", Some(&body.title)));
    errors.check(
        "description",
        validate_text("description", body.description.as_deref()),
    );
    errors.finish()?;

    let query = ImpactQuery {
        max_depth: None,
        kinds: impact::DEFAULT_KINDS.to_vec(),
        limit: impact::MAX_LIMIT,
    };
    let report = impact::impact_of(&state, &fqn, &query).await?;
    let touched = state
        .graph
        .read()
        .reach(report.root.id, None)
        .unwrap_or_default();
    let id = Uuid::now_v7();
    let summary = json!({
        "id": id, "title": body.title, "description": body.description, "severity": body.severity,
        "status": IncidentStatus::Open, "opened_by": who.actor(), "fqn": fqn,
        "url": format!("/api/v1/incidents/{id}"),
    });
    // Every team owning a hit entity, and the root's owner, whose entity broke.
    let mut teams: Vec<(String, Vec<ImpactedEntity>)> = report
        .teams
        .iter()
        .map(|t| (t.team.clone(), t.entities.clone()))
        .collect();
    if let Some(owner) = &report.root.owner
        && !teams.iter().any(|(t, _)| t == owner)
    {
        teams.push((owner.clone(), Vec::new()));
    }
    let deliveries = teams
        .iter()
        .filter_map(|(team, affected)| {
            let url = state.graph.team(team)?.webhook_url?;
            Some(NewDelivery {
                team: team.clone(),
                url,
                payload: payload(&summary, &report, team, affected),
            })
        })
        .collect();
    let incident = state
        .store
        .open_incident(
            who.actor(),
            NewIncident {
                id,
                entity_id: report.root.id,
                fqn: fqn.to_string(),
                title: body.title,
                description: body.description,
                severity: body.severity,
                snapshot: serde_json::to_value(&report).map_err(|e| ApiError::internal(&e))?,
                touched,
                deliveries,
            },
        )
        .await?;
    if let Some(notifier) = &state.notifier {
        notifier.wake();
    }
    let deliveries = state.store.deliveries_of(incident.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(IncidentDetail {
            incident,
            deliveries,
        }),
    ))
}

/// Incidents, newest first.
#[utoipa::path(get, path = "/incidents", tag = "incidents", params(ListParams),
    responses((status = 200, body = IncidentList), (status = 400, body = ErrorBody)))]
async fn list_incidents(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<IncidentList>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be 1 to 1000",
        ));
    }
    Ok(Json(IncidentList {
        items: state.store.list_incidents(params.status, limit).await?,
    }))
}

/// One incident with its impact snapshot and notification deliveries.
#[utoipa::path(get, path = "/incidents/{id}", tag = "incidents",
    params(("id" = Uuid, Path, description = "Incident id")),
    responses((status = 200, body = IncidentDetail), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_incident(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<IncidentDetail>, ApiError> {
    let incident = state.store.get_incident(id).await?;
    let deliveries = state.store.deliveries_of(id).await?;
    Ok(Json(IncidentDetail {
        incident,
        deliveries,
    }))
}

/// Someone is on it.
#[utoipa::path(post, path = "/incidents/{id}/acknowledge", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Incident id")),
    responses((status = 200, body = Incident), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "Already acknowledged or resolved", body = ErrorBody)))]
async fn acknowledge_incident(
    Editor(who): Editor,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Incident>, ApiError> {
    Ok(Json(
        state.store.acknowledge_incident(who.actor(), id).await?,
    ))
}

/// It is fixed.
#[utoipa::path(post, path = "/incidents/{id}/resolve", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Incident id")),
    responses((status = 200, body = Incident), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "Already resolved", body = ErrorBody)))]
async fn resolve_incident(
    Editor(who): Editor,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Incident>, ApiError> {
    Ok(Json(state.store.resolve_incident(who.actor(), id).await?))
}
