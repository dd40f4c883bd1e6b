//! `/search`, `/search/models-by-feature` and `/suggest`: finding entities by name, by
//! feature name and by description, forgiving of case, separators, unfinished words and
//! typos, each hit with the reason it matched.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tributary_graph::NodeId;
use tributary_search::{Filters, SearchHit, SearchRequest, Suggestion, Tier, schema};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::impact::parse_kinds;
use crate::auth::Viewer;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;
const MAX_SUGGESTIONS: usize = 10;
/// Deeper pages than this are not served: refine the query instead.
const MAX_OFFSET: usize = 10_000;
const MAX_QUERY_CHARS: usize = 200;
/// Features considered per models-by-feature request (the nearest first).
const MAX_FEATURES: usize = 50_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(models_by_feature))
        .routes(routes!(suggest))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// What to look for: an FQN, a name (any case; `_`, `-`, spaces alike), the start of
    /// one, a name with a typo, or words of a description.
    #[param(example = "avg_check_30d")]
    pub q: String,
    /// Comma-separated kinds to keep (e.g. `ml_model,table`).
    pub kind: Option<String>,
    /// Only entities this team owns (columns and features inherit their table's or
    /// model's owner).
    pub owner: Option<String>,
    /// Only entities of this service.
    pub service: Option<String>,
    /// Hits per page, 1 to 100 (default 20).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Entities ranked exact FQN > exact name > exact feature name > prefix > fuzzy (edit
