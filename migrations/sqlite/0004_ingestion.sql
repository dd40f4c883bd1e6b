-- Ingestion: one lease per service (one replica runs it at a time) and the history of runs.

CREATE TABLE ingestion_leases (
    service_id BLOB PRIMARY KEY REFERENCES entities (id),
    -- Who runs it (a replica's name and process), until when.
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE ingestion_runs (
    id          BLOB PRIMARY KEY,
    service_id  BLOB NOT NULL REFERENCES entities (id),
    "trigger"   TEXT NOT NULL CHECK ("trigger" IN ('schedule', 'manual', 'cli')),
    status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    holder      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    -- Entities created/updated/deleted, edges added/removed.
    counts      TEXT NOT NULL DEFAULT '{}',
    warnings    TEXT NOT NULL DEFAULT '[]',
    error       TEXT
);
CREATE INDEX ingestion_runs_by_service ON ingestion_runs (service_id, started_at);
