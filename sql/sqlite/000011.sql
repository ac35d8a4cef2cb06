-- Events (issue 10, part 6): the cluster's node events get a durable log with a sequence of
-- their own, and each log records how far it has been pruned, so the event stream can tell a
-- client that its position is older than what the logs hold instead of skipping silently.

-- The node event sequence, bumped inside the writing transaction (SQLite's one writer per file
-- orders them anyway). The highest seq each pruned log has forgotten: a cursor at or past it
-- resumes without loss.
INSERT INTO counters (name, value) VALUES ('nodes', 0);
INSERT INTO counters (name, value) VALUES ('kv_pruned', 0);
INSERT INTO counters (name, value) VALUES ('nodes_pruned', 0);

-- One row per change of a node's status as the cluster sees it: 'up' (registered, or heard from
-- again after being down), 'down' (silent past the down interval), 'left' (a clean stop).
-- Pruned by age (24 h) by the nodes themselves.
CREATE TABLE node_events (
  seq     INTEGER PRIMARY KEY,
  at      INTEGER NOT NULL,
  node    TEXT NOT NULL,
  address TEXT NOT NULL,
  status  TEXT NOT NULL CHECK (status IN ('up', 'down', 'left'))
);
CREATE INDEX node_events_by_node ON node_events (node, seq);
CREATE INDEX node_events_by_time ON node_events (at);

CREATE TRIGGER kv_changes_pruned AFTER DELETE ON kv_changes
BEGIN
  UPDATE counters SET value = max(value, OLD.seq) WHERE name = 'kv_pruned';
END;

CREATE TRIGGER node_events_pruned AFTER DELETE ON node_events
BEGIN
  UPDATE counters SET value = max(value, OLD.seq) WHERE name = 'nodes_pruned';
END;
