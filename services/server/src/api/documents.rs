//! `/lineage/documents`: lineage as code. CI pushes the YAML document kept in a model's
//! repository; the catalog makes everything the document asserts exactly so — in one
//! transaction, leaving what other sources assert alone — and answers with the diff.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tributary_catalog::{EntityKind, Fqn};
use tributary_documents::{Document, DocumentError, Expect, Format, Reference};
use tributary_search::{Filters, SearchRequest, Tier};
use tributary_store::{DocumentWrite, EntityState, ExpectedEntity, PendingChange, StoreError};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::applied_documents::{self, Memo};
use crate::auth::Editor;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, DocumentText};
use crate::live_graph::Applied;
use crate::state::AppState;

/// Suggestions offered per unknown reference.
const SUGGESTIONS: usize = 3;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(push_document))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PushParams {
    /// Check and work out the diff, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntityRef {
    pub fqn: String,
    pub kind: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EdgeRef {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct EntityDiff {
    pub created: Vec<EntityRef>,
    pub updated: Vec<EntityRef>,
    pub deleted: Vec<EntityRef>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct EdgeDiff {
    pub added: Vec<EdgeRef>,
    pub updated: Vec<EdgeRef>,
    pub removed: Vec<EdgeRef>,
    pub unchanged: u64,
}

/// What the push changed (or, in a dry run, would change).
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDiff {
    /// The source the document's entities and edges carry (`yaml:…`).
    pub source: String,
    pub format: Format,
    pub dry_run: bool,
    pub entities: EntityDiff,
    pub edges: EdgeDiff,
}

/// Applies a lineage document (Tributary's `version: 1`, or a DataHub lineage file).
///
/// The document is the desired state of everything it asserts: its models and features
/// are written, tables it declares with `create: true` are created when missing, and the
/// edges of its source are exactly those it lists (others of that source are removed;
/// other sources' edges are untouched). All or nothing, in one transaction; pushing the
/// same document twice writes nothing the second time.
#[utoipa::path(post, path = "/lineage/documents", tag = "lineage", params(PushParams),
    security(("bearer" = [])),
    request_body(content = String, content_type = "application/yaml",
        description = "The document, as YAML or JSON (docs/lineage-documents.md)"),
    responses(
        (status = 200, body = DocumentDiff),
        (status = 400, description = "Not YAML, or breaking the format's rules; details give line and column", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "References to what the catalog does not hold, each with its line and suggestions", body = ErrorBody),
    ))]
async fn push_document(
    who: Editor,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PushParams>,
    DocumentText(text): DocumentText,
) -> Result<(Extension<Applied>, Response), ApiError> {
    let digest = applied_documents::digest(&text, &state.platforms);
    if let Some(unchanged) = state
        .documents
        .unchanged(state.store.as_ref(), &digest)
        .await?
    {
        let diff = diff(
            unchanged.source,
            unchanged.format,
            params.dry_run,
            &[],
            unchanged.edges,
        );
        return Ok((Extension(Applied), Json(diff).into_response()));
    }
    let Document {
        format,
        source,
        models,
        tables_to_create,
        edges,
        references,
    } = tributary_documents::parse(&text, &state.platforms).map_err(document_error)?;
    let expected = references
        .iter()
        .filter_map(|r| {
            kinds_expected(r.expect).map(|kinds| ExpectedEntity {
                fqn: r.name.clone(),
                kinds,
            })
        })
        .collect();
    // References are checked inside the write's transaction, against what it commits on;
    // only when one fails is the document gone through again for each reference's place
    // and suggestions.
    let write = DocumentWrite {
        source: source.clone(),
        models,
        tables_to_create,
        edges,
        expected,
        dry_run: params.dry_run,
    };
    let written = match state
        .store
        .apply_lineage_document(who.0.actor(), write)
        .await
    {
        Err(StoreError::References(problems)) => {
            check_references(&state, &references).await?;
            // Resolved meanwhile: report what the transaction saw.
            return Err(StoreError::References(problems).into());
        }
        other => other?,
    };
    let Some(committed) = written.committed else {
        // A dry run: nothing committed, nothing for the graph or search to follow.
        let diff = diff(
            source,
            format,
            params.dry_run,
            &written.changes,
            written.edges_unchanged,
        );
        return Ok((Extension(Applied), Json(diff).into_response()));
    };
    // The answer (10,000 lines for a large document) is built and serialised on a blocking
    // thread while the graph takes the write; it is sent once the graph holds it.
    let committed = Arc::new(committed);
    let answer = tokio::task::spawn_blocking({
        let (committed, changes, unchanged) =
            (committed.clone(), written.changes, written.edges_unchanged);
        move || {
            let diff = diff(source, format, false, &changes, unchanged);
            let edges = &diff.edges;
            let listed = edges.unchanged + (edges.added.len() + edges.updated.len()) as u64;
            let memo = Memo::new(digest, diff.source.clone(), format, listed, &committed);
            (Json(diff).into_response(), memo)
        }
    });
    crate::live_graph::apply_committed(&state, committed).await;
    let (response, memo) = answer
        .await
        .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));
    state.documents.remember(memo);
    // Nothing to follow: the graph has the write, search has its part.
    Ok((Extension(Applied), response))
}

