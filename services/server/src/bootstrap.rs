//! First start of an empty catalog: make sure someone can administer it.

use tributary_catalog::Role;
use tributary_store::Store;

use crate::api::tokens::issue_token;
use crate::error::ApiError;

/// Name of the token created on first start.
pub const FIRST_ADMIN: &str = "admin";

/// Creates an admin token when the catalog has no tokens at all, returning its secret.
pub async fn first_admin_token(store: &dyn Store) -> Result<Option<String>, ApiError> {
    if !store.list_tokens().await?.is_empty() {
        return Ok(None);
    }
    let created = issue_token(store, "bootstrap", FIRST_ADMIN, Role::Admin).await?;
    Ok(Some(created.token))
}
