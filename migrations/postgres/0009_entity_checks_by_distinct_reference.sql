-- An entity's references are checked once per distinct (parent, owner) pair a statement
-- wrote rather than once per row. The rows of one write share them: the 5,000 features
-- of a lineage document have one model as parent and its team as owner, the columns of a
-- table one table and one team. 0008 probed the same parent and team for each of them,
-- about a sixth of PostgreSQL's time inserting such a batch; the pairs are now gathered
-- first (one hash over the written rows) and each is probed once. The row named in the
-- error is looked up only when a check fails. Same errors, same error code.

CREATE OR REPLACE FUNCTION entities_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.parent_id, n.owner INTO bad
    FROM (SELECT DISTINCT w.parent_id, w.owner FROM written w) n
    LEFT JOIN LATERAL (SELECT true AS found FROM entities e
                       WHERE e.id = n.parent_id LIMIT 1) parent ON true
    LEFT JOIN LATERAL (SELECT true AS found FROM teams t
                       WHERE t.name = n.owner LIMIT 1) team ON true
    WHERE (n.parent_id IS NOT NULL AND parent.found IS NULL)
       OR (n.owner IS NOT NULL AND team.found IS NULL)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entity % refers to a missing parent (%) or team (%)',
            (SELECT w.fqn FROM written w
             WHERE w.parent_id IS NOT DISTINCT FROM bad.parent_id
               AND w.owner IS NOT DISTINCT FROM bad.owner
             LIMIT 1),
            bad.parent_id, bad.owner USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
