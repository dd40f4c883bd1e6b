//! The web UI: the files `npm run build` leaves in `ui/dist`, embedded into the binary at
//! build time, served at `/` with deep links answered by `index.html` (the UI routes in
//! the browser). When the UI was not built, every page says how to build it.

use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error;

/// Embedded in debug builds too (`debug-embed`), so what a test serves is what ships.
/// `allow_missing`: `cargo build` works before (and without) the UI build.
#[derive(RustEmbed)]
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Assets;

/// Paths that belong to the API and never fall through to the UI.
const API_PREFIXES: [&str; 3] = ["/api/", "/health", "/ready"];

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Tributary: UI not built</title></head><body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\">\
<h1>The web UI is not built</h1><p>This binary was compiled before <code>ui/dist</code> existed. \
Build the UI, then the binary:</p><pre>(cd ui &amp;&amp; npm ci &amp;&amp; npm run build)\ncargo build --bin tributary</pre>\
<p>or run <code>scripts/demo</code>, which does both. The API works meanwhile: \
<a href=\"/api/docs\">/api/docs</a>.</p></body></html>";

/// The router's fallback: UI files and pages for `GET`/`HEAD`, the API's 404 otherwise.
pub async fn serve(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if !matches!(method, Method::GET | Method::HEAD)
        || API_PREFIXES
            .iter()
            .any(|p| path.starts_with(p) || path == p.trim_end_matches('/'))
    {
        return error::no_route().await.into_response();
    }
    let file = path.trim_start_matches('/');
    if let Some(asset) = (!file.is_empty()).then(|| Assets::get(file)).flatten() {
        // Vite names bundles by content hash: they never change under one name.
        let cache = if file.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (header::CONTENT_TYPE, mime(asset.metadata.mimetype())),
                (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            ],
            asset.data,
        )
            .into_response();
    }
    // A missing bundle or top-level file (`/favicon.ico`) is a 404; anything else is a
    // page of the UI, whose paths end in FQNs full of dots (`/models/mlflow.churn`).
    if file.starts_with("assets/") || (!file.contains('/') && file.contains('.')) {
        return error::no_route().await.into_response();
    }
    match Assets::get("index.html") {
        Some(index) => (
            [
                (header::CONTENT_TYPE, mime("text/html; charset=utf-8")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            index.data,
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, Html(NOT_BUILT)).into_response(),
    }
}

/// Whether the binary carries a built UI.
pub fn built() -> bool {
    Assets::get("index.html").is_some()
}

fn mime(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}
