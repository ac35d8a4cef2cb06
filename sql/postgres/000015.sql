-- Appliance lifecycle events in the event stream (issue 11, part 7): an appliance's create,
-- start, ready, stop, crash, restart, crash-looping and remove become rows of the node event log,
-- with the node event sequence and its 24 h retention, so the stream reads them back from the
-- store like `node.*` events (never from a node's memory) and a client resumes them by id.
--
-- appliance: the appliance's name (NULL on a node's own up/down/left rows).
-- detail: the event's payload as JSON text (exit code, signal, why, restarts…), NULL when none.
-- The node's own rows keep their statuses; an appliance's row has its event as the status.
ALTER TABLE node_events DROP CONSTRAINT node_events_status_check;
ALTER TABLE node_events ADD COLUMN appliance text;
ALTER TABLE node_events ADD COLUMN detail text;
ALTER TABLE node_events ADD CONSTRAINT node_events_status_check CHECK (
  (appliance IS NULL AND status IN ('up', 'down', 'left'))
  OR (appliance IS NOT NULL AND status IN ('create', 'start', 'ready', 'stop', 'crash', 'restart', 'crash-looping', 'remove'))
);
-- A node's last status is read over its own rows only (queries/events.ts): the appliance rows
-- of a busy node must not make that read slower.
CREATE INDEX node_events_status_by_node ON node_events (node, seq) WHERE appliance IS NULL;
