//! Reading documents: what they ask of the catalog, and what is wrong with them, where.

use tributary_documents::{DocumentError, Expect, Format, PlatformRule, parse};

const CHURN: &str = "\
version: 1
models:
  - fqn: mlflow_prod.churn_model
    owner: churn-squad
    description: Predicts churn
    algorithm: xgboost
    version: 12
    features:
      - name: avg_check_30d
        data_type: numerical
        source: hive_prod.dwh.marts.daily.avg_check
        transform: avg over 30 days
      - name: calls_7d
        sources:
          - hive_prod.dwh.marts.daily.calls
          - hive_prod.dwh.raw.calls.duration
    consumers: [bi.churn_board]
tables:
  - fqn: hive_prod.dwh.marts.daily
    upstream: [hive_prod.dwh.raw.calls]
";

#[test]
fn a_document_becomes_trees_edges_and_placed_references() {
    let doc = parse(CHURN, &[]).unwrap();
    assert_eq!(doc.format, Format::Tributary);
    assert_eq!(doc.source, "yaml:mlflow_prod.churn_model");
    assert_eq!(doc.models.len(), 1);
    let model = &doc.models[0];
    assert_eq!(model.root.attrs["version"], "12");
    assert_eq!(model.root.owner.as_deref(), Some("churn-squad"));
    let features: Vec<String> = model
        .children
        .iter()
        .flatten()
        .map(|f| f.fqn.to_string())
        .collect();
    assert_eq!(
        features,
        [
            "mlflow_prod.churn_model.avg_check_30d",
            "mlflow_prod.churn_model.calls_7d"
        ]
    );
    let edges: Vec<(String, String)> = doc
        .edges
        .iter()
        .map(|e| (e.key.from.to_string(), e.key.to.to_string()))
        .collect();
    assert_eq!(
        edges,
        [
            (
                "hive_prod.dwh.marts.daily.avg_check".into(),
                "mlflow_prod.churn_model.avg_check_30d".into()
            ),
            (
                "hive_prod.dwh.marts.daily.calls".into(),
                "mlflow_prod.churn_model.calls_7d".into()
            ),
            (
                "hive_prod.dwh.raw.calls.duration".into(),
                "mlflow_prod.churn_model.calls_7d".into()
            ),
            ("mlflow_prod.churn_model".into(), "bi.churn_board".into()),
            (
                "hive_prod.dwh.raw.calls".into(),
                "hive_prod.dwh.marts.daily".into()
            ),
        ]
    );
    assert!(doc.edges.iter().all(|e| e.key.source == doc.source));
    assert_eq!(doc.edges[0].transform.as_deref(), Some("avg over 30 days"));
    let source = doc
        .references
        .iter()
        .find(|r| r.name == "hive_prod.dwh.marts.daily.avg_check")
        .unwrap();
    assert_eq!(
        (
            source.expect,
            source.line,
            source.column,
            source.path.as_str()
        ),
        (Expect::Column, 11, 17, "models[0].features[0].source")
    );
    let team = doc
        .references
        .iter()
        .find(|r| r.expect == Expect::Team)
        .unwrap();
    assert_eq!((team.name.as_str(), team.line), ("churn-squad", 4));
}

