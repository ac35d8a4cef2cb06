-- Events (issue 10, part 6): the cluster's node events get a durable log with a sequence of
-- their own, and each log records how far it has been pruned, so the event stream can tell a
-- client that its position is older than what the logs hold instead of skipping silently.

-- The node event sequence: taken under this counter row's lock inside the writing
-- transaction, so node event commit order is sequence order (the sequence trap, DESIGN.md). The
-- same lock serialises the writers that decide whether a node's status changed, so two nodes
-- noticing the same node go down record it once.
INSERT INTO counters (name, value) VALUES ('nodes', 0);
-- The highest seq each pruned log has forgotten: a cursor at or past it resumes without loss.
INSERT INTO counters (name, value) VALUES ('kv_pruned', 0);
INSERT INTO counters (name, value) VALUES ('nodes_pruned', 0);

-- One row per change of a node's status as the cluster sees it: 'up' (registered, or heard from
-- again after being down), 'down' (silent past the down interval), 'left' (a clean stop).
-- Pruned by age (24 h) by the nodes themselves.
CREATE TABLE node_events (
  seq     bigint PRIMARY KEY,
  at      bigint NOT NULL,
  node    text NOT NULL,
  address text NOT NULL,
  status  text NOT NULL CHECK (status IN ('up', 'down', 'left'))
);
CREATE INDEX node_events_by_node ON node_events (node, seq);
CREATE INDEX node_events_by_time ON node_events (at);

-- Pruning either log raises its horizon (statement level: the sweep deletes in batches).
CREATE FUNCTION lively_kv_pruned() RETURNS trigger
  LANGUAGE plpgsql
  AS $$ BEGIN
    UPDATE counters SET value = greatest(value, (SELECT coalesce(max(seq), 0) FROM old_rows)) WHERE name = 'kv_pruned';
    RETURN NULL;
  END $$;
CREATE TRIGGER kv_changes_pruned AFTER DELETE ON kv_changes
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lively_kv_pruned();

CREATE FUNCTION lively_nodes_pruned() RETURNS trigger
  LANGUAGE plpgsql
  AS $$ BEGIN
    UPDATE counters SET value = greatest(value, (SELECT coalesce(max(seq), 0) FROM old_rows)) WHERE name = 'nodes_pruned';
    RETURN NULL;
  END $$;
CREATE TRIGGER node_events_pruned AFTER DELETE ON node_events
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lively_nodes_pruned();

-- The node event doorbell, as for the history and the KV: only the seq.
CREATE FUNCTION lively_notify_nodes() RETURNS trigger
  LANGUAGE plpgsql
  AS $$ BEGIN PERFORM pg_notify('lively_nodes', (SELECT max(seq) FROM new_rows)::text); RETURN NULL; END $$;
CREATE TRIGGER node_events_notify AFTER INSERT ON node_events
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lively_notify_nodes();
