//! What a checked document asks of the catalog, whatever format it came in.

use std::collections::BTreeSet;

use serde::Serialize;
use tributary_catalog::{EdgeDraft, EntityKind, Fqn};
use tributary_store::EntityTree;
use utoipa::ToSchema;

use crate::error::{DocumentError, Problem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Tributary's own lineage document, `docs/lineage-documents.md`.
    Tributary,
    /// DataHub's lineage file (`lineage:` entries with `upstream` and `fineGrainedLineages`).
    Datahub,
}

/// What a reference must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Column,
    Table,
    /// A dashboard, pipeline or model fed by a model's scores.
    Consumer,
    Team,
}

/// A name the document uses but does not define, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// An FQN, or a team name for [`Expect::Team`].
    pub name: String,
    pub expect: Expect,
    pub line: u64,
    pub column: u64,
    pub path: String,
}

/// A checked document: the desired state of everything it asserts.
#[derive(Debug, Clone)]
pub struct Document {
    pub format: Format,
    /// The change-log source of everything it writes (`yaml:<key>`): its edges are
    /// exactly the edges of this source.
    pub source: String,
    /// Models with the full set of their features.
    pub models: Vec<EntityTree>,
    /// Tables the document declares with `create: true`: written only when missing.
    pub tables_to_create: Vec<EntityTree>,
    /// Every edge the document asserts, all of `source`.
    pub edges: Vec<EdgeDraft>,
    /// Everything it points at outside itself, each with its place.
    pub references: Vec<Reference>,
}

impl Document {
    /// FQNs the document defines itself (models, features, created tables and columns).
    pub fn defined(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for tree in self.models.iter().chain(&self.tables_to_create) {
            out.insert(tree.root.fqn.to_string());
            for child in tree.children.iter().flatten() {
                out.insert(child.fqn.to_string());
            }
        }
        out
    }
}

/// Collects problems while a document is checked, so all of them come back at once.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn add(&mut self, at: (u64, u64), path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            line: at.0,
            column: at.1,
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn finish(self) -> Result<(), DocumentError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DocumentError::Invalid(self.0))
        }
    }

    /// `text` parsed as an FQN of `kind`, or a problem recorded.
    pub fn fqn(&mut self, text: &str, kind: EntityKind, at: (u64, u64), path: &str) -> Option<Fqn> {
        match Fqn::parse_as(text, kind) {
            Ok(fqn) => Some(fqn),
            Err(err) => {
                self.add(at, path, err.to_string());
                None
            }
        }
    }
}

/// The source key a document gets when it names none: its models' (else its tables')
/// FQNs, so the same document always replaces its own edges.
pub(crate) fn default_source(models: &[String], tables: &[String]) -> String {
    let mut keys: Vec<&String> = if models.is_empty() {
        tables.iter().collect()
    } else {
        models.iter().collect()
    };
    keys.sort();
    keys.dedup();
    keys.into_iter().cloned().collect::<Vec<_>>().join("+")
}
