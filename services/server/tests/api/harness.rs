//! A router over a scratch store, with one token per role, called through `oneshot`.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tributary_catalog::Role;
use tributary_server::api::tokens::issue_token;
use tributary_server::config::Config;
use tributary_store::testing::ScratchStore;

pub struct TestApp {
    pub router: Router,
    pub state: tributary_server::state::AppState,
    pub scratch: ScratchStore,
    pub admin: String,
    pub editor: String,
    pub viewer: String,
}

impl TestApp {
    pub async fn new(scratch: ScratchStore) -> Self {
        Self::with_config(scratch, Config::default()).await
    }

    pub async fn with_config(scratch: ScratchStore, config: Config) -> Self {
        let store = scratch.store.clone();
        let mut tokens = Vec::new();
        for (name, role) in [
            ("t-admin", Role::Admin),
            ("t-editor", Role::Editor),
            ("t-viewer", Role::Viewer),
        ] {
            tokens.push(
                issue_token(store.as_ref(), "test", name, role)
                    .await
                    .unwrap()
                    .token,
            );
        }
        let state = tributary_server::app::state(store, &config).await.unwrap();
        let router = tributary_server::app::router(state.clone(), &config);
        let viewer = tokens.pop().unwrap();
        let editor = tokens.pop().unwrap();
        let admin = tokens.pop().unwrap();
        TestApp {
            router,
            state,
            scratch,
            admin,
            editor,
            viewer,
        }
    }

    pub fn store(&self) -> &dyn tributary_store::Store {
        self.scratch.store.as_ref()
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Body>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = match body {
            Some(body) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(body),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call(Method::GET, uri, None, None).await
    }

    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        json: Value,
    ) -> (StatusCode, Value) {
        self.call(method, uri, Some(token), Some(Body::from(json.to_string())))
            .await
    }

    pub async fn put(&self, uri: &str, token: &str, json: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, uri, token, json).await
    }

    pub async fn delete(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, uri, Some(token), None).await
    }

    /// A Hive service, a team and a small table, for tests that need somewhere to write.
    pub async fn seed(&self) {
        let (s, _) = self
            .put(
                "/api/v1/services/hive",
                &self.admin,
                serde_json::json!({"service_type": "hive"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = self
            .put(
                "/api/v1/teams/growth",
                &self.admin,
                serde_json::json!({"contact": "#growth"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, body) = self
            .put(
                "/api/v1/tables",
                &self.editor,
                table("hive.dwh.marts.daily", &["a", "b"]),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
}

/// A table request body with int columns.
pub fn table(fqn: &str, columns: &[&str]) -> Value {
    let columns: Vec<Value> = columns
        .iter()
        .map(|c| serde_json::json!({"name": c, "data_type": "int"}))
        .collect();
    serde_json::json!({ "fqn": fqn, "columns": columns })
}

/// The `error.code` of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
}

/// Expands to one `#[tokio::test]` per suite function, each on a fresh app over `$open`.
#[macro_export]
macro_rules! api_suite {
    ($open:path; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(scratch) = $open().await else { return };
                let app = api::harness::TestApp::new(scratch).await;
                api::$module::$name(&app).await;
            }
        )*
    };
}
