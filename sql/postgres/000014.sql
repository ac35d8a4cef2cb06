-- Cluster placement of appliances (issue 11, part 10): one lease per copy of an appliance.
-- A node runs a copy only while it holds that copy's lease (src/appliances/placement/). Plain
-- (unordered) writes: no history row, no seq; every time is the database's clock (now_ms()).
--
-- holder: the node that holds (or last held) the lease; NULL once released.
-- token: the fencing token, +1 at every take (never reused for this row): a renewal or a
--   release names it, so a node that lost its lease (it paused past the expiry and another
--   node took over) changes nothing.
-- expires_at: the lease is live while expires_at > now_ms(); a released lease has 0.
-- status: JSON the holder keeps current ({state, pid, restarts, lastExit, startedAt}), so any
--   node can show where and how the copy runs.
-- failed_on: JSON array of the nodes this copy crash-looped on; placement avoids them.
CREATE TABLE appliance_leases (
  appliance  TEXT NOT NULL,
  copy       INTEGER NOT NULL,
  holder     TEXT,
  token      bigint NOT NULL,
  expires_at bigint NOT NULL,
  status     TEXT NOT NULL DEFAULT '{}',
  failed_on  TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (appliance, copy)
);
