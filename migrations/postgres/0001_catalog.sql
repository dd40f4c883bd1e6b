-- The catalog: entities, their lineage edges, teams, service connections, API tokens,
-- and the change log every write appends to in the same transaction.

CREATE TABLE teams (
    name         TEXT PRIMARY KEY,
    display_name TEXT,
    description  TEXT,
    contact      TEXT,
    webhook_url  TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE entities (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL,
    -- "C" collation: bytewise order, the same as SQLite's, which keyset paging and the
    -- descendant range scan (fqn >= 'x.' AND fqn < 'x/') rely on.
    fqn          TEXT COLLATE "C" NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    parent_id    UUID REFERENCES entities (id),
    display_name TEXT,
    description  TEXT,
    owner        TEXT REFERENCES teams (name),
    tags         JSONB NOT NULL DEFAULT '[]',
    attrs        JSONB NOT NULL DEFAULT '{}',
    source       TEXT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    deleted_at   TIMESTAMPTZ
);
CREATE INDEX entities_parent ON entities (parent_id);
CREATE INDEX entities_kind_fqn ON entities (kind, fqn);
CREATE INDEX entities_owner ON entities (owner);

CREATE TABLE service_connections (
    service_id UUID PRIMARY KEY REFERENCES entities (id),
    config     JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE edges (
    id         UUID PRIMARY KEY,
    from_id    UUID NOT NULL REFERENCES entities (id),
    to_id      UUID NOT NULL REFERENCES entities (id),
    kind       TEXT NOT NULL DEFAULT 'lineage',
    source     TEXT NOT NULL,
    columns    JSONB NOT NULL DEFAULT '[]',
    transform  TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (from_id, to_id, source)
);
CREATE INDEX edges_to ON edges (to_id);

CREATE TABLE api_tokens (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    token_hash   TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE change_log (
    seq       BIGSERIAL PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL,
    actor     TEXT NOT NULL,
    op        TEXT NOT NULL,
    entity_id UUID,
    fqn       TEXT,
    detail    JSONB NOT NULL DEFAULT '{}'
);