#[test]
fn syntax_errors_point_at_line_and_column() {
    let broken = "version: 1\nmodels:\n  - fqn: a.b\n    features: [\n";
    match parse(broken, &[]) {
        Err(DocumentError::Syntax { line, .. }) => assert!(line >= 4, "line {line}"),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let unknown = "version: 1\nmodels:\n  - fqn: a.b\n    colour: red\n";
    match parse(unknown, &[]) {
        Err(DocumentError::Syntax {
            line,
            column,
            message,
        }) => {
            assert_eq!((line, column), (4, 5), "{message}");
            assert!(message.contains("colour"), "{message}");
        }
        other => panic!("expected an unknown-field error, got {other:?}"),
    }
}

#[test]
fn rule_breaks_come_back_together_with_places() {
    let doc = "\
version: 1
models:
  - fqn: mlflow.m
    features:
      - name: f
        source: h.d.s.t.c
      - name: f
        source: h.d.s.t.c
      - name: g
      - name: h
        source: h.d.s.t
";
    let Err(DocumentError::Invalid(problems)) = parse(doc, &[]) else {
        panic!("expected problems")
    };
    let found: Vec<(u64, &str)> = problems.iter().map(|p| (p.line, p.path.as_str())).collect();
    assert_eq!(
        found,
        [
            (7, "models[0].features[1].name"),
            (9, "models[0].features[2]"),
            (11, "models[0].features[3].source"),
        ],
        "{problems:#?}"
    );
    assert!(problems[0].message.contains("listed twice"));
    assert!(problems[1].message.contains("no source"));
    let Err(DocumentError::Invalid(problems)) = parse("version: 2\nmodels: []\n", &[]) else {
        panic!("expected a version problem")
    };
    assert_eq!(problems[0].line, 1);
}

#[test]
fn declared_tables_satisfy_their_own_references() {
    let doc = "\
version: 1
source: scratch
models:
  - fqn: mlflow.m
    features:
      - name: f
        source: h.d.s.new_table.c
tables:
  - fqn: h.d.s.new_table
    create: true
    columns:
      - name: c
        data_type: int
";
    let doc = parse(doc, &[]).unwrap();
    assert_eq!(doc.source, "yaml:scratch");
    assert_eq!(doc.tables_to_create.len(), 1);
    assert!(
        doc.references.iter().all(|r| r.expect == Expect::Team),
        "{:?}",
        doc.references
    );
}

#[test]
fn datahub_files_map_to_table_edges_with_column_mappings() {
    let file = "\
version: 1
lineage:
  - entity:
      name: marts.daily
      type: dataset
      env: PROD
      platform: hive
    upstream:
      - entity:
          name: raw.payments
          type: dataset
          env: PROD
          platform: hive
    fineGrainedLineages:
      - upstreamType: FIELD_SET
        upstreams:
          - urn:li:schemaField:(urn:li:dataset:(urn:li:dataPlatform:hive,raw.payments,PROD),amount)
        downstreamType: FIELD
        downstreams:
          - urn:li:schemaField:(urn:li:dataset:(urn:li:dataPlatform:hive,marts.daily,PROD),spend)
        transformOperation: sum
";
    let rules = [PlatformRule {
        platform: "hive".into(),
        platform_instance: None,
        service: "hive_prod".into(),
        database: "dwh".into(),
        schema: "default".into(),
    }];
    let doc = parse(file, &rules).unwrap();
    assert_eq!(doc.format, Format::Datahub);
    assert_eq!(doc.edges.len(), 1);
    let edge = &doc.edges[0];
    assert_eq!(
        (edge.key.from.as_str(), edge.key.to.as_str()),
        ("hive_prod.dwh.raw.payments", "hive_prod.dwh.marts.daily")
    );
    assert_eq!(edge.columns.len(), 1);
    assert_eq!(
        edge.columns[0].from[0].as_str(),
        "hive_prod.dwh.raw.payments.amount"
    );
    assert_eq!(
        edge.columns[0].to.as_str(),
        "hive_prod.dwh.marts.daily.spend"
    );
    assert_eq!(edge.columns[0].function.as_deref(), Some("sum"));
    assert!(
        doc.references
            .iter()
            .any(|r| r.name == "hive_prod.dwh.raw.payments.amount" && r.expect == Expect::Column)
    );
}

/// The documented example is a valid document, by the parser and by the JSON Schema.
#[test]
fn the_documented_example_is_valid() {
    let doc = include_str!("../../../docs/lineage-documents.md");
    let example = doc
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the doc has a YAML example");
    let parsed = parse(example, &[]).unwrap();
    assert_eq!(parsed.source, "yaml:churn-model");
    assert_eq!(parsed.tables_to_create.len(), 1);
    let value: serde_json::Value = serde_saphyr::from_str(example).unwrap();
    assert_eq!(tributary_documents::check_schema(&value), []);
}

/// The JSON Schema refuses what the parser refuses, for editors to catch it first.
#[test]
fn the_schema_refuses_what_the_parser_refuses() {
    for (bad, why) in [
        (
            "version: 1\nmodels:\n  - fqn: a.b\n    colour: red\n",
            "unknown key",
        ),
        (
            "version: 1\nmodels:\n  - fqn: a.b\n    features:\n      - name: f\n",
            "no source",
        ),
        ("version: 2\nmodels: []\n", "version"),
        ("version: 1\n", "nothing listed"),
        (
            "version: 1\ntables:\n  - fqn: a.b.c.d\n    columns: [{name: x}]\n",
            "columns without create",
        ),
        (
            "version: 1\nmodels:\n  - fqn: a.b\n    service: a\n    name: b\n",
            "fqn and service",
        ),
    ] {
        let value: serde_json::Value = serde_saphyr::from_str(bad).unwrap();
        assert!(
            !tributary_documents::check_schema(&value).is_empty(),
            "schema accepted: {why}"
        );
        assert!(parse(bad, &[]).is_err(), "parser accepted: {why}");
    }
}
