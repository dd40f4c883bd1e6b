//! Answering searches: ranked tiers, filters, and why each hit matched.
//!
//! A search runs its tiers in order — exact FQN, exact name, exact feature name, prefix,
//! fuzzy, description words — and a hit keeps the first tier that found it. Running the
//! tiers one after another (instead of one query with boosts) keeps the order strict
//! whatever the term statistics, tells each hit's reason for free, and stops as soon as
//! a page is full: most searches never run the costly fuzzy tier.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhrasePrefixQuery, Query, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentReader, TantivyDocument, Term};
use tributary_catalog::EntityKind;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::SearchError;
use crate::index::SearchIndex;
use crate::schema::{self, Fields};

/// Fuzzy matching applies to keys of at least this many characters, up to this distance.
pub const FUZZY_MIN_CHARS: usize = 5;
pub const FUZZY_MAX_DISTANCE: u8 = 2;
/// Longer keys are not matched fuzzily: no identifier is that long, and the automaton
/// grows with the key.
const FUZZY_MAX_CHARS: usize = 64;
/// Close names considered per fuzzy search; the nearest are kept.
const FUZZY_MAX_TERMS: usize = 500;
/// Names read from the dictionary per typeahead request: the shortest are shown.
const SUGGEST_SCAN: usize = 200;
/// Terms a prefix stands for; more is not typeahead any more.
const PREFIX_EXPANSIONS: u32 = 200;

/// Why a hit matched, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The query is the entity's FQN (any case).
    ExactFqn,
    /// The query is the entity's name, ignoring case and separators.
    ExactName,
    /// The query is the name of one of the model's features.
    ExactFeature,
    /// The name (or a feature name) starts with the query's words.
    Prefix,
    /// The name (or a feature name) is within a small edit distance of the query.
    Fuzzy,
    /// Every query word is in the description, tags, display name or container name.
    Description,
}

impl Tier {
    pub const SEARCH: &[Tier] = &[
        Tier::ExactFqn,
        Tier::ExactName,
        Tier::ExactFeature,
        Tier::Prefix,
        Tier::Fuzzy,
        Tier::Description,
    ];
    /// Typeahead: names only.
    pub const SUGGEST: &[Tier] = &[Tier::ExactName, Tier::Prefix, Tier::Fuzzy];
}

/// Restrictions every hit must meet.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Any of these kinds; empty means all.
    pub kinds: Vec<EntityKind>,
    pub owner: Option<String>,
    pub service: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SearchRequest<'a> {
    pub text: &'a str,
    pub filters: Filters,
    pub tiers: &'a [Tier],
    pub offset: usize,
    pub limit: usize,
}

/// Part of a field's text that matched, as character offsets `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Highlight {
    /// `fqn`, `name`, `features`, `description`, `tags`, `display_name` or `parent`.
    pub field: &'static str,
    /// The text the ranges point into (for descriptions, a fragment around the match).
    pub text: String,
    /// Character (not byte) offsets of the matching pieces in `text`.
    pub ranges: Vec<[usize; 2]>,
}

/// Why one entity is in the results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MatchReason {
    pub tier: Tier,
    /// The field that matched.
    pub field: &'static str,
    /// For models found through their features: the feature names that matched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// For fuzzy matches: the edit distance between the query and the matched name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance: Option<u32>,
    pub highlights: Vec<Highlight>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SearchHit {
    pub id: Uuid,
    pub kind: EntityKind,
    pub fqn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub service: String,
    /// The containing table (of a column) or model (of a feature).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub matched: MatchReason,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Whether hits follow this page.
    pub more: bool,
}

/// A feature whose name is the one asked for, or close to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureHit {
    pub id: Uuid,
    /// The matched name's key (see [`schema::key`]).
    pub key: String,
    /// 0 for the exact name.
    pub distance: u32,
}

/// A typeahead suggestion: one distinct name, shown through its best entity.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Suggestion {
    /// The entity shown for the name: models before tables before features before columns.
    pub id: Uuid,
    pub fqn: String,
    pub name: String,
    pub kind: EntityKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// `exact_name`, `prefix` or `fuzzy`.
    pub tier: Tier,
    /// Live entities (of the asked kinds) sharing this name.
    pub count: usize,
}

/// The query text, prepared once for every tier.
struct Prepared {
    lower: String,
    key: String,
    words: Vec<String>,
}

