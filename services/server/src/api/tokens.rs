//! `/tokens`: API tokens (admin only). A token's secret is shown once, when created.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tributary_catalog::{Role, validate_name};
use tributary_store::{NewToken, Store, TokenRecord};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Admin, generate_token, hash_token};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub name: String,
    pub role: Role,
}

/// A new token: `token` is the secret, shown only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: String,
    pub record: TokenRecord,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenRecord>,
}

/// Creates a token; used by the API and by `tributary token create`.
pub async fn issue_token(
    store: &dyn Store,
    actor: &str,
    name: &str,
    role: Role,
) -> Result<CreatedToken, ApiError> {
    validate_name(name)?;
    let token = generate_token();
    let record = store
        .create_token(
            actor,
            NewToken {
                name: name.to_owned(),
                role,
                hash: hash_token(&token),
            },
        )
        .await?;
    Ok(CreatedToken { token, record })
}

/// Every token, live and revoked, without secrets.
#[utoipa::path(get, path = "/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn list_tokens(_: Admin, State(state): State<AppState>) -> Result<Json<TokenList>, ApiError> {
    Ok(Json(TokenList {
        items: state.store.list_tokens().await?,
    }))
}

/// Creates a token and returns its secret once.
#[utoipa::path(post, path = "/tokens", tag = "tokens", security(("bearer" = [])),
    request_body = TokenRequest,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "A live token has this name", body = ErrorBody)))]
async fn create_token(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let created = issue_token(state.store.as_ref(), who.actor(), &body.name, body.role).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes the live token of this name.
#[utoipa::path(delete, path = "/tokens/{name}", tag = "tokens", security(("bearer" = [])),
    params(("name" = String, Path, description = "Token name")),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn revoke_token(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.store.revoke_token(who.actor(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
