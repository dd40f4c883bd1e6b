//! Teams own entities and are told when what they own is hit by an incident.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A team as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Team {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// How people reach the team: an e-mail address, a chat channel.
    pub contact: Option<String>,
    /// Incoming-webhook URL that incident notifications are posted to.
    pub webhook_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a write asserts about a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamDraft {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub contact: Option<String>,
    pub webhook_url: Option<String>,
}
