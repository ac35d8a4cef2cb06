-- Cluster membership. SQLite has no NOTIFY: nodes sharing the file poll the seq counter.
--
-- nodes: one row per node that has started against this database. A node upserts its row
-- every heartbeat (default 2 s); one whose heartbeat is older than the "down" interval (10 s)
-- is shown as down, and rows long silent are pruned. A node that stops cleanly marks itself
-- 'left'. This table is not history: it changes no seq.
CREATE TABLE nodes (
  id             TEXT PRIMARY KEY,
  address        TEXT NOT NULL,
  lively_version TEXT NOT NULL,
  started_at     INTEGER NOT NULL,
  heartbeat_at   INTEGER NOT NULL,
  applied_seq    INTEGER NOT NULL,
  -- 'up' while it heartbeats, 'left' after a clean stop (down is computed from heartbeat_at)
  state          TEXT NOT NULL,
  -- JSON: [{"module", "version"}] of the versions it has loaded
  loaded         TEXT NOT NULL
);