impl Prepared {
    fn new(text: &str) -> Prepared {
        Prepared {
            lower: text.trim().to_lowercase(),
            key: schema::key(text),
            words: schema::words(text),
        }
    }

    fn fuzzy_allowed(&self) -> bool {
        fuzzy_allowed(&self.key)
    }
}

/// One query of a tier, with what it says about its hits.
struct TierQuery {
    tier: Tier,
    query: Box<dyn Query>,
    distance: Option<u32>,
    /// The field it searches: `name` or `features` (a model's feature names).
    field: &'static str,
    /// Fuzzy: the keys this query stands for, to tell which features matched.
    keys: HashSet<String>,
}

impl SearchIndex {
    /// Runs `request`'s tiers in order and returns one page of hits.
    pub fn search(&self, request: &SearchRequest<'_>) -> Result<SearchResults, SearchError> {
        let prepared = Prepared::new(request.text);
        if prepared.key.is_empty() {
            return Ok(SearchResults {
                hits: Vec::new(),
                more: false,
            });
        }
        let searcher = self.searcher();
        let filter = filter_query(&self.fields, &request.filters);
        let need = request.offset + request.limit + 1;
        let mut seen: HashSet<DocAddress> = HashSet::new();
        let mut found: Vec<(DocAddress, usize)> = Vec::new();
        let mut queries: Vec<TierQuery> = Vec::new();
        'tiers: for &tier in request.tiers {
            let first = queries.len();
            queries.extend(self.tier_queries(&searcher, tier, &prepared)?);
            for (q, tier_query) in queries.iter().enumerate().skip(first) {
                if found.len() >= need {
                    break 'tiers;
                }
                let query = restrict(tier_query.query.box_clone(), filter.as_deref());
                let collector = TopDocs::with_limit(need + seen.len()).tweak_score(by_kind_rank);
                for (_, address) in searcher.search(&query, &collector)? {
                    if seen.insert(address) {
                        found.push((address, q));
                        if found.len() >= need {
                            break;
                        }
                    }
                }
            }
            if found.len() >= need {
                break;
            }
        }
        let more = found.len() > request.offset + request.limit;
        let page = found.into_iter().skip(request.offset).take(request.limit);
        let mut hits = Vec::new();
        for (address, q) in page {
            let doc: TantivyDocument = searcher.doc(address)?;
            hits.push(self.hit(&searcher, &doc, &queries[q], &prepared)?);
        }
        Ok(SearchResults { hits, more })
    }

    /// Features named `name` (any case or separators), then — when `fuzzy` — features
    /// with close names, nearest first; at most `cap` in all. The flag says whether more
    /// were left out.
    pub fn features_named(
        &self,
        name: &str,
        fuzzy: bool,
        cap: usize,
    ) -> Result<(Vec<FeatureHit>, bool), SearchError> {
        let key = schema::key(name);
        if key.is_empty() {
            return Ok((Vec::new(), false));
        }
        let searcher = self.searcher();
        let f = &self.fields;
        let mut keys = vec![(key.clone(), 0)];
        if fuzzy && fuzzy_allowed(&key) {
            keys.extend(close_terms(&searcher, f.name_key, &key)?);
        }
        let feature = Term::from_field_text(f.kind, EntityKind::Feature.as_str());
        let mut hits = Vec::new();
        for (term, distance) in keys {
            let query = BooleanQuery::new(vec![
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(f.name_key, &term),
                        IndexRecordOption::Basic,
                    )) as Box<dyn Query>,
                ),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(feature.clone(), IndexRecordOption::Basic)),
                ),
            ]);
            let mut addresses: Vec<DocAddress> = searcher
                .search(&query, &DocSetCollector)?
                .into_iter()
                .collect();
            addresses.sort();
            for id in ids_of(&searcher, &addresses)? {
                if hits.len() == cap {
                    return Ok((hits, true));
                }
                hits.push(FeatureHit {
                    id,
                    key: term.clone(),
                    distance,
                });
            }
        }
        Ok((hits, false))
    }

    /// Typeahead: distinct names that are, start with, or (when few do) contain words
    /// starting with or close to what was typed; each shown through its best entity.
    ///
    /// Names, not entities, because a thousand columns called `client_id` are one
    /// suggestion; and the name-start case reads the term dictionary's sorted range, so
    /// a two-letter prefix costs no more than a long one.
    pub fn suggest(
        &self,
        text: &str,
        filters: &Filters,
        limit: usize,
    ) -> Result<Vec<Suggestion>, SearchError> {
        let key = schema::key(text);
        if key.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.searcher();
        let f = &self.fields;
        let filter = filter_query(f, filters);
        let mut names: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(f.name_key)?;
            let mut stream = inverted
                .terms()
                .range()
                .ge(key.as_bytes())
                .into_stream()
                .map_err(|e| SearchError::Index(e.into()))?;
            let mut taken = 0;
            while taken < SUGGEST_SCAN && stream.advance() {
                let Ok(term) = std::str::from_utf8(stream.key()) else {
                    continue;
                };
                if !term.starts_with(key.as_str()) {
                    break;
                }
                taken += 1;
                if seen.insert(term.to_owned()) {
                    names.push(term.to_owned());
                }
            }
        }
        // The typed name itself, then the shortest completions.
        names.sort_by(|a, b| {
            (a != &key)
                .cmp(&(b != &key))
                .then(a.len().cmp(&b.len()))
                .then_with(|| a.cmp(b))
        });
        let mut out = Vec::new();
        for name in &names {
            let tier = if *name == key {
                Tier::ExactName
            } else {
                Tier::Prefix
            };
            if let Some(s) = self.representative(&searcher, name, filter.as_deref(), tier)? {
                out.push(s);
                if out.len() == limit {
                    return Ok(out);
                }
            }
        }
        // Too few names start so: words inside names, then close names.
        let more = self.search(&SearchRequest {
            text,
            filters: filters.clone(),
            tiers: &[Tier::Prefix, Tier::Fuzzy],
            offset: 0,
            limit: (limit - out.len()) * 4,
        })?;
        // Suggestions complete names: a model found through its features is not one.
        for hit in more.hits.into_iter().filter(|h| h.matched.field == "name") {
            let name = schema::key(&hit.name);
            if seen.insert(name.clone())
                && let Some(s) =
                    self.representative(&searcher, &name, filter.as_deref(), hit.matched.tier)?
            {
                out.push(s);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The best live entity (passing `filter`) whose name has key `name`, and how many.
    fn representative(
        &self,
        searcher: &Searcher,
        name: &str,
        filter: Option<&dyn Query>,
        tier: Tier,
    ) -> Result<Option<Suggestion>, SearchError> {
        let f = &self.fields;
        let query = restrict(
            Box::new(TermQuery::new(
                Term::from_field_text(f.name_key, name),
                IndexRecordOption::Basic,
            )),
            filter,
        );
        let (top, count) = searcher.search(
            &query,
            &(
                TopDocs::with_limit(1).tweak_score(by_kind_rank),
                tantivy::collector::Count,
            ),
        )?;
        let Some((_, address)) = top.first() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(*address)?;
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let kind = text(f.kind)
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| SearchError::Task("an indexed document has no kind".into()))?;
        Ok(Some(Suggestion {
            id: doc_id(&doc, f)?,
            fqn: text(f.fqn).unwrap_or_default(),
            name: text(f.name).unwrap_or_default(),
            kind,
            owner: text(f.owner),
            tier,
            count,
        }))
    }

    /// The stored descriptions of indexed entities, by id; those without one are left out.
    pub fn descriptions(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, SearchError> {
        let searcher = self.searcher();
        let f = &self.fields;
        let terms = ids
            .iter()
            .map(|id| Term::from_field_text(f.id, &id.to_string()));
        let mut out = HashMap::new();
        for address in searcher.search(&TermSetQuery::new(terms), &DocSetCollector)? {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let (Ok(id), Some(description)) = (
                doc_id(&doc, f),
                doc.get_first(f.description).and_then(|v| v.as_str()),
            ) {
                out.insert(id, description.to_owned());
            }
        }
        Ok(out)
    }

    fn tier_queries(
        &self,
        searcher: &Searcher,
        tier: Tier,
        p: &Prepared,
    ) -> Result<Vec<TierQuery>, SearchError> {
        let f = &self.fields;
        let term = |field: Field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::WithFreqs,
            ))
        };
        let one = |query: Box<dyn Query>| TierQuery {
            tier,
            query,
            distance: None,
            field: "name",
            keys: HashSet::new(),
        };
        Ok(match tier {
            Tier::ExactFqn => vec![one(term(f.fqn_key, &p.lower))],
            Tier::ExactName => vec![one(term(f.name_key, &p.key))],
            Tier::ExactFeature => vec![TierQuery {
                field: "features",
                ..one(term(f.feature_key, &p.key))
            }],
            Tier::Prefix if p.words.is_empty() => Vec::new(),
            Tier::Prefix => {
                let prefix = |field: Field| -> Box<dyn Query> {
                    let terms = p
                        .words
                        .iter()
                        .map(|w| Term::from_field_text(field, w))
                        .collect();
                    let mut query = PhrasePrefixQuery::new(terms);
                    query.set_max_expansions(PREFIX_EXPANSIONS);
                    Box::new(query)
                };
                vec![
                    one(prefix(f.name)),
                    TierQuery {
                        field: "features",
                        ..one(prefix(f.features))
                    },
                ]
            }
            Tier::Fuzzy => {
                let mut queries = Vec::new();
                if p.fuzzy_allowed() {
                    // Nearer first; at one distance, names before models' feature names
                    // (as exact names come before exact feature names).
                    let mut by_distance: BTreeMap<(u32, usize), (Vec<Term>, HashSet<String>)> =
                        BTreeMap::new();
                    for (order, field) in [f.name_key, f.feature_key].into_iter().enumerate() {
                        for (key, distance) in close_terms(searcher, field, &p.key)? {
                            let entry = by_distance.entry((distance, order)).or_default();
                            entry.0.push(Term::from_field_text(field, &key));
                            entry.1.insert(key);
                        }
                    }
                    for ((distance, order), (terms, keys)) in by_distance {
                        queries.push(TierQuery {
                            tier,
                            query: Box::new(TermSetQuery::new(terms)),
                            distance: Some(distance),
                            field: if order == 0 { "name" } else { "features" },
                            keys,
                        });
                    }
                }
                // Word by word: a typo in one word of a longer name (`avg_chek` for
                // `avg_check_30d`).
                if p.words.iter().any(|w| fuzzy_allowed(w)) {
                    let clauses = p
                        .words
                        .iter()
                        .map(|w| -> (Occur, Box<dyn Query>) {
                            let t = Term::from_field_text(f.name, w);
                            if fuzzy_allowed(w) {
                                (
                                    Occur::Must,
                                    Box::new(FuzzyTermQuery::new(t, FUZZY_MAX_DISTANCE, true)),
                                )
                            } else {
                                (
                                    Occur::Must,
                                    Box::new(TermQuery::new(t, IndexRecordOption::Basic)),
                                )
                            }
                        })
                        .collect();
                    queries.push(one(Box::new(BooleanQuery::new(clauses))));
                }
                queries
            }
            Tier::Description if p.words.is_empty() => Vec::new(),
            Tier::Description => {
                let clauses = p
                    .words
                    .iter()
                    .map(|w| -> (Occur, Box<dyn Query>) {
                        (
                            Occur::Must,
                            Box::new(BooleanQuery::new(vec![
                                (Occur::Should, term(f.description, w)),
                                (Occur::Should, term(f.context, w)),
                            ])),
                        )
                    })
                    .collect();
                vec![one(Box::new(BooleanQuery::new(clauses)))]
            }
        })
    }

    fn hit(
        &self,
        searcher: &Searcher,
        doc: &TantivyDocument,
        q: &TierQuery,
        p: &Prepared,
    ) -> Result<SearchHit, SearchError> {
        let f = &self.fields;
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let all = |field: Field| -> Vec<String> {
            doc.get_all(field)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let name = text(f.name).unwrap_or_default();
        let fqn = text(f.fqn).unwrap_or_default();
        let features = all(f.features);
        let description = text(f.description);
        let mut reason = MatchReason {
            tier: q.tier,
            field: "name",
            features: Vec::new(),
            distance: q.distance,
            highlights: Vec::new(),
        };
        let whole = |field: &'static str, text: &str| Highlight {
            field,
            text: text.to_owned(),
            ranges: vec![[0, text.chars().count()]],
        };
        match q.tier {
            Tier::ExactFqn => {
                reason.field = "fqn";
                reason.highlights.push(whole("fqn", &fqn));
            }
            Tier::ExactName => reason.highlights.push(whole("name", &name)),
            Tier::ExactFeature => {
                reason.field = "features";
                reason.features = features
                    .iter()
                    .filter(|n| schema::key(n) == p.key)
                    .cloned()
                    .collect();
                reason
                    .highlights
                    .extend(reason.features.iter().map(|n| whole("features", n)));
            }
            Tier::Prefix if q.field == "name" => reason.highlights.push(Highlight {
                field: "name",
                text: name.clone(),
                ranges: phrase_prefix_ranges(&name, &p.words),
            }),
            Tier::Prefix => {
                reason.field = "features";
                for feature in &features {
                    let ranges = phrase_prefix_ranges(feature, &p.words);
                    if !ranges.is_empty() {
                        reason.features.push(feature.clone());
                        reason.highlights.push(Highlight {
                            field: "features",
                            text: feature.clone(),
                            ranges,
                        });
                    }
                }
            }
            Tier::Fuzzy if !q.keys.is_empty() => {
                if q.field == "name" {
                    reason.highlights.push(whole("name", &name));
                } else {
                    reason.field = "features";
                    reason.features = features
                        .iter()
                        .filter(|n| q.keys.contains(&schema::key(n)))
                        .cloned()
                        .collect();
                    reason
                        .highlights
                        .extend(reason.features.iter().map(|n| whole("features", n)));
                }
            }
            Tier::Fuzzy => {
                let ranges = word_ranges(&name, |w| {
                    p.words.iter().any(|q| {
                        q == w
                            || (q.chars().count() >= FUZZY_MIN_CHARS
                                && strsim::osa_distance(q, w) <= FUZZY_MAX_DISTANCE.into())
                    })
                });
                reason.highlights.push(Highlight {
                    field: "name",
                    text: name.clone(),
                    ranges,
                });
            }
            Tier::Description => {
                let generator = SnippetGenerator::create(searcher, &*q.query, f.description)?;
                let snippet = generator.snippet_from_doc(doc);
                if !snippet.highlighted().is_empty() {
                    reason.field = "description";
                    let fragment = snippet.fragment();
                    reason.highlights.push(Highlight {
                        field: "description",
                        text: fragment.to_owned(),
                        ranges: snippet
                            .highlighted()
                            .iter()
                            .map(|r| char_range(fragment, r.start, r.end))
                            .collect(),
                    });
                } else {
                    reason.field = "context";
                }
                let is_word = |w: &str| p.words.iter().any(|q| q == w);
                let mut context: Vec<(&'static str, String)> =
                    all(f.tags).into_iter().map(|t| ("tags", t)).collect();
                context.extend(text(f.display_name).map(|d| ("display_name", d)));
                context.extend(text(f.parent_fqn).map(|d| ("parent", d)));
                for (field, value) in context {
                    let ranges = word_ranges(&value, is_word);
                    if !ranges.is_empty() {
                        reason.highlights.push(Highlight {
                            field,
                            text: value,
                            ranges,
                        });
                    }
                }
            }
        }
        let kind = text(f.kind)
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| SearchError::Task("an indexed document has no kind".into()))?;
        Ok(SearchHit {
            id: doc_id(doc, f)?,
            kind,
            fqn,
            name,
            display_name: text(f.display_name),
            description,
            owner: text(f.owner),
            service: text(f.service).unwrap_or_default(),
            parent: text(f.parent_fqn),
            matched: reason,
        })
    }
}

