//! Lineage documents against a real server process: the CLI's exit codes end to end, and
//! concurrent pushes of two versions of one document, which must end in one of the two
//! states, never a mix (on both backends).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tributary_catalog::Role;
use tributary_server::api::tokens::issue_token;
use tributary_store::testing::ScratchStore;

mod common;
use common::{Server, get_json, put, start};

/// A catalog to push against: a mart with six columns, a team, the services.
async fn catalog(client: &reqwest::Client, server: &Server, admin: &str) {
    put(
        client,
        server,
        admin,
        "/api/v1/services/hive",
        json!({"service_type": "hive"}),
    )
    .await;
    put(
        client,
        server,
        admin,
        "/api/v1/services/ml",
        json!({"service_type": "mlflow"}),
    )
    .await;
    put(
        client,
        server,
        admin,
        "/api/v1/teams/churn-squad",
        json!({}),
    )
    .await;
    let columns: Vec<Value> = (0..6)
        .map(|i| json!({"name": format!("c{i}"), "data_type": "int"}))
        .collect();
    put(
        client,
        server,
        admin,
        "/api/v1/tables",
        json!({"fqn": "hive.d.s.mart", "columns": columns}),
    )
    .await;
}

/// A version of the churn document: features `names`, each fed by column `c<i>`.
fn version(names: &[(&str, usize)]) -> String {
    let mut doc = String::from(
        "version: 1\nsource: churn\nmodels:\n  - fqn: ml.churn\n    owner: churn-squad\n    features:\n",
    );
    for (name, column) in names {
        doc.push_str(&format!(
            "      - name: {name}\n        source: hive.d.s.mart.c{column}\n"
        ));
    }
    doc
}

fn tributary(args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
    cmd.args(args)
        .env("TRIBUTARY_LOG", "warn")
        .env_remove("TRIBUTARY_TOKEN");
    if let Some(token) = token {
        cmd.env("TRIBUTARY_TOKEN", token);
    }
    cmd.output().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn the_cli_validates_and_pushes_with_meaningful_exit_codes() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let scratch = tributary_store::testing::sqlite().await;
    let client = reqwest::Client::new();
    let admin = issue_token(scratch.store.as_ref(), "test", "admin", Role::Admin)
        .await
        .unwrap()
        .token;
    let editor = issue_token(scratch.store.as_ref(), "test", "ci", Role::Editor)
        .await
        .unwrap()
        .token;
    let server = start(&scratch.url, &client).await;
    catalog(&client, &server, &admin).await;
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.yaml", &version(&[("f0", 0), ("f1", 1)]));
    let typo = write(
        dir.path(),
        "typo.yaml",
        &version(&[("f0", 0)]).replace("mart.c0", "mart.c00"),
    );
    let broken = write(dir.path(), "broken.yaml", "version: 1\nmodels: [\n");

    // validate: offline.
    let out = tributary(&["lineage", "validate", &good], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = tributary(&["lineage", "validate", &good, &broken], None);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("broken.yaml:"), "{stdout}");

    // push: applied, then unchanged; a dry run; an invalid reference with its line.
    let url_owned = server.url.clone();
    let url = url_owned.as_str();
    let out = tributary(&["lineage", "push", &good, "--server", url], Some(&editor));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("+ edge hive.d.s.mart.c0 -> ml.churn.f0"),
        "{stdout}"
    );
    let out = tributary(&["lineage", "push", &good, "--server", url], Some(&editor));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("yaml:churn unchanged"));
    let out = tributary(
        &[
            "lineage",
            "push",
            &typo,
            "--server",
            url,
            "--dry-run",
            "--format",
            "json",
        ],
        Some(&editor),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["error"]["details"][0]["line"], 8);
    let out = tributary(&["lineage", "push", &typo, "--server", url], Some(&editor));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("typo.yaml:8:17: hive.d.s.mart.c00")
            && stdout.contains("did you mean hive.d.s.mart.c0"),
        "{stdout}"
    );

    // Auth and transport failures are 2; the token is never printed.
    let out = tributary(
        &["lineage", "push", &good, "--server", url],
        Some("trb_wrong"),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = tributary(&["lineage", "push", &good, "--server", url], None);
    assert_eq!(out.status.code(), Some(2));
    for out in [
        tributary(&["lineage", "push", &good, "--server", url], Some(&editor)),
        tributary(&["lineage", "push", &typo, "--server", url], Some(&editor)),
    ] {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(&editor), "the token was printed");
    }
    drop(server);
    let started = Instant::now();
    let out = tributary(&["lineage", "push", &good, "--server", url], Some(&editor));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("retrying") && stderr.contains("gave up"),
        "{stderr}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "no backoff between retries"
    );
}

