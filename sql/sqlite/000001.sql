-- Lively schema 1: modules, versions, channels, the history and admin tokens.
-- Times are integer milliseconds since the epoch, taken from now_ms() (the database's clock).

-- One row per counter; 'seq' is the global, gap-free history sequence. A write transaction
-- bumps it while holding the write lock, so commit order is seq order.
CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('seq', 0);

CREATE TABLE modules (
  name           TEXT PRIMARY KEY,
  created_at     INTEGER NOT NULL,
  deleted        INTEGER NOT NULL DEFAULT 0,
  latest_version INTEGER NOT NULL DEFAULT 0,
  updated_seq    INTEGER NOT NULL
);

-- Immutable once written; gc is the only thing that removes a row.
CREATE TABLE versions (
  module       TEXT NOT NULL REFERENCES modules (name),
  version      INTEGER NOT NULL,
  sha256       TEXT NOT NULL,
  size         INTEGER NOT NULL,
  entry        TEXT NOT NULL,
  files        TEXT NOT NULL,
  artifact     TEXT NOT NULL,
  exports      TEXT NOT NULL,
  dependencies TEXT NOT NULL,
  author       TEXT NOT NULL,
  message      TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  seq          INTEGER NOT NULL,
  PRIMARY KEY (module, version)
);
CREATE INDEX versions_by_sha256 ON versions (module, sha256);

CREATE TABLE channels (
  module      TEXT NOT NULL REFERENCES modules (name),
  channel     TEXT NOT NULL,
  version     INTEGER NOT NULL,
  updated_seq INTEGER NOT NULL,
  PRIMARY KEY (module, channel)
);

-- Append-only. Every publish, channel move, delete and restore is one row.
CREATE TABLE history (
  seq          INTEGER PRIMARY KEY,
  at           INTEGER NOT NULL,
  actor        TEXT NOT NULL,
  module       TEXT,
  action       TEXT NOT NULL,
  channel      TEXT,
  from_version INTEGER,
  to_version   INTEGER,
  details      TEXT
);
CREATE INDEX history_by_module ON history (module, seq);
CREATE INDEX history_by_time ON history (at);

-- Only the sha256 of a token is stored.
CREATE TABLE tokens (
  name       TEXT PRIMARY KEY,
  hash       TEXT NOT NULL UNIQUE,
  scope      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  revoked_at INTEGER
);
