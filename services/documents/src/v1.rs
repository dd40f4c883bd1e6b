//! Tributary's own lineage document, `version: 1` (see `docs/lineage-documents.md`).

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use serde_saphyr::Spanned;
use tributary_catalog::{EdgeDraft, EdgeKey, EntityDraft, EntityKind, Fqn, validate_name};
use tributary_store::EntityTree;

use crate::error::DocumentError;
use crate::plan::{Document, Expect, Format, Problems, Reference, default_source};

/// Longest free text (descriptions, transforms) accepted, in characters.
const MAX_TEXT: usize = 64 * 1024;

/// Deserialises YAML (JSON is YAML) with the position of any error.
pub(crate) fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<T, DocumentError> {
    serde_saphyr::from_str(text).map_err(DocumentError::from_yaml)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentV1 {
    version: Spanned<u32>,
    source: Option<Spanned<String>>,
    #[serde(default)]
    models: Vec<ModelSpec>,
    #[serde(default)]
    tables: Vec<TableSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSpec {
    fqn: Option<Spanned<String>>,
    service: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    owner: Option<Spanned<String>>,
    display_name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    algorithm: Option<String>,
    version: Option<Scalar>,
    #[serde(default)]
    features: Vec<FeatureSpec>,
    #[serde(default)]
    consumers: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureSpec {
    name: Spanned<String>,
    description: Option<String>,
    data_type: Option<String>,
    source: Option<Spanned<String>>,
    #[serde(default)]
    sources: Vec<Spanned<String>>,
    transform: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableSpec {
    fqn: Spanned<String>,
    #[serde(default)]
    create: bool,
    owner: Option<Spanned<String>>,
    description: Option<String>,
    #[serde(default)]
    columns: Vec<ColumnSpec>,
    #[serde(default)]
    upstream: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSpec {
    name: Spanned<String>,
    data_type: Option<String>,
    description: Option<String>,
}

/// A version written as `12` or `"12"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Integer(i64),
    Float(f64),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Integer(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
        }
    }
}

/// A reference to `name`, placed where `written` was written.
fn reference<T>(name: String, expect: Expect, written: &Spanned<T>, path: String) -> Reference {
    Reference {
        name,
        expect,
        line: written.referenced.line(),
        column: written.referenced.column(),
        path,
    }
}

fn at<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

pub(crate) fn parse(text: &str) -> Result<Document, DocumentError> {
    let doc: DocumentV1 = from_yaml(text)?;
    let mut p = Problems::default();
    if doc.version.value != 1 {
        p.add(
            at(&doc.version),
            "version",
            format!(
                "version {} is not one this server reads; use version: 1",
                doc.version.value
            ),
        );
        return Err(DocumentError::Invalid(p.0));
    }
    if doc.models.is_empty() && doc.tables.is_empty() {
        p.add((1, 1), "", "the document lists no models and no tables");
    }
    let source = match &doc.source {
        Some(s) => {
            if let Err(err) = validate_name(&s.value) {
                p.add(at(s), "source", err.to_string());
            }
            format!("yaml:{}", s.value)
        }
        None => {
            let models: Vec<String> = doc.models.iter().filter_map(model_key).collect();
            let tables: Vec<String> = doc.tables.iter().map(|t| t.fqn.value.clone()).collect();
            format!("yaml:{}", default_source(&models, &tables))
        }
    };

    let mut out = Document {
        format: Format::Tributary,
        source: source.clone(),
        models: Vec::new(),
        tables_to_create: Vec::new(),
        edges: Vec::new(),
        references: Vec::new(),
    };
    let edge = |from: &Fqn, to: &Fqn, transform: Option<String>| EdgeDraft {
        key: EdgeKey {
            from: from.clone(),
            to: to.clone(),
            source: source.clone(),
        },
        columns: Vec::new(),
        transform,
    };
    let mut seen_models = HashSet::new();
    for (m, model) in doc.models.into_iter().enumerate() {
        let path = format!("models[{m}]");
        let fqn = match (&model.fqn, &model.service, &model.name) {
            (Some(fqn), None, None) => p.fqn(
                &fqn.value,
                EntityKind::MlModel,
                at(fqn),
                &format!("{path}.fqn"),
            ),
            (None, Some(service), Some(name)) => Fqn::from_parts([&service.value, &name.value])
                .map_err(|err| p.add(at(name), format!("{path}.name"), err.to_string()))
                .ok(),
            (Some(fqn), _, _) => {
                p.add(
                    at(fqn),
                    &path,
                    "give either fqn or service and name, not both",
                );
                None
            }
            (None, Some(s), None) | (None, None, Some(s)) => {
                p.add(
                    at(s),
                    &path,
                    "a model needs both service and name (or an fqn)",
                );
                None
            }
            (None, None, None) => {
                p.add(
                    (0, 0),
                    &path,
                    "a model needs an fqn (or a service and a name)",
                );
                None
            }
        };
        let owner = model.owner.map(|o| {
            out.references.push(reference(
                o.value.clone(),
                Expect::Team,
                &o,
                format!("{path}.owner"),
            ));
            o.value
        });
        check_text(&mut p, &path, "description", model.description.as_deref());
        check_text(&mut p, &path, "display_name", model.display_name.as_deref());
        let mut tags = Vec::new();
        for (t, tag) in model.tags.into_iter().enumerate() {
            match validate_name(&tag.value) {
                Ok(()) if !tags.contains(&tag.value) => tags.push(tag.value),
                Ok(()) => {}
                Err(err) => p.add(at(&tag), format!("{path}.tags[{t}]"), err.to_string()),
            }
        }
        let Some(fqn) = fqn else { continue };
        if !seen_models.insert(fqn.to_string()) {
            p.add((0, 0), &path, format!("model {fqn} is listed twice"));
            continue;
        }
        let mut features = Vec::new();
        let mut names = HashSet::new();
        for (i, feature) in model.features.into_iter().enumerate() {
            let fpath = format!("{path}.features[{i}]");
            let name = &feature.name;
            if let Err(err) = validate_name(&name.value) {
                p.add(at(name), format!("{fpath}.name"), err.to_string());
                continue;
            }
            if !names.insert(name.value.clone()) {
                p.add(
                    at(name),
                    format!("{fpath}.name"),
                    format!("feature {:?} is listed twice in {fqn}", name.value),
                );
                continue;
            }
            check_text(
                &mut p,
                &fpath,
                "description",
                feature.description.as_deref(),
            );
            check_text(&mut p, &fpath, "transform", feature.transform.as_deref());
            check_text(&mut p, &fpath, "data_type", feature.data_type.as_deref());
            let Ok(feature_fqn) = fqn.child(&name.value) else {
                continue;
            };
            let sources: Vec<(Spanned<String>, String)> = feature
                .source
                .into_iter()
                .map(|s| (s, format!("{fpath}.source")))
                .chain(
                    feature
                        .sources
                        .into_iter()
                        .enumerate()
                        .map(|(k, s)| (s, format!("{fpath}.sources[{k}]"))),
                )
                .collect();
            if sources.is_empty() {
                p.add(
                    at(name),
                    &fpath,
                    format!(
                        "feature {:?} has no source; give `source:` (a column FQN) or `sources:`",
                        name.value
                    ),
                );
            }
            for (column, cpath) in sources {
                if let Some(from) = p.fqn(&column.value, EntityKind::Column, at(&column), &cpath) {
                    out.references.push(reference(
                        from.to_string(),
                        Expect::Column,
                        &column,
                        cpath,
                    ));
                    out.edges
                        .push(edge(&from, &feature_fqn, feature.transform.clone()));
                }
            }
            let mut draft = EntityDraft::bare(EntityKind::Feature, feature_fqn, source.clone());
            draft.description = feature.description;
            draft.owner = owner.clone();
            draft.attrs = json!({ "ordinal": i, "data_type": feature.data_type });
            features.push(draft);
        }
        for (c, consumer) in model.consumers.into_iter().enumerate() {
            let cpath = format!("{path}.consumers[{c}]");
            match Fqn::parse(&consumer.value) {
                Ok(to) => {
                    out.references.push(reference(
                        to.to_string(),
                        Expect::Consumer,
                        &consumer,
                        cpath,
                    ));
                    out.edges.push(edge(&fqn, &to, None));
                }
                Err(err) => p.add(at(&consumer), cpath, err.to_string()),
            }
        }
        let mut root = EntityDraft::bare(EntityKind::MlModel, fqn, source.clone());
        root.display_name = model.display_name;
        root.description = model.description;
        root.owner = owner;
        root.tags = tags;
        root.attrs = json!({
            "algorithm": model.algorithm,
            "version": model.version.map(Scalar::text),
            "hyperparameters": Value::Array(Vec::new()),
        });
        out.models.push(EntityTree {
            root,
            children: Some(features),
        });
    }

    let mut seen_tables = HashSet::new();
    for (t, table) in doc.tables.into_iter().enumerate() {
        let path = format!("tables[{t}]");
        let Some(fqn) = p.fqn(
            &table.fqn.value,
            EntityKind::Table,
            at(&table.fqn),
            &format!("{path}.fqn"),
        ) else {
            continue;
        };
        if !seen_tables.insert(fqn.to_string()) {
            p.add(
                at(&table.fqn),
                &path,
                format!("table {fqn} is listed twice"),
            );
            continue;
        }
        for (u, upstream) in table.upstream.iter().enumerate() {
            let upath = format!("{path}.upstream[{u}]");
            if let Some(from) = p.fqn(&upstream.value, EntityKind::Table, at(upstream), &upath) {
                if from == fqn {
                    p.add(at(upstream), &upath, "a table cannot be its own upstream");
                    continue;
                }
                out.references
                    .push(reference(from.to_string(), Expect::Table, upstream, upath));
                out.edges.push(edge(&from, &fqn, None));
            }
        }
        if !table.create {
            if !table.columns.is_empty() || table.owner.is_some() || table.description.is_some() {
                p.add(
                    at(&table.fqn),
                    &path,
                    "columns, owner and description describe a table to create; add `create: true` \
                     or leave them to the table's connector",
                );
            }
            out.references.push(reference(
                fqn.to_string(),
                Expect::Table,
                &table.fqn,
                format!("{path}.fqn"),
            ));
            continue;
        }
        let owner = table.owner.map(|o| {
            out.references.push(reference(
                o.value.clone(),
                Expect::Team,
                &o,
                format!("{path}.owner"),
            ));
            o.value
        });
        check_text(&mut p, &path, "description", table.description.as_deref());
        let mut columns = Vec::new();
        let mut names = HashSet::new();
        for (c, column) in table.columns.into_iter().enumerate() {
            let cpath = format!("{path}.columns[{c}].name");
            if let Err(err) = validate_name(&column.name.value) {
                p.add(at(&column.name), cpath, err.to_string());
                continue;
            }
            if !names.insert(column.name.value.clone()) {
                p.add(
                    at(&column.name),
                    cpath,
                    format!("column {:?} is listed twice", column.name.value),
                );
                continue;
            }
            let Ok(column_fqn) = fqn.child(&column.name.value) else {
                continue;
            };
            let mut draft = EntityDraft::bare(EntityKind::Column, column_fqn, source.clone());
            draft.description = column.description;
            draft.attrs = json!({ "ordinal": c, "data_type": column.data_type });
            columns.push(draft);
        }
        let mut root = EntityDraft::bare(EntityKind::Table, fqn, source.clone());
        root.owner = owner;
        root.description = table.description;
        out.tables_to_create.push(EntityTree {
            root,
            children: Some(columns),
        });
    }
    p.finish()?;
    // References to what the document itself creates need nothing from the catalog.
    let defined = out.defined();
    out.references
        .retain(|r| r.expect == Expect::Team || !defined.contains(&r.name));
    Ok(out)
}

/// A model's FQN text as written, for the default source key.
fn model_key(model: &ModelSpec) -> Option<String> {
    match (&model.fqn, &model.service, &model.name) {
        (Some(fqn), _, _) => Some(fqn.value.clone()),
        (None, Some(s), Some(n)) => Some(format!("{}.{}", s.value, n.value)),
        _ => None,
    }
}

fn check_text(p: &mut Problems, path: &str, field: &str, value: Option<&str>) {
    let Some(value) = value else { return };
    if value.chars().count() > MAX_TEXT {
        p.add(
            (0, 0),
            format!("{path}.{field}"),
            format!("{field} must be at most {MAX_TEXT} characters"),
        );
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        p.add(
            (0, 0),
            format!("{path}.{field}"),
            format!("{field} must not contain control characters"),
        );
    }
}
