-- The home page's newest runs across services, read without sorting the whole history.
CREATE INDEX ingestion_runs_recent ON ingestion_runs (started_at);
