-- Reconciling connector snapshots: which cron slot a scheduled run serves (so a second
-- replica does not run the same slot again), and what a run has seen so far (so the end
-- of a run can soft-delete what the source no longer holds without keeping it in memory).

ALTER TABLE ingestion_runs ADD COLUMN scheduled_for TEXT;
CREATE INDEX ingestion_runs_by_slot ON ingestion_runs (service_id, scheduled_for);

-- Entity and edge ids reported by a run (both are UUIDs, never equal); emptied at its end.
CREATE TABLE ingestion_seen (
    run_id BLOB NOT NULL REFERENCES ingestion_runs (id),
    id     BLOB NOT NULL,
    PRIMARY KEY (run_id, id)
) WITHOUT ROWID;
