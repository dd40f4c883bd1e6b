//! Fully qualified names: `service.database.schema.table.column`.
//!
//! Parts are joined by dots. A part that holds a dot or a double quote is wrapped in double
//! quotes, and a quote inside it is doubled (`"a.b"`, `"say ""hi"""`), so every list of
//! valid names has exactly one canonical text and the text parses back to the same parts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{CatalogError, EntityKind, validate_name};

/// A parsed, validated FQN. Equality and order follow the canonical text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fqn {
    text: String,
    parts: Vec<String>,
}

impl Fqn {
    /// Builds an FQN from its parts, validating each as a name.
    pub fn from_parts<I, S>(parts: I) -> Result<Self, CatalogError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let parts: Vec<String> = parts.into_iter().map(Into::into).collect();
        if parts.is_empty() {
            return Err(CatalogError::InvalidFqn {
                input: String::new(),
                reason: "an FQN needs at least one part".into(),
            });
        }
        for part in &parts {
            validate_name(part)?;
        }
        let text = format_parts(&parts);
        Ok(Fqn { text, parts })
    }

    /// Parses FQN text. Quoting a part that needs none is accepted; the canonical text drops it.
    pub fn parse(input: &str) -> Result<Self, CatalogError> {
        let invalid = |reason: String| CatalogError::InvalidFqn {
            input: input.chars().take(200).collect(),
            reason,
        };
        let mut parts = Vec::new();
        let mut chars = input.chars().peekable();
        loop {
            let mut part = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            part.push('"');
                        }
                        Some('"') => break,
                        Some(c) => part.push(c),
                        None => {
                            return Err(invalid(format!(
                                "part {} has an unterminated quote",
                                parts.len() + 1
                            )));
                        }
                    }
                }
                if !matches!(chars.peek(), None | Some('.')) {
                    return Err(invalid(format!(
                        "part {} has text after its closing quote",
                        parts.len() + 1
                    )));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    if c == '"' {
                        return Err(invalid(format!(
                            "part {} has a quote inside it; quote the whole part and double the quote",
                            parts.len() + 1
                        )));
                    }
                    part.push(c);
                    chars.next();
                }
            }
            if part.is_empty() {
                return Err(invalid(format!("part {} is empty", parts.len() + 1)));
            }
            validate_name(&part).map_err(|e| invalid(e.to_string()))?;
            parts.push(part);
            match chars.next() {
                None => break,
                Some('.') => continue,
                Some(_) => unreachable!("a part ends at a dot or the end"),
            }
        }
        Ok(Fqn {
            text: format_parts(&parts),
            parts,
        })
    }

    /// Parses FQN text and checks it has the shape of `kind` (its number of parts).
    pub fn parse_as(input: &str, kind: EntityKind) -> Result<Self, CatalogError> {
        let fqn = Fqn::parse(input)?;
        fqn.expect_kind(kind)?;
        Ok(fqn)
    }

    /// Checks this FQN has as many parts as an entity of `kind` has.
    pub fn expect_kind(&self, kind: EntityKind) -> Result<(), CatalogError> {
        if self.parts.len() == kind.fqn_depth() {
            Ok(())
        } else {
            Err(CatalogError::WrongShape {
                fqn: self.text.clone(),
                kind: kind.to_string(),
                expected: kind.fqn_depth(),
                found: self.parts.len(),
                shape: kind.fqn_shape(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// The last part: the entity's own name.
    pub fn name(&self) -> &str {
        self.parts.last().expect("an FQN has at least one part")
    }

    /// The FQN of the containing entity, if any.
    pub fn parent(&self) -> Option<Fqn> {
        (self.parts.len() > 1).then(|| {
            let parts = self.parts[..self.parts.len() - 1].to_vec();
            Fqn {
                text: format_parts(&parts),
                parts,
            }
        })
    }

    /// The FQN of a child named `name`.
    pub fn child(&self, name: &str) -> Result<Fqn, CatalogError> {
        validate_name(name)?;
        let mut parts = self.parts.clone();
        parts.push(name.to_owned());
        Ok(Fqn {
            text: format_parts(&parts),
            parts,
        })
    }

    /// The half-open text range `[start, end)` holding the FQNs of every descendant: all
    /// of them begin with `self.` and `/` is the character after `.`. Stores use it as an
    /// index range scan, which is why FQN columns compare bytewise.
    pub fn descendant_range(&self) -> (String, String) {
        (format!("{}.", self.text), format!("{}/", self.text))
    }
}

/// The canonical FQN text of parts already known to be valid names (stored ones), without
/// checking them again: for building many FQNs fast.
pub fn format_valid_parts<S: AsRef<str>>(parts: &[S]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.as_ref().len() + 1).sum());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_valid_part(&mut out, part.as_ref());
    }
    out
}

/// Appends one valid part to FQN text, quoted when it needs to be.
pub fn push_valid_part(out: &mut String, part: &str) {
    if needs_quotes(part) {
        out.push('"');
        out.push_str(&part.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(part);
    }
}

fn needs_quotes(part: &str) -> bool {
    part.contains('.') || part.contains('"')
}

fn format_parts(parts: &[String]) -> String {
    format_valid_parts(parts)
}

impl fmt::Display for Fqn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Fqn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fqn({})", self.text)
    }
}

