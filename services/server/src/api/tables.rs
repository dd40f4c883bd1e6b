//! `/tables`: tables with their columns, written whole in one transaction.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
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
        .routes(routes!(list_tables, put_table))
        .routes(routes!(get_table, delete_table))
}

/// A table with the full set of its columns; columns not listed are soft-deleted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TableRequest {
    /// `service.database.schema.table`; the database and schema are created if missing.
    #[schema(example = "hive_prod.dwh.client_marts.features_daily")]
    pub fqn: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    #[schema(example = "data-platform")]
    pub owner: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `table`, `view`, `materialized_view`, `external`, …
    pub table_type: Option<String>,
    /// More attributes, kept as given.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attrs: Map<String, Value>,
    pub columns: Vec<ColumnRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnRequest {
    pub name: String,
    /// The type as the source system spells it: `bigint`, `Nullable(String)`, `decimal(18,2)`.
    pub data_type: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub nullable: Option<bool>,
    #[serde(default)]
    pub primary_key: bool,
    #[serde(default)]
    pub partition_key: bool,
}

/// A table and its columns in their declared order.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableView {
    pub table: Entity,
    pub columns: Vec<Entity>,
    /// What the write did (in PUT responses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<WriteCounts>,
}

/// Filters narrow by containment: `database` needs `service`, `schema` needs both.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    #[param(example = "hive_prod")]
    pub service: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub owner: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The FQN prefix that `service`, `database`, `schema` filters select.
pub fn containment_filter(parts: &[(&str, Option<&String>)]) -> Result<Option<Fqn>, ApiError> {
    let mut given = Vec::new();
    for (i, (name, value)) in parts.iter().enumerate() {
        match value {
            Some(v) if given.len() == i => given.push(v.as_str()),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("{name} needs {} too", parts[i - 1].0),
                ));
            }
            None => {}
        }
    }
    if given.is_empty() {
        return Ok(None);
    }
    Ok(Some(Fqn::from_parts(given)?))
}

pub fn table_draft(body: TableRequest) -> Result<EntityTree, ApiError> {
    let fqn = Fqn::parse_as(&body.fqn, EntityKind::Table)?;
    let mut errors = FieldErrors::default();
    errors.check(
        "display_name",
        validate_text("display_name", body.display_name.as_deref()),
    );
    errors.check(
        "description",
        validate_text("description", body.description.as_deref()),
    );
    let tags = validate_tags(body.tags).inspect_err(|e| errors.add("tags", e.message.clone()));
    let mut seen = HashSet::with_capacity(body.columns.len());
    let mut columns = Vec::with_capacity(body.columns.len());
    for (i, column) in body.columns.into_iter().enumerate() {
        let field = |f: &str| format!("columns[{i}].{f}");
        if let Err(e) = validate_name(&column.name) {
            errors.add(field("name"), e.to_string());
            continue;
        }
        if !seen.insert(column.name.clone()) {
            errors.add(
                field("name"),
                format!("column {:?} is listed twice", column.name),
            );
            continue;
        }
        if column.data_type.trim().is_empty() || column.data_type.chars().count() > 1024 {
            errors.add(field("data_type"), "data_type must be 1 to 1024 characters");
        }
        errors.check(
            field("description"),
            validate_text("description", column.description.as_deref()),
        );
        let tags = match validate_tags(column.tags) {
            Ok(tags) => tags,
            Err(e) => {
                errors.add(field("tags"), e.message);
                continue;
            }
        };
        let mut attrs = Map::new();
        attrs.insert("data_type".into(), column.data_type.into());
        attrs.insert("ordinal".into(), (i as u64).into());
        if let Some(nullable) = column.nullable {
            attrs.insert("nullable".into(), nullable.into());
        }
        if column.primary_key {
            attrs.insert("primary_key".into(), true.into());
        }
        if column.partition_key {
            attrs.insert("partition_key".into(), true.into());
        }
        let mut draft = EntityDraft::bare(EntityKind::Column, fqn.child(&column.name)?, "api");
        draft.display_name = column.display_name;
        draft.description = column.description;
        draft.tags = tags;
        draft.attrs = Value::Object(attrs);
        draft.owner = body.owner.clone();
        columns.push(draft);
    }
    errors.finish()?;
    let mut attrs = body.attrs;
    if let Some(table_type) = body.table_type {
        attrs.insert("table_type".into(), table_type.into());
    }
    let mut root = EntityDraft::bare(EntityKind::Table, fqn, "api");
    root.display_name = body.display_name;
    root.description = body.description;
    root.owner = body.owner;
    root.tags = tags?;
    root.attrs = Value::Object(attrs);
    Ok(EntityTree {
        root,
        children: Some(columns),
    })
}

/// Creates or replaces a table with all its columns, in one transaction.
#[utoipa::path(put, path = "/tables", tag = "tables", security(("bearer" = [])),
    request_body = TableRequest,
    responses(
        (status = 201, description = "Created", body = TableView),
        (status = 200, description = "Updated or unchanged", body = TableView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "Unknown service or owner", body = ErrorBody)))]
async fn put_table(
    Editor(who): Editor,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TableRequest>,
) -> Result<(StatusCode, Json<TableView>), ApiError> {
    let tree = table_draft(body)?;
    let (status, table, columns, counts) = trees::write(&state, &who, tree).await?;
    Ok((
        status,
        Json(TableView {
            table,
            columns,
            written: Some(counts),
        }),
    ))
}

/// A table with its columns.
#[utoipa::path(get, path = "/tables/{fqn}", tag = "tables",
    params(("fqn" = String, Path, description = "Table FQN", example = "hive_prod.dwh.client_marts.features_daily")),
    responses((status = 200, body = TableView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_table(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(fqn): ApiPath<String>,
) -> Result<Json<TableView>, ApiError> {
    let (table, columns) = trees::read(&state, EntityKind::Table, &fqn).await?;
    Ok(Json(TableView {
        table,
        columns,
        written: None,
    }))
}

/// Tables, a page at a time, by FQN.
#[utoipa::path(get, path = "/tables", tag = "tables", params(ListParams),
    responses((status = 200, body = PageOf<Entity>), (status = 400, body = ErrorBody)))]
async fn list_tables(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<PageOf<Entity>>, ApiError> {
    let within = containment_filter(&[
        ("service", params.service.as_ref()),
        ("database", params.database.as_ref()),
        ("schema", params.schema.as_ref()),
    ])?;
    let page = trees::page(
        &state,
        EntityKind::Table,
        within,
        params.owner,
        params.limit,
        params.cursor.as_deref(),
    )
    .await?;
    Ok(Json(page))
}

/// Soft-deletes a table and its columns.
#[utoipa::path(delete, path = "/tables/{fqn}", tag = "tables", security(("bearer" = [])),
    params(("fqn" = String, Path, description = "Table FQN", example = "hive_prod.dwh.client_marts.features_daily")),
    responses((status = 200, body = DeleteResult), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_table(
    Editor(who): Editor,
    State(state): State<AppState>,
    ApiPath(fqn): ApiPath<String>,
) -> Result<Json<DeleteResult>, ApiError> {
    Ok(Json(
        trees::delete(&state, &who, EntityKind::Table, &fqn).await?,
    ))
}
