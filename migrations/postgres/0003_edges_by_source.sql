-- Lineage documents replace the edges of one source: find them by it.
CREATE INDEX edges_source ON edges (source);
