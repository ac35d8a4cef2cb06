-- Appliance lifecycle events in the event stream (issue 11, part 7): an appliance's create,
-- start, ready, stop, crash, restart, crash-looping and remove become rows of the node event log,
-- with the node event sequence and its 24 h retention, so the stream reads them back from the
-- store like `node.*` events (never from a node's memory) and a client resumes them by id.
--
-- appliance: the appliance's name (NULL on a node's own up/down/left rows).
-- detail: the event's payload as JSON text (exit code, signal, why, restarts…), NULL when none.
-- The node's own rows keep their statuses; an appliance's row has its event as the status.
-- SQLite cannot change a CHECK in place: the table is rebuilt (its rows, indexes and trigger).
CREATE TABLE node_events_next (
  seq       INTEGER PRIMARY KEY,
  at        INTEGER NOT NULL,
  node      TEXT NOT NULL,
  address   TEXT NOT NULL,
  status    TEXT NOT NULL,
  appliance TEXT,
  detail    TEXT,
  CHECK (
    (appliance IS NULL AND status IN ('up', 'down', 'left'))
    OR (appliance IS NOT NULL AND status IN ('create', 'start', 'ready', 'stop', 'crash', 'restart', 'crash-looping', 'remove'))
  )
);
INSERT INTO node_events_next (seq, at, node, address, status) SELECT seq, at, node, address, status FROM node_events;
DROP TABLE node_events;
ALTER TABLE node_events_next RENAME TO node_events;
CREATE INDEX node_events_by_node ON node_events (node, seq);
CREATE INDEX node_events_by_time ON node_events (at);
-- A node's last status is read over its own rows only (queries/events.ts).
CREATE INDEX node_events_status_by_node ON node_events (node, seq) WHERE appliance IS NULL;

CREATE TRIGGER node_events_pruned AFTER DELETE ON node_events
BEGIN
  UPDATE counters SET value = max(value, OLD.seq) WHERE name = 'nodes_pruned';
END;
