//! `openapi/openapi.json` is the published contract: it must be what the code generates.
//! Regenerate with `UPDATE_OPENAPI=1 cargo test -p tributary-server --test openapi`
//! (or `tributary openapi > openapi/openapi.json`).

use std::path::PathBuf;

#[test]
fn committed_openapi_document_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json");
    let generated = format!(
        "{}\n",
        tributary_server::api::openapi().to_pretty_json().unwrap()
    );
    if std::env::var("UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p tributary-server --test openapi` and commit it"
    );
}

#[test]
fn every_operation_is_documented_with_its_errors() {
    let doc = serde_json::to_value(tributary_server::api::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/api/v1/services",
        "/api/v1/services/{name}",
        "/api/v1/tables",
        "/api/v1/tables/{fqn}",
        "/api/v1/models",
        "/api/v1/models/{fqn}",
        "/api/v1/teams",
        "/api/v1/teams/{name}",
        "/api/v1/entities/{fqn}",
        "/api/v1/lineage/edges",
        "/api/v1/tokens",
        "/api/v1/tokens/{name}",
        "/health",
        "/ready",
    ] {
        assert!(
            paths.contains_key(route),
            "{route} is not in the OpenAPI document"
        );
    }
    for (route, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                !responses.is_empty(),
                "{method} {route} documents no responses"
            );
            if method != "get" {
                assert!(
                    responses.contains_key("401"),
                    "{method} {route} does not document 401"
                );
            }
        }
    }
}
