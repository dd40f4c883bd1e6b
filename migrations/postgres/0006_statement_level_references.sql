-- Lineage documents and connector batches insert thousands of entities and edges per
-- statement. Row-level foreign keys check each row on its own: an index probe plus a
-- row lock on the referenced entity (written to the WAL), about half the cost of such an
-- insert (see BENCHMARKS.md). The same references are checked here once per statement,
-- over all the rows it wrote, with the same error code (23503). Deletes are checked too,
-- though the catalog only ever soft-deletes. SQLite keeps its row-level foreign keys:
-- there they are a plain index probe.

ALTER TABLE entities DROP CONSTRAINT entities_parent_id_fkey;
ALTER TABLE entities DROP CONSTRAINT entities_owner_fkey;
ALTER TABLE edges DROP CONSTRAINT edges_from_id_fkey;
ALTER TABLE edges DROP CONSTRAINT edges_to_id_fkey;

CREATE FUNCTION entities_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.fqn, n.parent_id, n.owner INTO bad FROM written n
    WHERE (n.parent_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = n.parent_id))
       OR (n.owner IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM teams t WHERE t.name = n.owner))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entity % refers to a missing parent (%) or team (%)',
            bad.fqn, bad.parent_id, bad.owner USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER entities_inserted_references AFTER INSERT ON entities
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION entities_references_exist();
CREATE TRIGGER entities_updated_references AFTER UPDATE ON entities
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION entities_references_exist();

CREATE FUNCTION edges_ends_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.id, n.from_id, n.to_id INTO bad FROM written n
    WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = n.from_id)
       OR NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = n.to_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'edge % joins % and %, one of which is missing',
            bad.id, bad.from_id, bad.to_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER edges_inserted_ends AFTER INSERT ON edges
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION edges_ends_exist();
CREATE TRIGGER edges_updated_ends AFTER UPDATE ON edges
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION edges_ends_exist();

-- What is still referred to cannot be deleted. (Edges are found by their start through
-- the (from_id, to_id, source) key, by their end through edges_to.)
CREATE FUNCTION entities_deleted_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM removed o
               WHERE EXISTS (SELECT 1 FROM entities e WHERE e.parent_id = o.id)
                  OR EXISTS (SELECT 1 FROM edges g WHERE g.from_id = o.id)
                  OR EXISTS (SELECT 1 FROM edges g WHERE g.to_id = o.id)) THEN
        RAISE EXCEPTION 'a deleted entity is still a parent or an edge end'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER entities_deleted AFTER DELETE ON entities
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION entities_deleted_unreferenced();

CREATE FUNCTION teams_deleted_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM removed o
               WHERE EXISTS (SELECT 1 FROM entities e WHERE e.owner = o.name)) THEN
        RAISE EXCEPTION 'a deleted team still owns entities'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER teams_deleted AFTER DELETE ON teams
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION teams_deleted_unreferenced();