/// distance ≤ 2, names of ≥ 5 characters) > description words; each hit says why.
#[utoipa::path(get, path = "/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchPage), (status = 400, body = ErrorBody)))]
async fn search(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchPage>, ApiError> {
    let text = query_text(&params.q, "q")?;
    let limit = limit(params.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let offset = decode_offset(params.cursor.as_deref())?;
    let request = SearchRequest {
        text,
        filters: filters(params.kind.as_deref(), params.owner, params.service)?,
        tiers: Tier::SEARCH,
        offset,
        limit,
    };
    let results = state.search.search(&request)?;
    Ok(Json(SearchPage {
        next_cursor: next_cursor(results.more, offset + limit),
        hits: results.hits,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SuggestParams {
    /// What has been typed so far.
    #[param(example = "avg_ch")]
    pub q: String,
    /// Comma-separated kinds to keep.
    pub kind: Option<String>,
    /// At most this many suggestions, 1 to 10 (default 10).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestions {
    pub items: Vec<Suggestion>,
}

/// Typeahead: distinct names that are, start like, or are close to what was typed, the
/// shortest completions first, each shown through its best entity with a count.
#[utoipa::path(get, path = "/suggest", tag = "search", params(SuggestParams),
    responses((status = 200, body = Suggestions), (status = 400, body = ErrorBody)))]
async fn suggest(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SuggestParams>,
) -> Result<Json<Suggestions>, ApiError> {
    let text = query_text(&params.q, "q")?;
    let items = state.search.suggest(
        text,
        &filters(params.kind.as_deref(), None, None)?,
        limit(params.limit, MAX_SUGGESTIONS, MAX_SUGGESTIONS)?,
    )?;
    Ok(Json(Suggestions { items }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ModelsByFeatureParams {
    /// The feature name (any case; `_`, `-`, spaces alike).
    #[param(example = "avg_check_30d")]
    pub name: String,
    /// Also list models using close names (edit distance ≤ 2, names of ≥ 5 characters),
    /// after the exact ones.
    #[serde(default)]
    pub fuzzy: bool,
    /// Models per page, 1 to 100 (default 20).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The owning team and how to reach it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OwnerRef {
    pub team: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// A feature of the model whose name matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchedFeature {
    pub fqn: String,
    pub name: String,
    /// Edit distance between the asked name and this one (0: the same name).
    pub distance: u32,
    /// Entities with a lineage edge into the feature: its source columns.
    pub sources: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelUsingFeature {
    pub id: Uuid,
    pub fqn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<OwnerRef>,
    /// Whether a feature has exactly the asked name.
    pub exact: bool,
    /// The matched features, nearest name first.
    pub features: Vec<MatchedFeature>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsByFeature {
    /// The asked name, as matched (lowercased, separators as `_`).
    pub key: String,
    /// Models with an exactly named feature first, then by closest name, then by FQN.
    pub models: Vec<ModelUsingFeature>,
    /// Models matched in all, over every page.
    pub total: usize,
    /// Whether so many features matched that some were not considered.
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Models that use a feature of this name — and, with `fuzzy=true`, of close names —
/// with the matched features, their source columns, and the owner team.
#[utoipa::path(get, path = "/search/models-by-feature", tag = "search",
    params(ModelsByFeatureParams),
    responses((status = 200, body = ModelsByFeature), (status = 400, body = ErrorBody)))]
async fn models_by_feature(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ModelsByFeatureParams>,
) -> Result<Json<ModelsByFeature>, ApiError> {
    let name = query_text(&params.name, "name")?;
    let limit = limit(params.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let offset = decode_offset(params.cursor.as_deref())?;
    let (features, truncated) = state
        .search
        .features_named(name, params.fuzzy, MAX_FEATURES)?;

    // Group by model in the graph: a feature's parent is its model.
    struct Found {
        model: NodeId,
        best: u32,
        fqn: String,
        features: Vec<(NodeId, u32)>,
    }
    let mut page: Vec<Found>;
    let total;
    {
        let graph = state.graph.read();
        let mut by_model: HashMap<NodeId, Found> = HashMap::new();
        for hit in &features {
            let Some(feature) = graph.find(hit.id) else {
                continue;
            };
            let Some(model) = graph.node(feature).parent else {
                continue;
            };
            let found = by_model.entry(model).or_insert_with(|| Found {
                model,
                best: hit.distance,
                fqn: String::new(),
                features: Vec::new(),
            });
            found.best = found.best.min(hit.distance);
            found.features.push((feature, hit.distance));
        }
        let mut models: Vec<Found> = by_model.into_values().collect();
        for found in &mut models {
            found.fqn = graph.fqn_text(found.model);
        }
        models.sort_by(|a, b| a.best.cmp(&b.best).then_with(|| a.fqn.cmp(&b.fqn)));
        total = models.len();
        page = models.into_iter().skip(offset).take(limit).collect();
        for found in &mut page {
            found.features.sort_by(|a, b| {
                a.1.cmp(&b.1)
                    .then_with(|| graph.node(a.0).name.cmp(&graph.node(b.0).name))
            });
        }
    }
    // Descriptions are not in the graph; the index stores them.
    let ids: Vec<Uuid> = {
        let graph = state.graph.read();
        page.iter().map(|f| graph.node(f.model).id).collect()
    };
    let descriptions = state.search.descriptions(&ids)?;

    let graph = state.graph.read();
    let mut fqns = graph.fqn_cache();
    let models = page
        .into_iter()
        .map(|found| {
            let node = graph.node(found.model);
            let owner = graph.owner_name(found.model).map(|team| {
                let known = state.graph.team(team);
                OwnerRef {
                    team: team.to_owned(),
                    display_name: known.as_ref().and_then(|t| t.display_name.clone()),
                    contact: known.and_then(|t| t.contact),
                }
            });
            ModelUsingFeature {
                id: node.id,
                name: node.name.to_string(),
                description: descriptions.get(&node.id).cloned(),
                owner,
                exact: found.best == 0,
                features: found
                    .features
                    .iter()
                    .map(|&(feature, distance)| MatchedFeature {
                        fqn: fqns.get(feature).to_string(),
                        name: graph.node(feature).name.to_string(),
                        distance,
                        sources: graph
                            .direct_sources(feature)
                            .into_iter()
                            .map(|s| fqns.get(s).to_string())
                            .collect(),
                    })
                    .collect(),
                fqn: found.fqn,
            }
        })
        .collect();
    Ok(Json(ModelsByFeature {
        key: schema::key(name),
        models,
        total,
        truncated,
        next_cursor: next_cursor(offset + limit < total, offset + limit),
    }))
}

fn query_text<'a>(text: &'a str, field: &str) -> Result<&'a str, ApiError> {
    let chars = text.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("{field} is {chars} characters long; at most {MAX_QUERY_CHARS} are searched"),
        ));
    }
    if schema::key(text).is_empty() {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("{field} has no letters or digits to search for"),
        ));
    }
    Ok(text)
}

fn limit(requested: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    match requested {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(
            "invalid_query",
            format!("limit {n} is out of range; use 1 to {max}"),
        )),
    }
}

fn filters(
    kinds: Option<&str>,
    owner: Option<String>,
    service: Option<String>,
) -> Result<Filters, ApiError> {
    Ok(Filters {
        kinds: match kinds {
            None => Vec::new(),
            Some(_) => parse_kinds(kinds)?,
        },
        owner,
        service,
    })
}

/// Search cursors carry the offset of the next page (results are ranked, not keyed).
fn next_cursor(more: bool, offset: usize) -> Option<String> {
    (more && offset <= MAX_OFFSET).then(|| URL_SAFE_NO_PAD.encode(format!("o:{offset}")))
}

fn decode_offset(cursor: Option<&str>) -> Result<usize, ApiError> {
    let Some(cursor) = cursor else { return Ok(0) };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("o:")?.parse::<usize>().ok())
        .filter(|&offset| offset <= MAX_OFFSET)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_cursor",
                "the cursor is not one this server issued; start again without it",
            )
        })
}
