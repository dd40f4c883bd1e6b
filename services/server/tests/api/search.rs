//! Search, models by feature and typeahead on a catalog built through the API.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::harness::{TestApp, code, table};

/// Two services, two teams, a mart and four models with close feature names.
async fn catalog(app: &TestApp) {
    for (name, kind) in [("hive", "hive"), ("mlflow", "mlflow")] {
        let (s, _) = app
            .put(
                &format!("/api/v1/services/{name}"),
                &app.admin,
                json!({"service_type": kind}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    for team in ["growth", "risk"] {
        app.put(
            &format!("/api/v1/teams/{team}"),
            &app.admin,
            json!({"contact": format!("#{team}")}),
        )
        .await;
    }
    let mut mart = table(
        "hive.dwh.marts.client_daily",
        &["client_id", "avg_check_30d"],
    );
    mart["owner"] = json!("growth");
    mart["description"] = json!("Daily client aggregates from billing");
    mart["tags"] = json!(["pii-free", "tier-1"]);
    let (s, body) = app.put("/api/v1/tables", &app.editor, mart).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    for (fqn, owner, description, features) in [
        (
            "mlflow.churn",
            "growth",
            "Predicts churn of prepaid clients",
            vec!["avg_check_30d", "calls_7d"],
        ),
        (
            "mlflow.upsell",
            "risk",
            "Offers for heavy users",
            vec!["avg_check_90d", "tenure"],
        ),
        (
            "mlflow.fraud",
            "risk",
            "Flags suspicious payments",
            vec!["avg_check_7d", "txn_count"],
        ),
        (
            "mlflow.ltv",
            "growth",
            "Lifetime value",
            vec!["sum_payments_30d"],
        ),
    ] {
        let features: Vec<Value> = features.iter().map(|f| json!({"name": f})).collect();
        let (s, body) = app
            .put(
                "/api/v1/models",
                &app.editor,
                json!({"fqn": fqn, "owner": owner, "description": description, "features": features}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    let (s, body) = app
        .put(
            "/api/v1/lineage/edges",
            &app.editor,
            json!({"edges": [{"from": "hive.dwh.marts.client_daily.avg_check_30d",
                              "to": "mlflow.churn.avg_check_30d"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

async fn hits(app: &TestApp, query: &str) -> Vec<Value> {
    let (s, body) = app.get(&format!("/api/v1/search?{query}")).await;
    assert_eq!(s, StatusCode::OK, "{query}: {body}");
    body["hits"].as_array().unwrap().clone()
}

fn fqns(hits: &[Value]) -> Vec<&str> {
    hits.iter().map(|h| h["fqn"].as_str().unwrap()).collect()
}

fn tiers(hits: &[Value]) -> Vec<&str> {
    hits.iter()
        .map(|h| h["matched"]["tier"].as_str().unwrap())
        .collect()
}

fn hit<'a>(hits: &'a [Value], fqn: &str) -> &'a Value {
    hits.iter()
        .find(|h| h["fqn"] == fqn)
        .unwrap_or_else(|| panic!("{fqn} not among {:?}", fqns(hits)))
}

pub async fn search_ranks_exact_prefix_fuzzy_and_words(app: &TestApp) {
    catalog(app).await;

    // Exact name, any case or separators; the feature's model by its feature name next.
    for q in [
        "avg_check_30d",
        "AVG_CHECK_30D",
        "avg%20check%2030d",
        "Avg-Check-30D",
    ] {
        let found = hits(app, &format!("q={q}")).await;
        assert_eq!(
            fqns(&found)[..3],
            [
                "mlflow.churn.avg_check_30d",
                "hive.dwh.marts.client_daily.avg_check_30d",
                "mlflow.churn"
            ],
            "{q}"
        );
        assert_eq!(
            tiers(&found)[..3],
            ["exact_name", "exact_name", "exact_feature"]
        );
        let churn = hit(&found, "mlflow.churn");
        assert_eq!(churn["matched"]["features"], json!(["avg_check_30d"]));
        assert_eq!(churn["matched"]["field"], "features");
        // Close names come after every exact match, nearest first.
        let upsell = fqns(&found)
            .iter()
            .position(|f| *f == "mlflow.upsell.avg_check_90d")
            .expect("a close name is listed");
        let fraud = fqns(&found)
            .iter()
            .position(|f| *f == "mlflow.fraud.avg_check_7d")
            .expect("a name two edits away is listed");
        assert!(3 <= upsell && upsell < fraud, "{:?}", fqns(&found));
        assert_eq!(
            hit(&found, "mlflow.upsell.avg_check_90d")["matched"]["distance"],
            1
        );
        assert_eq!(
            hit(&found, "mlflow.fraud.avg_check_7d")["matched"]["distance"],
            2
        );
    }

    // The exact FQN beats everything.
    let found = hits(app, "q=MLFLOW.CHURN.avg_check_30d").await;
    assert_eq!(
        (fqns(&found)[0], tiers(&found)[0]),
        ("mlflow.churn.avg_check_30d", "exact_fqn")
    );

    // Words of an identifier, and a prefix while typing.
    for q in ["avg%20check", "avg_check", "avg_ch", "avg"] {
        let found = hits(app, &format!("q={q}")).await;
        assert!(
            tiers(&found).iter().all(|t| *t == "prefix"),
            "{q}: {found:?}"
        );
        for fqn in [
            "mlflow.churn.avg_check_30d",
            "mlflow.upsell.avg_check_90d",
            "mlflow.fraud.avg_check_7d",
        ] {
            hit(&found, fqn);
        }
        let feature = hit(&found, "mlflow.churn.avg_check_30d");
        assert_eq!(feature["matched"]["highlights"][0]["field"], "name");
        assert!(
            !feature["matched"]["highlights"][0]["ranges"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
    let found = hits(app, "q=avg_ch").await;
    assert_eq!(
        hit(&found, "mlflow.upsell")["matched"]["features"],
        json!(["avg_check_90d"])
    );
    // A word inside a name, not at its start.
    let found = hits(app, "q=check").await;
    hit(&found, "mlflow.churn.avg_check_30d");

    // A typo: the nearest name, fuzzily.
    let found = hits(app, "q=avg_chek_30d").await;
    assert_eq!(tiers(&found)[0], "fuzzy");
    assert_eq!(
        fqns(&found)[..2],
        [
            "mlflow.churn.avg_check_30d",
            "hive.dwh.marts.client_daily.avg_check_30d"
        ]
    );
    assert_eq!(found[0]["matched"]["distance"], 1);
    assert_eq!(
        hit(&found, "mlflow.churn")["matched"]["features"],
        json!(["avg_check_30d"])
    );
    // A typo in one word of a longer name.
    let found = hits(app, "q=paymnts").await;
    hit(&found, "mlflow.ltv.sum_payments_30d");
    // Short words are not fuzzy: `chek` is four characters.
    assert!(hits(app, "q=chek").await.is_empty());

    // Description words, with the matched fragment highlighted.
    let found = hits(app, "q=prepaid%20clients").await;
    assert_eq!(fqns(&found), ["mlflow.churn"]);
    let reason = &found[0]["matched"];
    assert_eq!(
        (reason["tier"].as_str(), reason["field"].as_str()),
        (Some("description"), Some("description"))
    );
    let highlight = &reason["highlights"][0];
    let text: Vec<char> = highlight["text"].as_str().unwrap().chars().collect();
    let [start, end] = [&highlight["ranges"][0][0], &highlight["ranges"][0][1]]
        .map(|v| v.as_u64().unwrap() as usize);
    assert_eq!(text[start..end].iter().collect::<String>(), "prepaid");
    // Tags are words too.
    let found = hits(app, "q=pii%20free").await;
    assert_eq!(fqns(&found), ["hive.dwh.marts.client_daily"]);
    assert_eq!(found[0]["matched"]["highlights"][0]["field"], "tags");
    // Columns are found by their table's name, after the table itself.
    let found = hits(app, "q=client_daily").await;
    assert_eq!(fqns(&found)[0], "hive.dwh.marts.client_daily");
    hit(&found, "hive.dwh.marts.client_daily.client_id");
}

pub async fn search_filters_and_pages(app: &TestApp) {
    catalog(app).await;
    let found = hits(app, "q=avg_check_30d&kind=column").await;
    assert_eq!(fqns(&found), ["hive.dwh.marts.client_daily.avg_check_30d"]);
    let found = hits(app, "q=avg_check_30d&kind=ml_model,feature&owner=risk").await;
    let mut got = fqns(&found);
    got.sort();
    assert_eq!(
        got,
        [
            "mlflow.fraud",
            "mlflow.fraud.avg_check_7d",
            "mlflow.upsell",
            "mlflow.upsell.avg_check_90d"
        ]
    );
    // Columns inherit their table's owner.
    let found = hits(app, "q=avg_check_30d&owner=growth&service=hive").await;
    assert_eq!(fqns(&found), ["hive.dwh.marts.client_daily.avg_check_30d"]);
    assert_eq!(found[0]["owner"], "growth");
    assert!(
        hits(app, "q=avg_check_30d&service=nowhere")
            .await
            .is_empty()
    );

    // Pages: the same order, no repeats, a cursor until the end.
    let all = hits(app, "q=avg_check_30d&limit=100").await;
    assert!(all.len() >= 6, "{all:?}");
    let mut paged = Vec::new();
    let mut uri = "/api/v1/search?q=avg_check_30d&limit=2".to_owned();
    loop {
        let (s, body) = app.get(&uri).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        paged.extend(body["hits"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/api/v1/search?q=avg_check_30d&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(fqns(&paged), fqns(&all));
}

pub async fn models_by_feature_exact_then_close(app: &TestApp) {
    catalog(app).await;
    let (s, body) = app
        .get("/api/v1/search/models-by-feature?name=AVG_CHECK_30D")
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 1);
    let churn = &body["models"][0];
    assert_eq!(churn["fqn"], "mlflow.churn");
    assert_eq!(churn["exact"], true);
    assert_eq!(
        churn["owner"],
        json!({"team": "growth", "contact": "#growth"})
    );
    assert_eq!(churn["description"], "Predicts churn of prepaid clients");
    assert_eq!(
        churn["features"],
        json!([{"fqn": "mlflow.churn.avg_check_30d", "name": "avg_check_30d", "distance": 0,
                "sources": ["hive.dwh.marts.client_daily.avg_check_30d"]}])
    );

    let (s, body) = app
        .get("/api/v1/search/models-by-feature?name=avg_check_30d&fuzzy=true")
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let models: Vec<(&str, bool, &str)> = body["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["fqn"].as_str().unwrap(),
                m["exact"].as_bool().unwrap(),
                m["features"][0]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        models,
        [
            ("mlflow.churn", true, "avg_check_30d"),
            ("mlflow.upsell", false, "avg_check_90d"),
            ("mlflow.fraud", false, "avg_check_7d"),
        ]
    );
    // A typo'd question finds the right model first.
    let (_, body) = app
        .get("/api/v1/search/models-by-feature?name=avg_chek_30d&fuzzy=true")
        .await;
    assert_eq!(body["models"][0]["fqn"], "mlflow.churn");
    assert_eq!(body["models"][0]["features"][0]["distance"], 1);
    let (_, body) = app
        .get("/api/v1/search/models-by-feature?name=avg_chek_30d")
        .await;
    assert_eq!(body["total"], 0);
    // Paging over models.
    let (_, first) = app
        .get("/api/v1/search/models-by-feature?name=avg_check_30d&fuzzy=true&limit=2")
        .await;
    assert_eq!(first["models"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = app
        .get(&format!(
            "/api/v1/search/models-by-feature?name=avg_check_30d&fuzzy=true&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(second["models"][0]["fqn"], "mlflow.fraud");
    assert!(second.get("next_cursor").is_none());
}

pub async fn search_follows_updates_and_deletes(app: &TestApp) {
    catalog(app).await;
    // A deleted model and its features are no longer found.
    let (s, _) = app
        .delete("/api/v1/models/mlflow.upsell", &app.editor)
        .await;
    assert_eq!(s, StatusCode::OK);
    let found = hits(app, "q=avg_check_90d").await;
    assert!(
        fqns(&found).iter().all(|f| !f.starts_with("mlflow.upsell")),
        "{:?}",
        fqns(&found)
    );
    let (_, body) = app
        .get("/api/v1/search/models-by-feature?name=avg_check_30d&fuzzy=true")
        .await;
    assert!(
        body["models"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["fqn"] != "mlflow.upsell")
    );

    // An updated description is found by its new words, not its old ones.
    let (s, body) = app
        .put(
            "/api/v1/models",
            &app.editor,
            json!({"fqn": "mlflow.churn", "owner": "growth",
                   "description": "Scores postpaid subscribers",
                   "features": [{"name": "avg_check_30d"}, {"name": "calls_7d"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(hits(app, "q=prepaid").await.is_empty());
    assert_eq!(fqns(&hits(app, "q=postpaid").await), ["mlflow.churn"]);

    // A feature dropped from a model: the model is no longer found by it.
    let (s, body) = app
        .put(
            "/api/v1/models",
            &app.editor,
            json!({"fqn": "mlflow.churn", "owner": "risk",
                   "features": [{"name": "calls_7d"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let found = hits(app, "q=avg_check_30d").await;
    assert!(
        !fqns(&found).contains(&"mlflow.churn"),
        "{:?}",
        fqns(&found)
    );
    // The owner change reaches the model's features.
    let found = hits(app, "q=calls_7d&owner=risk").await;
    assert_eq!(fqns(&found)[..2], ["mlflow.churn.calls_7d", "mlflow.churn"]);
}

pub async fn suggest_and_bad_search_requests(app: &TestApp) {
    catalog(app).await;
    let (s, body) = app.get("/api/v1/suggest?q=avg_ch").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.len() <= 10);
    assert_eq!(items[0]["tier"], "prefix");
    assert!(
        items
            .iter()
            .any(|i| i["fqn"] == "mlflow.churn.avg_check_30d")
    );
    // Models found through their features are not name completions (`churn` starts with
    // `ch`, but not after `avg`).
    assert_eq!(items.len(), 3, "{items:?}");
    // Distinct names, the shortest completion first, each through its best entity.
    let (_, body) = app.get("/api/v1/suggest?q=AVG%20CHECK").await;
    let items: Vec<(&str, &str, u64)> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap(),
                i["fqn"].as_str().unwrap(),
                i["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            ("avg_check_7d", "mlflow.fraud.avg_check_7d", 1),
            ("avg_check_30d", "mlflow.churn.avg_check_30d", 2),
            ("avg_check_90d", "mlflow.upsell.avg_check_90d", 1),
        ]
    );
    let (_, body) = app.get("/api/v1/suggest?q=avg_check_30d&kind=column").await;
    assert_eq!(
        body["items"][0]["fqn"],
        "hive.dwh.marts.client_daily.avg_check_30d"
    );
    assert_eq!(body["items"][0]["tier"], "exact_name");
    // A word inside names, when no name starts so; then close names.
    let (_, body) = app.get("/api/v1/suggest?q=payme").await;
    assert_eq!(body["items"][0]["fqn"], "mlflow.ltv.sum_payments_30d");
    let (_, body) = app.get("/api/v1/suggest?q=tenuer").await;
    assert_eq!(
        (
            body["items"][0]["fqn"].as_str(),
            body["items"][0]["tier"].as_str()
        ),
        (Some("mlflow.upsell.tenure"), Some("fuzzy"))
    );
    let (_, body) = app.get("/api/v1/suggest?q=tenur&kind=feature").await;
    assert_eq!(body["items"][0]["fqn"], "mlflow.upsell.tenure");

    for (uri, expect) in [
        ("/api/v1/search", "invalid_query"),
        ("/api/v1/search?q=", "invalid_query"),
        ("/api/v1/search?q=___", "invalid_query"),
        ("/api/v1/search?q=a&kind=mlmodel", "invalid_field"),
        ("/api/v1/search?q=a&limit=0", "invalid_query"),
        ("/api/v1/search?q=a&limit=101", "invalid_query"),
        ("/api/v1/search?q=a&cursor=bm9wZQ", "invalid_cursor"),
        ("/api/v1/search?q=a&colour=red", "invalid_query"),
        ("/api/v1/suggest?q=a&limit=11", "invalid_query"),
        ("/api/v1/search/models-by-feature?name=", "invalid_query"),
        (
            "/api/v1/search/models-by-feature?name=x&fuzzy=maybe",
            "invalid_query",
        ),
    ] {
        let (s, body) = app.get(uri).await;
        assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, expect), "{uri}");
    }
    let long = "x".repeat(201);
    let (s, body) = app.get(&format!("/api/v1/search?q={long}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
}
