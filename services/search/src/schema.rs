//! The index's fields and how names are cut into terms.
//!
//! Catalog names are identifiers (`avg_check_30d`, `CLIENT_MARTS`), not prose, so every
//! name is indexed three ways: as word tokens split at `_`, `-`, `.` and spaces (for
//! `avg check` and prefixes while typing), as one normalised key (for exact and fuzzy
//! matches of the whole name, whatever its case or separators), and, for FQNs, as the
//! lowercased text.

use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tributary_catalog::EntityKind;

/// Bumped whenever the fields or their analysis change: an index written by another
/// version is rebuilt rather than read.
pub const SCHEMA_VERSION: u32 = 1;

/// The analyzer for names and prose: word pieces, lowercased.
pub const WORDS: &str = "tributary_words";

/// Terms longer than this are dropped: no identifier piece is, and they bloat the index.
const LONGEST_TERM: usize = 64;

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// The entity id as text: the term updates and deletes go by, and the hit's id.
    pub id: Field,
    /// The entity id as two fast u64 halves, read per hit without loading the document.
    pub id_hi: Field,
    pub id_lo: Field,
    pub kind: Field,
    /// Within one tier, models before tables before features before columns.
    pub kind_rank: Field,
    pub fqn: Field,
    /// Lowercased FQN, for exact FQN matches.
    pub fqn_key: Field,
    pub name: Field,
    /// [`key`] of the name: exact and fuzzy whole-name matches.
    pub name_key: Field,
    pub display_name: Field,
    pub description: Field,
    pub tags: Field,
    /// Tags, display name and the containing entity's name, searched as words.
    pub context: Field,
    /// Owning team, the entity's own or else its parent's (a column's table's).
    pub owner: Field,
    /// The service the entity belongs to (the first FQN part).
    pub service: Field,
    /// FQN of the containing table or model, for columns and features.
    pub parent_fqn: Field,
    /// A model's feature names, as words and as keys.
    pub features: Field,
    pub feature_key: Field,
}

pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let words = |stored: bool| {
        let options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(WORDS)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        id_hi: b.add_u64_field("id_hi", FAST),
        id_lo: b.add_u64_field("id_lo", FAST),
        kind: b.add_text_field("kind", STRING | STORED),
        kind_rank: b.add_u64_field("kind_rank", FAST),
        fqn: b.add_text_field("fqn", STORED),
        fqn_key: b.add_text_field("fqn_key", STRING),
        name: b.add_text_field("name", words(true)),
        name_key: b.add_text_field("name_key", STRING),
        display_name: b.add_text_field("display_name", STORED),
        description: b.add_text_field("description", words(true)),
        tags: b.add_text_field("tags", STORED),
        context: b.add_text_field("context", words(false)),
        owner: b.add_text_field("owner", STRING | STORED),
        service: b.add_text_field("service", STRING | STORED),
        parent_fqn: b.add_text_field("parent_fqn", STORED),
        features: b.add_text_field("features", words(true)),
        feature_key: b.add_text_field("feature_key", STRING),
    };
    (b.build(), fields)
}

pub fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(LONGEST_TERM))
        .filter(LowerCaser)
        .build()
}

/// The word pieces of `text`, as [`WORDS`] cuts them.
pub fn words(text: &str) -> Vec<String> {
    let mut analyzer = words_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

/// A name's key: lowercased word pieces joined by `_`. `AVG-Check 30d` and
/// `avg_check_30d` share the key `avg_check_30d`.
pub fn key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for piece in name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        if !out.is_empty() {
            out.push('_');
        }
        out.extend(piece.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Higher ranks come first among hits of one tier.
pub fn kind_rank(kind: EntityKind) -> u64 {
    match kind {
        EntityKind::MlModel => 9,
        EntityKind::Table => 8,
        EntityKind::Feature => 7,
        EntityKind::Dashboard => 6,
        EntityKind::Pipeline => 5,
        EntityKind::Column => 4,
        EntityKind::Service => 3,
        EntityKind::Team => 3,
        EntityKind::Database => 2,
        EntityKind::Schema => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_and_separators() {
        assert_eq!(key("avg_check_30d"), "avg_check_30d");
        assert_eq!(key("AVG_CHECK_30D"), "avg_check_30d");
        assert_eq!(key("  avg check-30d "), "avg_check_30d");
        assert_eq!(key("__x__"), "x");
        assert_eq!(key("---"), "");
    }

    #[test]
    fn words_split_identifiers() {
        assert_eq!(words("avg_check_30d"), ["avg", "check", "30d"]);
        assert_eq!(words("Client-Marts.Daily"), ["client", "marts", "daily"]);
    }
}