impl FromStr for Fqn {
    type Err = CatalogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fqn::parse(s)
    }
}

impl Serialize for Fqn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Fqn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Fqn::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Fqn {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "Fully qualified name: dot-separated parts from the service down; a part \
                 holding a dot or a quote is double-quoted, with inner quotes doubled.",
            ))
            .examples(["hive_prod.dwh.client_marts.features_daily.avg_check_30d"])
            .into()
    }
}

impl utoipa::ToSchema for Fqn {}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn plain_parts_are_joined_by_dots() {
        let fqn = Fqn::parse("hive_prod.dwh.marts.features_daily").unwrap();
        assert_eq!(fqn.parts(), ["hive_prod", "dwh", "marts", "features_daily"]);
        assert_eq!(fqn.name(), "features_daily");
        assert_eq!(fqn.parent().unwrap().as_str(), "hive_prod.dwh.marts");
    }

    #[test]
    fn parts_with_dots_and_quotes_are_quoted() {
        let fqn = Fqn::from_parts(["svc", "db.v2", "say \"hi\""]).unwrap();
        assert_eq!(fqn.as_str(), r#"svc."db.v2"."say ""hi""""#);
        assert_eq!(Fqn::parse(fqn.as_str()).unwrap(), fqn);
    }

    #[test]
    fn needless_quotes_are_dropped_from_the_canonical_text() {
        assert_eq!(Fqn::parse(r#""svc".db"#).unwrap().as_str(), "svc.db");
    }

    #[test]
    fn malformed_fqns_are_rejected_with_a_reason() {
        for bad in ["", ".a", "a.", "a..b", "\"a", "\"a\"b.c", "a\"b", "a.\u{1}"] {
            let err = Fqn::parse(bad).expect_err(bad);
            assert!(
                matches!(err, CatalogError::InvalidFqn { .. }),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn shape_is_checked_against_the_kind() {
        assert!(Fqn::parse_as("a.b.c.d", EntityKind::Table).is_ok());
        assert!(Fqn::parse_as("a.b.c", EntityKind::Table).is_err());
    }

    #[test]
    fn descendants_fall_inside_the_range_and_siblings_outside() {
        let (start, end) = Fqn::parse("svc.db").unwrap().descendant_range();
        for inside in ["svc.db.s", "svc.db.\"x.y\"", "svc.db.~"] {
            assert!(
                start.as_str() <= inside && inside < end.as_str(),
                "{inside}"
            );
        }
        for outside in ["svc.db", "svc.db2.s", "svc.dc", "svc.db-x"] {
            assert!(
                !(start.as_str() <= outside && outside < end.as_str()),
                "{outside}"
            );
        }
    }

    fn part() -> impl Strategy<Value = String> {
        // Names of every shape the rules allow, weighted towards dots and quotes.
        prop_oneof!["[a-z_][a-z0-9_]{0,12}", "[a-z.\"]{1,8}", "[^\\p{Cc}]{1,20}",]
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(parts in prop::collection::vec(part(), 1..6)) {
            let fqn = Fqn::from_parts(parts.clone()).unwrap();
            let reparsed = Fqn::parse(fqn.as_str()).unwrap();
            prop_assert_eq!(reparsed.parts(), parts.as_slice());
            prop_assert_eq!(reparsed.as_str(), fqn.as_str());
        }

        #[test]
        fn parse_never_panics(input in "\\PC{0,40}") {
            let _ = Fqn::parse(&input);
        }
    }
}
