//! Bearer API tokens and the extractors that say who may call a handler.
//!
//! A token is `trb_` and 32 random bytes; only its SHA-256 is stored. A fast hash is the
//! right tool here (unlike for passwords): the secret has 256 bits of entropy, so it cannot
//! be guessed, and lookups by hash stay one indexed query.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine;
use rand::RngExt;
use sha2::{Digest, Sha256};
use tributary_catalog::Role;

use crate::error::ApiError;
use crate::state::AppState;

const TOKEN_PREFIX: &str = "trb_";

/// A new random token secret.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What the store keeps of a token.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who is calling: a token's name and role, or an anonymous reader.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub role: Option<Role>,
}

impl Principal {
    /// The name the change log records.
    pub fn actor(&self) -> &str {
        &self.name
    }
}

async fn authenticate(
    parts: &Parts,
    state: &AppState,
    needed: Role,
) -> Result<Principal, ApiError> {
    let header = parts.headers.get(header::AUTHORIZATION);
    let Some(header) = header else {
        if needed == Role::Viewer && state.anonymous_read {
            return Ok(Principal {
                name: "anonymous".into(),
                role: None,
            });
        }
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            format!(
                "this needs a token with the {needed} role: send Authorization: Bearer <token>"
            ),
        ));
    };
    let token = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the bearer token is unknown or revoked",
        )
    };
    let Some(token) = token else {
        return Err(invalid());
    };
    let record = state
        .store
        .token_by_hash(&hash_token(token))
        .await?
        .ok_or_else(invalid)?;
    if record.role < needed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "token {:?} has the {} role; this needs {needed}",
                record.name, record.role
            ),
        ));
    }
    Ok(Principal {
        name: record.name,
        role: Some(record.role),
    })
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        pub struct $name(pub Principal);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, Self::Rejection> {
                authenticate(parts, state, $role).await.map($name)
            }
        }
    };
}

role_extractor!(
    /// Any reader: a token of any role, or nobody when anonymous reads are on.
    Viewer,
    Role::Viewer
);
role_extractor!(
    /// A token that may write catalog content.
    Editor,
    Role::Editor
);
role_extractor!(
    /// A token that may manage services, teams and tokens.
    Admin,
    Role::Admin
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_eq!(hash_token(&a).len(), 64);
    }
}