fn fuzzy_allowed(key: &str) -> bool {
    (FUZZY_MIN_CHARS..=FUZZY_MAX_CHARS).contains(&key.chars().count())
}

/// Within a tier: higher score first, then models before tables before columns.
fn by_kind_rank(segment: &SegmentReader) -> impl Fn(DocId, Score) -> (Score, u64) + use<> {
    let rank = segment
        .fast_fields()
        .u64("kind_rank")
        .ok()
        .map(|column| column.first_or_default_col(0));
    move |doc, score| (score, rank.as_ref().map_or(0, |r| r.get_val(doc)))
}

/// Terms of `field` within the fuzzy distance of `key` (itself excluded), nearest first.
fn close_terms(
    searcher: &Searcher,
    field: Field,
    key: &str,
) -> Result<Vec<(String, u32)>, SearchError> {
    let query = FuzzyTermQuery::new(Term::from_field_text(field, key), FUZZY_MAX_DISTANCE, true);
    let mut terms: BTreeMap<String, u32> = BTreeMap::new();
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(field)?;
        let mut stream = inverted
            .terms()
            .search(query.automaton()?)
            .into_stream()
            .map_err(|e| SearchError::Index(e.into()))?;
        while stream.advance() {
            if let Ok(term) = std::str::from_utf8(stream.key())
                && term != key
                && !terms.contains_key(term)
            {
                terms.insert(term.to_owned(), strsim::osa_distance(term, key) as u32);
            }
        }
    }
    let mut terms: Vec<(String, u32)> = terms.into_iter().collect();
    terms.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    terms.truncate(FUZZY_MAX_TERMS);
    Ok(terms)
}

