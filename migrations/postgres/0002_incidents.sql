-- Incidents, the entities each one touches, and the webhook deliveries announcing them.

CREATE TABLE incidents (
    id              UUID PRIMARY KEY,
    -- The entity the incident was opened on.
    entity_id       UUID NOT NULL REFERENCES entities (id),
    -- The root's FQN at opening: the incident keeps its name if the entity is renamed or deleted.
    fqn             TEXT NOT NULL,
    title           TEXT NOT NULL,
    description     TEXT,
    severity        TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    status          TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    -- The impact report at opening, kept as it was; the store does not read it.
    snapshot        JSONB NOT NULL DEFAULT '{}',
    opened_by       TEXT NOT NULL,
    opened_at       TIMESTAMPTZ NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at TIMESTAMPTZ,
    resolved_by     TEXT,
    resolved_at     TIMESTAMPTZ
);
CREATE INDEX incidents_status ON incidents (status, opened_at);

-- Every entity an incident touches (its root and everything affected), so "active
-- incidents on this entity" is one indexed lookup rather than a scan of snapshots.
CREATE TABLE incident_entities (
    incident_id UUID NOT NULL REFERENCES incidents (id),
    entity_id   UUID NOT NULL REFERENCES entities (id),
    PRIMARY KEY (incident_id, entity_id)
);
CREATE INDEX incident_entities_entity ON incident_entities (entity_id);

CREATE TABLE deliveries (
    id               UUID PRIMARY KEY,
    incident_id      UUID NOT NULL REFERENCES incidents (id),
    team             TEXT NOT NULL,
    url              TEXT NOT NULL,
    payload          JSONB NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    last_status_code INTEGER,
    -- While pending: when the notifier may next try. A claim pushes it out by the lease,
    -- so the deliveries of a notifier that dies mid-send come due again.
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    delivered_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_incident ON deliveries (incident_id);
