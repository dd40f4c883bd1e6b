//! Incident notifications to team webhooks (being written).
