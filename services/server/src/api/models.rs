//! `/models`: ML models with their features, hyperparameters and owners.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tributary_catalog::{Entity, EntityDraft, EntityKind, Fqn, validate_name};
use tributary_store::{EntityTree, WriteCounts};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::entities::DeleteResult;
use crate::api::paging::PageOf;
use crate::api::trees;
use crate::api::validate::{FieldErrors, validate_tags, validate_text};
use crate::auth::{Editor, Viewer};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models, put_model))
        .routes(routes!(get_model, delete_model))
}

/// A model with the full set of its features; features not listed are soft-deleted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelRequest {
    /// `service.model`, e.g. `mlflow_prod.churn_model`.
    #[schema(example = "mlflow_prod.churn_model")]
    pub fqn: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// Owning team.
    #[schema(example = "churn-squad")]
    pub owner: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub algorithm: Option<String>,
    /// The model's version as the registry numbers it.
    pub version: Option<String>,
    #[serde(default)]
    pub hyperparameters: Vec<Hyperparameter>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attrs: Map<String, Value>,
    #[serde(default)]
    pub features: Vec<FeatureRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hyperparameter {
    pub name: String,
    pub value: String,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureRequest {
    pub name: String,
    /// `numerical`, `categorical`, or the source type (`double`, `string`, …).
    pub data_type: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelView {
    pub model: Entity,
    pub features: Vec<Entity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<WriteCounts>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub service: Option<String>,
    pub owner: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

pub fn model_draft(body: ModelRequest) -> Result<EntityTree, ApiError> {
    let fqn = Fqn::parse_as(&body.fqn, EntityKind::MlModel)?;
    let mut errors = FieldErrors::default();
    errors.check(
        "display_name",
        validate_text("display_name", body.display_name.as_deref()),
    );
    errors.check(
        "description",
        validate_text("description", body.description.as_deref()),
    );
    errors.check(
        "algorithm",
        validate_text("algorithm", body.algorithm.as_deref()),
    );
    errors.check("version", validate_text("version", body.version.as_deref()));
    let tags = validate_tags(body.tags).inspect_err(|e| errors.add("tags", e.message.clone()));
    let mut names = HashSet::new();
    for (i, p) in body.hyperparameters.iter().enumerate() {
        if let Err(e) = validate_name(&p.name) {
            errors.add(format!("hyperparameters[{i}].name"), e.to_string());
        } else if !names.insert(p.name.as_str()) {
            errors.add(
                format!("hyperparameters[{i}].name"),
                format!("{:?} is listed twice", p.name),
            );
        }
        errors.check(
            format!("hyperparameters[{i}].value"),
            validate_text("value", Some(&p.value)),
        );
    }
    let mut seen = HashSet::with_capacity(body.features.len());
    let mut features = Vec::with_capacity(body.features.len());
    for (i, feature) in body.features.into_iter().enumerate() {
        let field = |f: &str| format!("features[{i}].{f}");
        if let Err(e) = validate_name(&feature.name) {
            errors.add(field("name"), e.to_string());
            continue;
        }
        if !seen.insert(feature.name.clone()) {
            errors.add(
                field("name"),
                format!("feature {:?} is listed twice", feature.name),
            );
            continue;
        }
        errors.check(
            field("description"),
            validate_text("description", feature.description.as_deref()),
        );
        errors.check(
            field("data_type"),
            validate_text("data_type", feature.data_type.as_deref()),
        );
        let Ok(tags) = validate_tags(feature.tags)
            .inspect_err(|e| errors.add(field("tags"), e.message.clone()))
        else {
            continue;
        };
        let mut draft = EntityDraft::bare(EntityKind::Feature, fqn.child(&feature.name)?, "api");
        draft.description = feature.description;
        draft.tags = tags;
        draft.owner = body.owner.clone();
        draft.attrs = json!({ "ordinal": i, "data_type": feature.data_type });
        features.push(draft);
    }
    errors.finish()?;
    let mut attrs = body.attrs;
    attrs.insert("algorithm".into(), json!(body.algorithm));
    attrs.insert("version".into(), json!(body.version));
    attrs.insert("hyperparameters".into(), json!(body.hyperparameters));
    let mut root = EntityDraft::bare(EntityKind::MlModel, fqn, "api");
    root.display_name = body.display_name;
    root.description = body.description;
    root.owner = body.owner;
    root.tags = tags?;
    root.attrs = Value::Object(attrs);
    Ok(EntityTree {
        root,
        children: Some(features),
    })
}

/// Creates or replaces a model with all its features, in one transaction.
#[utoipa::path(put, path = "/models", tag = "models", security(("bearer" = [])),
    request_body = ModelRequest,
    responses(
        (status = 201, description = "Created", body = ModelView),
        (status = 200, description = "Updated or unchanged", body = ModelView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "The FQN names another kind", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "Unknown service or owner", body = ErrorBody)))]
async fn put_model(
    Editor(who): Editor,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ModelRequest>,
) -> Result<(StatusCode, Json<ModelView>), ApiError> {
    let tree = model_draft(body)?;
    let (status, model, features, counts) = trees::write(&state, &who, tree).await?;
    Ok((
        status,
        Json(ModelView {
            model,
            features,
            written: Some(counts),
        }),
    ))
}

/// A model with its features.
#[utoipa::path(get, path = "/models/{fqn}", tag = "models",
    params(("fqn" = String, Path, description = "Model FQN", example = "mlflow_prod.churn_model")),
    responses((status = 200, body = ModelView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_model(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(fqn): ApiPath<String>,
) -> Result<Json<ModelView>, ApiError> {
    let (model, features) = trees::read(&state, EntityKind::MlModel, &fqn).await?;
    Ok(Json(ModelView {
        model,
        features,
        written: None,
    }))
}

/// Models, a page at a time, by FQN.
#[utoipa::path(get, path = "/models", tag = "models", params(ListParams),
    responses((status = 200, body = PageOf<Entity>), (status = 400, body = ErrorBody)))]
async fn list_models(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<PageOf<Entity>>, ApiError> {
    let within = params
        .service
        .as_deref()
        .map(|s| Fqn::from_parts([s]))
        .transpose()?;
    let page = trees::page(
        &state,
        EntityKind::MlModel,
        within,
        params.owner,
        params.limit,
        params.cursor.as_deref(),
    )
    .await?;
    Ok(Json(page))
}

/// Soft-deletes a model and its features.
#[utoipa::path(delete, path = "/models/{fqn}", tag = "models", security(("bearer" = [])),
    params(("fqn" = String, Path, description = "Model FQN", example = "mlflow_prod.churn_model")),
    responses((status = 200, body = DeleteResult), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_model(
    Editor(who): Editor,
    State(state): State<AppState>,
    ApiPath(fqn): ApiPath<String>,
) -> Result<Json<DeleteResult>, ApiError> {
    Ok(Json(
        trees::delete(&state, &who, EntityKind::MlModel, &fqn).await?,
    ))
}
