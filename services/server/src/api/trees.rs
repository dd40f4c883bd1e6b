//! The steps shared by resources that are an entity with its children (a table and its
//! columns, a model and its features): read one, list a page, soft-delete one.

use axum::http::StatusCode;
use tributary_catalog::{Entity, EntityKind, Fqn};
use tributary_store::{EntityTree, ListQuery, WriteCounts};

use crate::api::entities::DeleteResult;
use crate::api::paging::{self, PageOf};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The live entity of `kind` at `fqn` with its children in declared order.
pub async fn read(
    state: &AppState,
    kind: EntityKind,
    fqn: &str,
) -> Result<(Entity, Vec<Entity>), ApiError> {
    let fqn = Fqn::parse_as(fqn, kind)?;
    let entity = state.store.get_entity(&fqn).await?;
    if entity.kind != kind {
        return Err(ApiError::not_found(format!("{kind} {fqn} not found")));
    }
    let children = in_declared_order(state.store.children(entity.id).await?);
    Ok((entity, children))
}

/// Writes an entity with its children in one transaction; returns it, its children in
/// declared order, what the write did, and 201 or 200.
pub async fn write(
    state: &AppState,
    who: &Principal,
    tree: EntityTree,
) -> Result<(StatusCode, Entity, Vec<Entity>, WriteCounts), ApiError> {
    let written = state.store.put_entity_tree(who.actor(), tree).await?;
    let children = in_declared_order(state.store.children(written.root.id).await?);
    let status = if written.root_created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, written.root, children, written.counts))
}

/// Children in their declared order (`attrs.ordinal`), then by name.
fn in_declared_order(mut children: Vec<Entity>) -> Vec<Entity> {
    children.sort_by_key(|c| {
        (
            c.attrs["ordinal"].as_u64().unwrap_or(u64::MAX),
            c.name.clone(),
        )
    });
    children
}

/// One page of live entities of `kind`, optionally within a container and for one owner.
pub async fn page(
    state: &AppState,
    kind: EntityKind,
    within: Option<Fqn>,
    owner: Option<String>,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<PageOf<Entity>, ApiError> {
    let page = state
        .store
        .list_entities(&ListQuery {
            kind,
            within,
            owner,
            after: paging::decode_cursor(cursor)?,
            limit: paging::limit(limit)?,
        })
        .await?;
    Ok(PageOf {
        items: page.items,
        next_cursor: page.next_after.as_deref().map(paging::encode_cursor),
    })
}

/// Soft-deletes the entity of `kind` at `fqn` and everything it contains.
pub async fn delete(
    state: &AppState,
    who: &Principal,
    kind: EntityKind,
    fqn: &str,
) -> Result<DeleteResult, ApiError> {
    let fqn = Fqn::parse_as(fqn, kind)?;
    let deleted = state.store.delete_entity(who.actor(), kind, &fqn).await?;
    Ok(DeleteResult { deleted })
}