/// The answer to a push: the diff, read off the change-log rows the document wrote, and
/// the count of the edges it lists that were already as it says.
fn diff(
    source: String,
    format: Format,
    dry_run: bool,
    changes: &[PendingChange],
    unchanged: u64,
) -> DocumentDiff {
    let mut entities = EntityDiff::default();
    let mut edges = EdgeDiff::default();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    for change in changes {
        let entity = || EntityRef {
            fqn: change.fqn.clone().unwrap_or_default(),
            kind: text(&change.detail["kind"]),
        };
        let edge = || EdgeRef {
            from: text(&change.detail["from"]),
            to: text(&change.detail["to"]),
        };
        match change.op {
            "entity.created" => entities.created.push(entity()),
            "entity.updated" => entities.updated.push(entity()),
            "entity.deleted" => entities.deleted.push(entity()),
            "edge.created" => edges.added.push(edge()),
            "edge.updated" => edges.updated.push(edge()),
            "edge.deleted" => edges.removed.push(edge()),
            _ => {}
        }
    }
    edges.unchanged = unchanged;
    DocumentDiff {
        source,
        format,
        dry_run,
        entities,
        edges,
    }
}

fn document_error(err: DocumentError) -> ApiError {
    match err {
        DocumentError::Syntax {
            line,
            column,
            message,
        } => ApiError::bad_request(
            "invalid_document",
            format!("line {line}, column {column}: {message}"),
        )
        .with_details(vec![
            json!({"line": line, "column": column, "message": message}),
        ]),
        DocumentError::Invalid(problems) => {
            let summary = match problems.as_slice() {
                [one] => format!("line {}: {}: {}", one.line, one.path, one.message),
                many => format!("{} problems in the document; see details", many.len()),
            };
            ApiError::bad_request("invalid_document", summary).with_details(
                problems
                    .into_iter()
                    .map(|p| serde_json::to_value(p).expect("problems serialise"))
                    .collect(),
            )
        }
    }
}

/// Every reference must name a live entity of the right kind (or a team); all that do not
/// come back together as 422, each with its place and "did you mean" suggestions.
async fn check_references(state: &AppState, references: &[Reference]) -> Result<(), ApiError> {
    let fqns: Vec<Fqn> = references
        .iter()
        .filter(|r| r.expect != Expect::Team)
        .filter_map(|r| Fqn::parse(&r.name).ok())
        .collect();
    let found: HashMap<String, EntityState> = state
        .store
        .entity_states(&fqns)
        .await?
        .into_iter()
        .map(|e| (e.fqn.clone(), e))
        .collect();
    let needs_teams = references.iter().any(|r| r.expect == Expect::Team);
    let teams: HashSet<String> = if needs_teams {
        state
            .store
            .list_teams()
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect()
    } else {
        HashSet::new()
    };
    let mut problems = Vec::new();
    let mut reported = HashSet::new();
    for reference in references {
        let problem = match reference.expect {
            Expect::Team if teams.contains(&reference.name) => continue,
            Expect::Team => {
                "no team of this name exists; create it with PUT /api/v1/teams/{name}".to_owned()
            }
            expect => match found.get(&reference.name) {
                None => format!("no {} of this name exists", expected_word(expect)),
                Some(e) if !e.live => format!(
                    "{} {} was deleted; restore it or point at another",
                    e.kind, reference.name
                ),
                Some(e) if !kind_fits(expect, e.kind) => {
                    format!("is a {}, not a {}", e.kind, expected_word(expect))
                }
                Some(_) => continue,
            },
        };
        // One problem per reference and place.
        if !reported.insert((reference.name.clone(), reference.line, reference.column)) {
            continue;
        }
        let suggestions = suggest(state, reference, &teams).await?;
        problems.push(json!({
            "line": reference.line,
            "column": reference.column,
            "path": reference.path,
            "reference": reference.name,
            "expected": reference.expect,
            "problem": problem,
            "suggestions": suggestions,
        }));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let first = &problems[0];
    let message = match problems.len() {
        1 => format!(
            "line {}: {} {}",
            first["line"],
            first["reference"].as_str().unwrap_or_default(),
            first["problem"].as_str().unwrap_or_default()
        ),
        n => format!("{n} references do not resolve; see details"),
    };
    Err(ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_reference",
        message,
    )
    .with_details(problems))
}

