//! DataHub's lineage file (`version: 1`, `lineage:` entries), so teams moving from
//! DataHub keep their files. Each entry is a dataset with its upstream datasets and,
//! optionally, column-level lineage as schema-field URNs.
//!
//! Datasets are mapped to table FQNs by [`PlatformRule`]s: the rule for the dataset's
//! platform (and instance, when given) names the service; the dataset name's dotted parts
//! fill `database.schema.table` from the right, the rule's defaults filling the rest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use tributary_catalog::{ColumnMapping, EdgeDraft, EdgeKey, Fqn};
use utoipa::ToSchema;

use crate::error::DocumentError;
use crate::plan::{Document, Expect, Format, Problems, Reference, default_source};
use crate::v1::from_yaml;

/// How datasets of one DataHub platform map to a Tributary service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlatformRule {
    /// DataHub platform (`hive`, `clickhouse`, `postgres`, …).
    pub platform: String,
    /// Only datasets of this platform instance; `None` matches any.
    #[serde(default)]
    pub platform_instance: Option<String>,
    /// The Tributary service their tables live in.
    pub service: String,
    /// Database for dataset names of one or two parts.
    #[serde(default = "default_database")]
    pub database: String,
    /// Schema for dataset names of one part.
    #[serde(default = "default_schema")]
    pub schema: String,
}

fn default_database() -> String {
    "default".into()
}

