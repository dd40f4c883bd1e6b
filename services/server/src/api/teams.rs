//! `/teams`: who owns what and how to reach them (admin writes).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tributary_catalog::{Team, TeamDraft, validate_name};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::validate::validate_text;
use crate::auth::{Admin, Viewer};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams))
        .routes(routes!(get_team, put_team))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamRequest {
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// E-mail address or chat channel.
    pub contact: Option<String>,
    /// Incoming-webhook URL (http or https) for incident notifications; Slack and
    /// Mattermost incoming webhooks work as they are.
    pub webhook_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamList {
    pub items: Vec<Team>,
}

fn validate_webhook(url: Option<&str>) -> Result<(), ApiError> {
    let Some(url) = url else { return Ok(()) };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
    if !host_ok || url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "webhook_url must be an http:// or https:// URL with a host",
        ));
    }
    Ok(())
}

/// Every team.
#[utoipa::path(get, path = "/teams", tag = "teams",
    responses((status = 200, body = TeamList), (status = 401, body = ErrorBody)))]
async fn list_teams(_: Viewer, State(state): State<AppState>) -> Result<Json<TeamList>, ApiError> {
    Ok(Json(TeamList {
        items: state.store.list_teams().await?,
    }))
}

/// One team.
#[utoipa::path(get, path = "/teams/{name}", tag = "teams",
    params(("name" = String, Path, description = "Team name", example = "churn-squad")),
    responses((status = 200, body = Team), (status = 404, body = ErrorBody)))]
async fn get_team(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Team>, ApiError> {
    validate_name(&name)?;
    Ok(Json(state.store.get_team(&name).await?))
}

/// Creates or replaces a team.
#[utoipa::path(put, path = "/teams/{name}", tag = "teams",
    params(("name" = String, Path, description = "Team name", example = "churn-squad")),
    request_body = TeamRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Team),
        (status = 200, description = "Updated or unchanged", body = Team),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn put_team(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<TeamRequest>,
) -> Result<(StatusCode, Json<Team>), ApiError> {
    validate_name(&name)?;
    validate_text("display_name", body.display_name.as_deref())?;
    validate_text("description", body.description.as_deref())?;
    validate_text("contact", body.contact.as_deref())?;
    validate_webhook(body.webhook_url.as_deref())?;
    let draft = TeamDraft {
        name,
        display_name: body.display_name,
        description: body.description,
        contact: body.contact,
        webhook_url: body.webhook_url,
    };
    let (team, created) = state.store.put_team(who.actor(), draft).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(team)))
}