fn expected_word(expect: Expect) -> &'static str {
    match expect {
        Expect::Column => "column",
        Expect::Table => "table",
        Expect::Consumer => "dashboard, pipeline or model",
        Expect::Team => "team",
    }
}

/// The kinds of entity a reference may name; `None` for teams, which are not entities.
fn kinds_expected(expect: Expect) -> Option<&'static [EntityKind]> {
    match expect {
        Expect::Column => Some(&[EntityKind::Column]),
        Expect::Table => Some(&[EntityKind::Table]),
        Expect::Consumer => Some(&[
            EntityKind::Dashboard,
            EntityKind::Pipeline,
            EntityKind::MlModel,
        ]),
        Expect::Team => None,
    }
}

fn kind_fits(expect: Expect, kind: EntityKind) -> bool {
    kinds_expected(expect).is_some_and(|kinds| kinds.contains(&kind))
}

/// Close names for an unknown reference: a column's siblings in its table when the table
/// exists, else entities of the expected kind found by search, nearest container first.
async fn suggest(
    state: &AppState,
    reference: &Reference,
    teams: &HashSet<String>,
) -> Result<Vec<String>, ApiError> {
    if reference.expect == Expect::Team {
        return Ok(closest(&reference.name, teams.iter().map(String::as_str)));
    }
    let Ok(fqn) = Fqn::parse(&reference.name) else {
        return Ok(Vec::new());
    };
    let parent = fqn.parent();
    if reference.expect == Expect::Column
        && let Some(table) = &parent
        && let Ok(table) = state.store.get_entity(table).await
    {
        let siblings = state.store.children(table.id).await?;
        let names: Vec<&str> = siblings.iter().map(|c| c.name.as_str()).collect();
        return Ok(closest(fqn.name(), names.into_iter())
            .into_iter()
            .filter_map(|name| table.fqn.child(&name).ok())
            .map(|f| f.to_string())
            .collect());
    }
    let kinds = match reference.expect {
        Expect::Column => vec![EntityKind::Column],
        Expect::Table => vec![EntityKind::Table],
        _ => vec![
            EntityKind::Dashboard,
            EntityKind::Pipeline,
            EntityKind::MlModel,
        ],
    };
    let hits = state.search.search(&SearchRequest {
        text: fqn.name(),
        filters: Filters {
            kinds,
            ..Filters::default()
        },
        tiers: &[Tier::ExactName, Tier::Prefix, Tier::Fuzzy],
        offset: 0,
        limit: 20,
    })?;
    // Nearest first: the same container, then the same service, then the rest.
    let service = fqn.parts().first().cloned().unwrap_or_default();
    let parent = parent.map(|p| p.to_string()).unwrap_or_default();
    let mut ranked: Vec<(u8, String)> = hits
        .hits
        .into_iter()
        .map(|h| {
            let rank = if h.fqn.starts_with(&format!("{parent}.")) {
                0
            } else if h.service == service {
                1
            } else {
                2
            };
            (rank, h.fqn)
        })
        .collect();
    ranked.sort_by_key(|(rank, _)| *rank);
    Ok(ranked
        .into_iter()
        .map(|(_, f)| f)
        .take(SUGGESTIONS)
        .collect())
}

/// Up to [`SUGGESTIONS`] names near `wanted`: within a third of its length in edits (at
/// least 2), or sharing its start; nearest first.
fn closest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted_lower = wanted.to_lowercase();
    let budget = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = names
        .filter_map(|name| {
            let lower = name.to_lowercase();
            let distance = strsim::osa_distance(&wanted_lower, &lower);
            let shares_start = wanted_lower.len() >= 3
                && (lower.starts_with(&wanted_lower) || wanted_lower.starts_with(&lower));
            (distance <= budget || shares_start).then_some((distance, name))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(_, n)| n.to_owned())
        .collect()
}
