-- The catalog: entities, their lineage edges, teams, service connections, API tokens,
-- and the change log every write appends to in the same transaction.

CREATE TABLE teams (
    name         TEXT PRIMARY KEY,
    display_name TEXT,
    description  TEXT,
    contact      TEXT,
    webhook_url  TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE entities (
    id           BLOB PRIMARY KEY,
    kind         TEXT NOT NULL,
    -- Canonical FQN text. SQLite compares TEXT bytewise, which the descendant range scan
    -- (fqn >= 'x.' AND fqn < 'x/') relies on.
    fqn          TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    parent_id    BLOB REFERENCES entities (id),
    display_name TEXT,
    description  TEXT,
    owner        TEXT REFERENCES teams (name),
    tags         TEXT NOT NULL DEFAULT '[]',
    attrs        TEXT NOT NULL DEFAULT '{}',
    source       TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX entities_parent ON entities (parent_id);
CREATE INDEX entities_kind_fqn ON entities (kind, fqn);
CREATE INDEX entities_owner ON entities (owner);

CREATE TABLE service_connections (
    service_id BLOB PRIMARY KEY REFERENCES entities (id),
    config     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE edges (
    id         BLOB PRIMARY KEY,
    from_id    BLOB NOT NULL REFERENCES entities (id),
    to_id      BLOB NOT NULL REFERENCES entities (id),
    kind       TEXT NOT NULL DEFAULT 'lineage',
    source     TEXT NOT NULL,
    columns    TEXT NOT NULL DEFAULT '[]',
    transform  TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (from_id, to_id, source)
);
CREATE INDEX edges_to ON edges (to_id);

CREATE TABLE api_tokens (
    id           BLOB PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    token_hash   TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE change_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    op        TEXT NOT NULL,
    entity_id BLOB,
    fqn       TEXT,
    detail    TEXT NOT NULL DEFAULT '{}'
);