async fn concurrent_pushes(scratch: ScratchStore) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let admin = issue_token(scratch.store.as_ref(), "test", "admin", Role::Admin)
        .await
        .unwrap()
        .token;
    let server = start(&scratch.url, &client).await;
    catalog(&client, &server, &admin).await;
    let a = version(&[("a0", 0), ("a1", 1), ("shared", 2)]);
    let b = version(&[("b0", 3), ("shared", 4), ("b1", 5)]);
    let state_of = |doc: &str| -> (Vec<String>, Vec<(String, String)>) {
        let mut features = Vec::new();
        let mut edges = Vec::new();
        for pair in doc.split("      - name: ").skip(1) {
            let (name, rest) = pair.split_once('\n').unwrap();
            let column = rest.trim().trim_start_matches("source: ").to_owned();
            features.push(format!("ml.churn.{name}"));
            edges.push((column, format!("ml.churn.{name}")));
        }
        features.sort();
        edges.sort();
        (features, edges)
    };
    let (want_a, want_b) = (state_of(&a), state_of(&b));
    let mut seen = [0, 0];
    for round in 0..12 {
        let push = |doc: String| {
            let client = client.clone();
            let url = format!("{}/api/v1/lineage/documents", server.url);
            let admin = admin.clone();
            tokio::spawn(async move {
                let res = client
                    .post(url)
                    .bearer_auth(admin)
                    .header("content-type", "application/yaml")
                    .body(doc)
                    .send()
                    .await
                    .unwrap();
                assert!(res.status().is_success(), "{}", res.text().await.unwrap());
            })
        };
        // Alternate who starts first; both race.
        let (first, second) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let (x, y) = (push(first.clone()), push(second.clone()));
        x.await.unwrap();
        y.await.unwrap();
        let model: Value =
            get_json(&client, &format!("{}/api/v1/models/ml.churn", server.url)).await;
        let mut features: Vec<String> = model["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["fqn"].as_str().unwrap().to_owned())
            .collect();
        features.sort();
        let mut edges = Vec::new();
        for feature in &features {
            let entity: Value = get_json(
                &client,
                &format!("{}/api/v1/entities/{feature}", server.url),
            )
            .await;
            for e in entity["upstream"].as_array().unwrap() {
                edges.push((e["from"].as_str().unwrap().to_owned(), feature.clone()));
            }
        }
        edges.sort();
        let state = (features, edges);
        if state == want_a {
            seen[0] += 1;
        } else if state == want_b {
            seen[1] += 1;
        } else {
            panic!("round {round}: a mix of the two versions: {state:?}");
        }
    }
    eprintln!(
        "final states over 12 races: version A {} times, version B {} times",
        seen[0], seen[1]
    );
}

#[tokio::test]
async fn concurrent_pushes_end_in_one_version_on_sqlite() {
    concurrent_pushes(tributary_store::testing::sqlite().await).await;
}

#[tokio::test]
async fn concurrent_pushes_end_in_one_version_on_postgres() {
    if let Some(scratch) = tributary_store::testing::postgres().await {
        concurrent_pushes(scratch).await;
    }
}