fn filter_query(f: &Fields, filters: &Filters) -> Option<Box<dyn Query>> {
    let term = |field: Field, text: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, text),
            IndexRecordOption::Basic,
        ))
    };
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !filters.kinds.is_empty() {
        let kinds = filters
            .kinds
            .iter()
            .map(|k| (Occur::Should, term(f.kind, k.as_str())))
            .collect();
        must.push((Occur::Must, Box::new(BooleanQuery::new(kinds))));
    }
    if let Some(owner) = &filters.owner {
        must.push((Occur::Must, term(f.owner, owner)));
    }
    if let Some(service) = &filters.service {
        must.push((Occur::Must, term(f.service, service)));
    }
    (!must.is_empty()).then(|| Box::new(BooleanQuery::new(must)) as Box<dyn Query>)
}

/// `query`, keeping only documents `filter` accepts; the filter adds nothing to scores.
fn restrict(query: Box<dyn Query>, filter: Option<&dyn Query>) -> Box<dyn Query> {
    match filter {
        None => query,
        Some(filter) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, query),
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(filter.box_clone(), 0.0)),
            ),
        ])),
    }
}

/// The entity ids of documents, read from fast fields (no stored document loaded).
fn ids_of(searcher: &Searcher, addresses: &[DocAddress]) -> Result<Vec<Uuid>, SearchError> {
    let mut ids = Vec::with_capacity(addresses.len());
    let mut current: Option<(u32, _, _)> = None;
    for address in addresses {
        if current.as_ref().map(|c| c.0) != Some(address.segment_ord) {
            let fast = searcher.segment_reader(address.segment_ord).fast_fields();
            current = Some((
                address.segment_ord,
                fast.u64("id_hi")?.first_or_default_col(0),
                fast.u64("id_lo")?.first_or_default_col(0),
            ));
        }
        let (_, hi, lo) = current.as_ref().expect("set above");
        ids.push(Uuid::from_u64_pair(
            hi.get_val(address.doc_id),
            lo.get_val(address.doc_id),
        ));
    }
    Ok(ids)
}

