//! The REST API under `/api/v1`: one router per resource, merged here with their OpenAPI.

pub mod documents;
pub mod entities;
pub mod health;
pub mod impact;
pub mod incidents;
pub mod lineage;
pub mod lineage_view;
pub mod models;
pub mod openmetadata;
pub mod overview;
pub mod paging;
pub mod runs;
pub mod search;
pub mod services;
pub mod tables;
pub mod teams;
pub mod tokens;
pub mod trees;
pub mod validate;

use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tributary",
        description = "Metadata catalog and lineage service: tables, columns, ML models and \
                       their features, the lineage between them, and who owns what.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "services", description = "Source systems and how to reach them (admin)"),
        (name = "tables", description = "Tables with their columns"),
        (name = "models", description = "ML models with their features"),
        (name = "teams", description = "Owners of entities, told about incidents"),
        (name = "entities", description = "Any entity by FQN"),
        (name = "lineage", description = "Lineage: edges, the graph around an entity, impact"),
        (name = "search", description = "Find entities by name, feature name or description"),
        (name = "incidents", description = "Incidents on broken entities and team notifications"),
        (name = "tokens", description = "API tokens (admin), and who the caller is"),
        (name = "overview", description = "The catalog at a glance, for the home page"),
        (name = "health", description = "Liveness and readiness")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(services::router())
        .merge(runs::router())
        .merge(tables::router())
        .merge(models::router())
        .merge(teams::router())
        .merge(entities::router())
        .merge(lineage::router())
        .merge(documents::router())
        .merge(lineage_view::router())
        .merge(openmetadata::router())
        .merge(impact::router())
        .merge(search::router())
        .merge(incidents::router())
        .merge(tokens::router())
        .merge(overview::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .merge(health::router())
}

/// The published API contract (`openapi/openapi.json`).
pub fn openapi() -> OpenApiDoc {
    router().into_openapi()
}
