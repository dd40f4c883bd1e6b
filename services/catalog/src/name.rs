//! Rules for one name: an FQN part, a team name, a token name.

use crate::CatalogError;

/// Longest name accepted, in characters. Generous for warehouse identifiers, small enough
/// that an FQN always fits an index.
pub const MAX_NAME_CHARS: usize = 256;

/// Checks one name: non-empty, at most [`MAX_NAME_CHARS`] characters, no control characters.
pub fn validate_name(name: &str) -> Result<(), CatalogError> {
    let invalid = |reason: &str| CatalogError::InvalidName {
        name: name.chars().take(80).collect(),
        reason: reason.to_owned(),
    };
    if name.is_empty() {
        return Err(invalid("a name must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(&format!(
            "a name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("a name must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_identifiers_with_dots_quotes_and_unicode() {
        for ok in [
            "avg_check_30d",
            "a.b",
            "say \"hi\"",
            "Выручка",
            "x".repeat(256).as_str(),
        ] {
            assert!(validate_name(ok).is_ok(), "{ok:?} should be valid");
        }
    }

    #[test]
    fn rejects_empty_long_and_control_characters() {
        for bad in ["", "tab\there", "nl\n", "\u{7f}", "x".repeat(257).as_str()] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be invalid");
        }
    }
}