fn default_schema() -> String {
    "default".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineageFile {
    version: Spanned<u32>,
    lineage: Vec<EntityNode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityNode {
    entity: Spanned<EntityConfig>,
    #[serde(default)]
    upstream: Vec<EntityNode>,
    #[serde(default, rename = "fineGrainedLineages")]
    fine_grained: Vec<FineGrained>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityConfig {
    name: String,
    #[serde(rename = "type", default = "dataset")]
    kind: String,
    /// Read and not used: an environment is a service in Tributary (see the rules).
    #[serde(default)]
    #[allow(dead_code)]
    env: Option<String>,
    platform: String,
    #[serde(default)]
    platform_instance: Option<String>,
}

fn dataset() -> String {
    "dataset".into()
}

/// Column-level lineage. The field-set/field types and the confidence are read and not
/// used: every upstream field maps onto every downstream field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct FineGrained {
    #[serde(default)]
    upstream_type: Option<String>,
    #[serde(default)]
    upstreams: Vec<Spanned<String>>,
    #[serde(default)]
    downstream_type: Option<String>,
    #[serde(default)]
    downstreams: Vec<Spanned<String>>,
    #[serde(default)]
    transform_operation: Option<String>,
    #[serde(default)]
    confidence_score: Option<f64>,
}

/// Table-to-table edges by (from, to) FQN text, with the column mappings met for each.
type TableEdges = BTreeMap<(String, String), (Fqn, Fqn, Vec<ColumnMapping>)>;

fn at<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

/// The table FQN a dataset maps to, or why it does not.
fn table_of(
    platform: &str,
    instance: Option<&str>,
    name: &str,
    rules: &[PlatformRule],
) -> Result<Fqn, String> {
    let rule = rules
        .iter()
        .find(|r| r.platform == platform && r.platform_instance.as_deref() == instance)
        .or_else(|| {
            rules
                .iter()
                .find(|r| r.platform == platform && r.platform_instance.is_none())
        });
    let (service, database, schema) = match rule {
        Some(r) => (r.service.clone(), r.database.clone(), r.schema.clone()),
        // No rule: the service is named after the instance, else the platform.
        None => (
            instance.unwrap_or(platform).to_owned(),
            default_database(),
            default_schema(),
        ),
    };
    let parts: Vec<&str> = name.split('.').collect();
    let full: Vec<String> = match parts.as_slice() {
        [table] => vec![service, database, schema, (*table).into()],
        [s, table] => vec![service, database, (*s).into(), (*table).into()],
        [d, s, table] => vec![service, (*d).into(), (*s).into(), (*table).into()],
        _ => {
            return Err(format!(
                "dataset name {name:?} has {} dotted parts; expected table, schema.table or \
                 database.schema.table",
                parts.len()
            ));
        }
    };
    Fqn::from_parts(full).map_err(|e| e.to_string())
}

/// `urn:li:schemaField:(urn:li:dataset:(urn:li:dataPlatform:P,NAME,ENV),FIELD)` →
/// (platform, name, field).
fn parse_field_urn(urn: &str) -> Option<(String, String, String)> {
    let inner = urn
        .strip_prefix("urn:li:schemaField:(urn:li:dataset:(urn:li:dataPlatform:")?
        .strip_suffix(')')?;
    let (dataset, field) = inner.rsplit_once("),")?;
    let mut pieces = dataset.splitn(3, ',');
    let platform = pieces.next()?.to_owned();
    let name = pieces.next()?.to_owned();
    Some((platform, name, field.to_owned()))
}

pub(crate) fn parse(text: &str, rules: &[PlatformRule]) -> Result<Document, DocumentError> {
    let file: LineageFile = from_yaml(text)?;
    let mut p = Problems::default();
    if file.version.value != 1 {
        p.add(
            at(&file.version),
            "version",
            format!(
                "DataHub lineage file version {} is not supported; use version: 1",
                file.version.value
            ),
        );
        return Err(DocumentError::Invalid(p.0));
    }
    let mut targets: Vec<String> = Vec::new();
    // (from table, to table) → column mappings, in the order met.
    let mut edges: TableEdges = BTreeMap::new();
    let mut references = Vec::new();
    let mut reference = |fqn: &Fqn, expect: Expect, at: (u64, u64), path: String| {
        references.push(Reference {
            name: fqn.to_string(),
            expect,
            line: at.0,
            column: at.1,
            path,
        })
    };
    for (i, node) in file.lineage.iter().enumerate() {
        let path = format!("lineage[{i}]");
        let e = &node.entity.value;
        if e.kind != "dataset" {
            p.add(
                at(&node.entity),
                format!("{path}.entity.type"),
                format!("only datasets are supported, not {:?}", e.kind),
            );
            continue;
        }
        let to = match table_of(&e.platform, e.platform_instance.as_deref(), &e.name, rules) {
            Ok(fqn) => fqn,
            Err(message) => {
                p.add(at(&node.entity), format!("{path}.entity"), message);
                continue;
            }
        };
        reference(
            &to,
            Expect::Table,
            at(&node.entity),
            format!("{path}.entity"),
        );
        targets.push(to.to_string());
        for (u, up) in node.upstream.iter().enumerate() {
            let upath = format!("{path}.upstream[{u}]");
            let ue = &up.entity.value;
            if !up.upstream.is_empty() || !up.fine_grained.is_empty() {
                p.add(
                    at(&up.entity),
                    &upath,
                    "nested upstreams are not read; list each dataset as its own lineage entry",
                );
            }
            match table_of(
                &ue.platform,
                ue.platform_instance.as_deref(),
                &ue.name,
                rules,
            ) {
                Ok(from) if from == to => p.add(
                    at(&up.entity),
                    &upath,
                    "a dataset cannot be its own upstream",
                ),
                Ok(from) => {
                    reference(
                        &from,
                        Expect::Table,
                        at(&up.entity),
                        format!("{upath}.entity"),
                    );
                    edges
                        .entry((from.to_string(), to.to_string()))
                        .or_insert_with(|| (from, to.clone(), Vec::new()));
                }
                Err(message) => p.add(at(&up.entity), format!("{upath}.entity"), message),
            }
        }
        for (g, fine) in node.fine_grained.iter().enumerate() {
            let gpath = format!("{path}.fineGrainedLineages[{g}]");
            let mut column = |urn: &Spanned<String>, path: String| -> Option<Fqn> {
                let Some((platform, name, field)) = parse_field_urn(&urn.value) else {
                    p.add(at(urn), &path, "not a schemaField URN: expected urn:li:schemaField:(urn:li:dataset:(urn:li:dataPlatform:P,NAME,ENV),FIELD)");
                    return None;
                };
                let table = match table_of(&platform, None, &name, rules) {
                    Ok(t) => t,
                    Err(message) => {
                        p.add(at(urn), &path, message);
                        return None;
                    }
                };
                match table.child(&field) {
                    Ok(c) => {
                        reference(&c, Expect::Column, at(urn), path);
                        Some(c)
                    }
                    Err(err) => {
                        p.add(at(urn), &path, err.to_string());
                        None
                    }
                }
            };
            let ups: Vec<Fqn> = fine
                .upstreams
                .iter()
                .enumerate()
                .filter_map(|(k, u)| column(u, format!("{gpath}.upstreams[{k}]")))
                .collect();
            let downs: Vec<Fqn> = fine
                .downstreams
                .iter()
                .enumerate()
                .filter_map(|(k, d)| column(d, format!("{gpath}.downstreams[{k}]")))
                .collect();
            for down in &downs {
                let down_table = down.parent().expect("a column has a table");
                // One mapping per upstream table feeding this column.
                let mut by_table: BTreeMap<String, (Fqn, Vec<Fqn>)> = BTreeMap::new();
                for up in &ups {
                    let up_table = up.parent().expect("a column has a table");
                    by_table
                        .entry(up_table.to_string())
                        .or_insert_with(|| (up_table, Vec::new()))
                        .1
                        .push(up.clone());
                }
                for (_, (up_table, from)) in by_table {
                    let entry = edges
                        .entry((up_table.to_string(), down_table.to_string()))
                        .or_insert_with(|| (up_table.clone(), down_table.clone(), Vec::new()));
                    entry.2.push(ColumnMapping {
                        from,
                        to: down.clone(),
                        function: fine.transform_operation.clone(),
                    });
                }
            }
        }
    }
    p.finish()?;
    let source = format!("yaml:datahub:{}", default_source(&[], &targets));
    let edges = edges
        .into_values()
        .map(|(from, to, columns)| EdgeDraft {
            key: EdgeKey {
                from,
                to,
                source: source.clone(),
            },
            columns,
            transform: None,
        })
        .collect();
    Ok(Document {
        format: Format::Datahub,
        source,
        models: Vec::new(),
        tables_to_create: Vec::new(),
        edges,
        references,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_urns_split_into_platform_dataset_and_field() {
        assert_eq!(
            parse_field_urn(
                "urn:li:schemaField:(urn:li:dataset:(urn:li:dataPlatform:hive,db.orders,PROD),amount)"
            ),
            Some(("hive".into(), "db.orders".into(), "amount".into()))
        );
        assert_eq!(parse_field_urn("urn:li:dataset:x"), None);
    }

    #[test]
    fn dataset_names_fill_the_fqn_from_the_right() {
        let rules = vec![PlatformRule {
            platform: "hive".into(),
            platform_instance: None,
            service: "hive_prod".into(),
            database: "dwh".into(),
            schema: "default".into(),
        }];
        let fqn = |name: &str| table_of("hive", None, name, &rules).unwrap().to_string();
        assert_eq!(fqn("marts.daily"), "hive_prod.dwh.marts.daily");
        assert_eq!(fqn("daily"), "hive_prod.dwh.default.daily");
        assert_eq!(fqn("db.marts.daily"), "hive_prod.db.marts.daily");
        assert_eq!(
            table_of("kafka", Some("eu"), "topic", &rules)
                .unwrap()
                .to_string(),
            "eu.default.default.topic"
        );
        assert!(table_of("hive", None, "a.b.c.d", &rules).is_err());
    }
}
