//! The demo catalog behind `tributary serve --demo`: a telecom's Hive marts, a ClickHouse
//! analytics table, two teams and three MLflow models whose features come from columns.
//!
//! It is written through the same request types, validation and store calls as the API,
//! so the demo shows exactly what an API client would have produced.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tributary_catalog::{
    ColumnMapping, EdgeDraft, EdgeKey, EntityDraft, EntityKind, Fqn, TeamDraft,
};
use tributary_store::Store;

use crate::api::models::{ModelRequest, model_draft};
use crate::api::tables::{TableRequest, table_draft};
use crate::error::ApiError;

const ACTOR: &str = "demo";
const SOURCE: &str = "demo";

/// The service whose presence marks the demo as loaded.
pub const MARKER_SERVICE: &str = "hive_prod";

fn parse<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::internal(&format!("demo data: {e}")))
}

fn fqn(text: &str) -> Result<Fqn, ApiError> {
    Ok(Fqn::parse(text)?)
}

/// Loads the demo catalog unless it is already there. Returns whether it loaded.
pub async fn load(store: &dyn Store) -> Result<bool, ApiError> {
    if store.get_entity(&fqn(MARKER_SERVICE)?).await.is_ok() {
        return Ok(false);
    }
    for (name, display, contact) in [
        ("churn-squad", "Customer Retention ML", "#churn-ml"),
        (
            "credit-risk",
            "Credit Risk Analytics",
            "credit-risk@example.com",
        ),
        ("data-platform", "Data Platform", "#data-platform"),
    ] {
        store
            .put_team(
                ACTOR,
                TeamDraft {
                    name: name.into(),
                    display_name: Some(display.into()),
                    description: None,
                    contact: Some(contact.into()),
                    webhook_url: None,
                },
            )
            .await?;
    }
    for (name, kind, description, connection) in [
        (
            "hive_prod",
            "hive",
            "Production Hive warehouse (metastore on PostgreSQL)",
            json!({"host": "metastore-db.internal", "port": 5432, "database": "metastore",
                   "username": "hive_reader", "password": "demo-password-not-real"}),
        ),
        (
            "clickhouse_prod",
            "clickhouse",
            "Product analytics in ClickHouse",
            json!({"url": "http://clickhouse.internal:8123", "username": "reader", "password": "demo-password-not-real"}),
        ),
        (
            "mlflow_prod",
            "mlflow",
            "Model registry",
            json!({"url": "http://mlflow.internal:5000", "token": "demo-token-not-real"}),
        ),
    ] {
        let mut draft = EntityDraft::bare(EntityKind::Service, fqn(name)?, SOURCE);
        draft.description = Some(description.into());
        draft.owner = Some("data-platform".into());
        draft.attrs = json!({ "service_type": kind });
        store.put_service(ACTOR, draft, parse(connection)?).await?;
    }

    let col = |name: &str, data_type: &str, description: &str| json!({"name": name, "data_type": data_type, "description": description});
    let tables = [
        json!({"fqn": "hive_prod.dwh.raw.payments", "owner": "data-platform", "table_type": "external",
            "description": "Every payment, as loaded nightly from billing",
            "columns": [col("payment_id", "bigint", "Billing's payment id"), col("client_id", "bigint", "Client"),
                col("amount", "decimal(18,2)", "Payment amount, RUB"), col("paid_at", "timestamp", "When paid"),
                col("channel", "string", "app, web, retail or bank")]}),
        json!({"fqn": "hive_prod.dwh.raw.cdr_calls", "owner": "data-platform", "table_type": "external",
            "description": "Call detail records",
            "columns": [col("call_id", "bigint", ""), col("client_id", "bigint", "Client"),
                col("started_at", "timestamp", ""), col("duration_sec", "int", "Call length"),
                col("direction", "string", "in or out")]}),
        json!({"fqn": "hive_prod.dwh.client_marts.payments_monthly", "owner": "data-platform",
            "description": "Payments per client and month",
            "columns": [col("client_id", "bigint", "Client"), col("month", "date", "First day of month"),
                col("payments_sum", "decimal(18,2)", "Sum of payments"), col("payments_cnt", "int", "Number of payments"),
                col("avg_check", "decimal(18,2)", "Average payment")]}),
        json!({"fqn": "hive_prod.dwh.client_marts.features_daily", "owner": "data-platform",
            "description": "Daily client features for scoring", "tags": ["pii-free", "tier-1"],
            "columns": [col("client_id", "bigint", "Client"), col("report_date", "date", "Snapshot date"),
                col("avg_check_30d", "double", "Average payment over 30 days"),
                col("avg_check_90d", "double", "Average payment over 90 days"),
                col("calls_7d", "int", "Outgoing calls over 7 days"), col("arpu_30d", "double", "Revenue per user, 30 days"),
                col("days_since_last_payment", "int", ""), col("tariff_plan", "string", "Current tariff")]}),
        json!({"fqn": "clickhouse_prod.default.analytics.client_activity", "owner": "churn-squad",
            "description": "App activity per client and day",
            "columns": [col("client_id", "UInt64", "Client"), col("event_date", "Date", ""),
                col("sessions", "UInt32", "App sessions"), col("app_events", "UInt32", ""),
                col("last_seen", "DateTime", "")]}),
    ];
    for table in tables {
        let tree = table_draft(parse::<TableRequest>(table)?)?;
        store.put_entity_tree(ACTOR, with_source(tree)).await?;
    }

    let feature = |name: &str, data_type: &str| json!({"name": name, "data_type": data_type});
    let models = [
        json!({"fqn": "mlflow_prod.churn_model", "owner": "churn-squad", "algorithm": "xgboost", "version": "7",
            "description": "Probability that a client leaves within 30 days", "tags": ["production"],
            "hyperparameters": [{"name": "max_depth", "value": "6"}, {"name": "eta", "value": "0.1"}],
            "features": [feature("avg_check_30d", "numerical"), feature("calls_7d", "numerical"),
                feature("arpu_30d", "numerical"), feature("days_since_last_payment", "numerical"),
                feature("sessions_7d", "numerical")]}),
        json!({"fqn": "mlflow_prod.credit_scoring", "owner": "credit-risk", "algorithm": "catboost", "version": "3",
            "description": "Default risk for instalment plans",
            "hyperparameters": [{"name": "depth", "value": "8"}],
            "features": [feature("avg_check_90d", "numerical"), feature("payments_cnt", "numerical"),
                feature("tariff_plan", "categorical"), feature("days_since_last_payment", "numerical")]}),
        json!({"fqn": "mlflow_prod.upsell_propensity", "owner": "churn-squad", "algorithm": "lightgbm", "version": "12",
            "description": "Who is likely to take a bigger tariff",
            "features": [feature("arpu_30d", "numerical"), feature("avg_check_30d", "numerical"),
                feature("sessions_7d", "numerical"), feature("tariff_plan", "categorical")]}),
    ];
    for model in models {
        let tree = model_draft(parse::<ModelRequest>(model)?)?;
        store.put_entity_tree(ACTOR, with_source(tree)).await?;
    }

    let marts = "hive_prod.dwh.client_marts";
    let mut edges = vec![
        table_edge(
            "hive_prod.dwh.raw.payments",
            &format!("{marts}.payments_monthly"),
            &[
                ("amount", "payments_sum", "sum(amount)"),
                ("payment_id", "payments_cnt", "count(payment_id)"),
                ("amount", "avg_check", "avg(amount)"),
            ],
        )?,
        table_edge(
            &format!("{marts}.payments_monthly"),
            &format!("{marts}.features_daily"),
            &[
                ("avg_check", "avg_check_30d", "avg over 1 month"),
                ("avg_check", "avg_check_90d", "avg over 3 months"),
            ],
        )?,
        table_edge(
            "hive_prod.dwh.raw.payments",
            &format!("{marts}.features_daily"),
            &[(
                "paid_at",
                "days_since_last_payment",
                "datediff(report_date, max(paid_at))",
            )],
        )?,
        table_edge(
            "hive_prod.dwh.raw.cdr_calls",
            &format!("{marts}.features_daily"),
            &[("call_id", "calls_7d", "count(call_id) over 7 days")],
        )?,
    ];
    let features = [
        ("features_daily.avg_check_30d", "churn_model.avg_check_30d"),
        ("features_daily.calls_7d", "churn_model.calls_7d"),
        ("features_daily.arpu_30d", "churn_model.arpu_30d"),
        (
            "features_daily.days_since_last_payment",
            "churn_model.days_since_last_payment",
        ),
        (
            "features_daily.avg_check_90d",
            "credit_scoring.avg_check_90d",
        ),
        (
            "payments_monthly.payments_cnt",
            "credit_scoring.payments_cnt",
        ),
        ("features_daily.tariff_plan", "credit_scoring.tariff_plan"),
        (
            "features_daily.days_since_last_payment",
            "credit_scoring.days_since_last_payment",
        ),
        ("features_daily.arpu_30d", "upsell_propensity.arpu_30d"),
        (
            "features_daily.avg_check_30d",
            "upsell_propensity.avg_check_30d",
        ),
        (
            "features_daily.tariff_plan",
            "upsell_propensity.tariff_plan",
        ),
    ];
    for (column, feature) in features {
        edges.push(plain_edge(
            &format!("{marts}.{column}"),
            &format!("mlflow_prod.{feature}"),
        )?);
    }
    for model in ["churn_model", "upsell_propensity"] {
        edges.push(plain_edge(
            "clickhouse_prod.default.analytics.client_activity.sessions",
            &format!("mlflow_prod.{model}.sessions_7d"),
        )?);
    }
    store.put_edges(ACTOR, edges).await?;
    Ok(true)
}

fn with_source(mut tree: tributary_store::EntityTree) -> tributary_store::EntityTree {
    tree.root.source = SOURCE.into();
    for child in tree.children.iter_mut().flatten() {
        child.source = SOURCE.into();
    }
    tree
}

fn plain_edge(from: &str, to: &str) -> Result<EdgeDraft, ApiError> {
    Ok(EdgeDraft {
        key: EdgeKey {
            from: fqn(from)?,
            to: fqn(to)?,
            source: SOURCE.into(),
        },
        columns: Vec::new(),
        transform: None,
    })
}

fn table_edge(from: &str, to: &str, columns: &[(&str, &str, &str)]) -> Result<EdgeDraft, ApiError> {
    let mut edge = plain_edge(from, to)?;
    for (from_col, to_col, function) in columns {
        edge.columns.push(ColumnMapping {
            from: vec![fqn(from)?.child(from_col)?],
            to: fqn(to)?.child(to_col)?,
            function: Some((*function).into()),
        });
    }
    Ok(edge)
}