fn doc_id(doc: &TantivyDocument, f: &Fields) -> Result<Uuid, SearchError> {
    doc.get_first(f.id)
        .and_then(|v| v.as_str())
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| SearchError::Task("an indexed document has no id".into()))
}

/// Character ranges of the first run of `text`'s word pieces equal to `words`, the last
/// one a prefix (as the phrase-prefix query matched them); empty when there is none.
fn phrase_prefix_ranges(text: &str, words: &[String]) -> Vec<[usize; 2]> {
    let mut analyzer = schema::words_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut tokens = Vec::new();
    while let Some(token) = stream.next() {
        tokens.push((
            token.text.clone(),
            char_range(text, token.offset_from, token.offset_to),
        ));
    }
    let Some((last, leading)) = words.split_last() else {
        return Vec::new();
    };
    tokens
        .windows(words.len())
        .find(|window| {
            window[..leading.len()]
                .iter()
                .zip(leading)
                .all(|((t, _), w)| t == w)
                && window[leading.len()].0.starts_with(last.as_str())
        })
        .map(|window| window.iter().map(|(_, r)| *r).collect())
        .unwrap_or_default()
}

/// Character ranges of the word pieces of `text` that `matches` accepts.
fn word_ranges(text: &str, matches: impl Fn(&str) -> bool) -> Vec<[usize; 2]> {
    let mut analyzer = schema::words_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut ranges = Vec::new();
    while let Some(token) = stream.next() {
        if matches(&token.text) {
            ranges.push(char_range(text, token.offset_from, token.offset_to));
        }
    }
    ranges
}

fn char_range(text: &str, from: usize, to: usize) -> [usize; 2] {
    let start = text.get(..from).map_or(0, |s| s.chars().count());
    let len = text.get(from..to).map_or(0, |s| s.chars().count());
    [start, start + len]
}
