-- Appliances (issue 11): long-running processes a node supervises. One row per appliance ever
-- created (a removed one keeps its row with removed = 1, so a re-created one goes on numbering
-- its versions), and every version's config, never deleted: an upgrade adds a version, a
-- rollback moves `version` back, exactly as channels point at module versions.
--
-- desired: 'started' or 'stopped', what the person asked for; the node makes it so.
-- node: where it is pinned (`--on NODE`), NULL for "any node"; cluster placement with leases
-- (a later slice) fills in the rest.
-- config: the JSON object parseApplianceConfig accepts (src/appliances/config.ts).
CREATE TABLE appliances (
  name           TEXT PRIMARY KEY,
  created_at     INTEGER NOT NULL,
  removed        INTEGER NOT NULL DEFAULT 0,
  desired        TEXT NOT NULL,
  version        INTEGER NOT NULL,
  latest_version INTEGER NOT NULL,
  node           TEXT,
  updated_seq    INTEGER NOT NULL
);

CREATE TABLE appliance_versions (
  appliance  TEXT NOT NULL REFERENCES appliances (name),
  version    INTEGER NOT NULL,
  config     TEXT NOT NULL,
  actor      TEXT NOT NULL,
  message    TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  PRIMARY KEY (appliance, version)
);

-- Every appliance change is a history row (actions 'app-create', 'app-upgrade', …) with module
-- NULL and this column naming the appliance, so `lively app history NAME` is one indexed read
-- and the module history stays what it was.
ALTER TABLE history ADD COLUMN appliance TEXT;
CREATE INDEX history_by_appliance ON history (appliance, seq);
