-- Lively schema 1: modules, versions, channels, the history and admin tokens.
-- Times are bigint milliseconds since the epoch, taken from now_ms() (the database's clock),
-- the same representation as on SQLite so that every query is written once.

CREATE FUNCTION now_ms() RETURNS bigint
  LANGUAGE sql STABLE
  AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

-- One row per counter; 'seq' is the global, gap-free history sequence. A write transaction
-- locks this row first (SELECT … FOR UPDATE) and bumps it, so commit order is seq order.
CREATE TABLE counters (
  name  text PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO counters (name, value) VALUES ('seq', 0);

CREATE TABLE modules (
  name           text PRIMARY KEY,
  created_at     bigint NOT NULL,
  deleted        smallint NOT NULL DEFAULT 0,
  latest_version integer NOT NULL DEFAULT 0,
  updated_seq    bigint NOT NULL
);

-- Immutable once written; gc is the only thing that removes a row.
CREATE TABLE versions (
  module       text NOT NULL REFERENCES modules (name),
  version      integer NOT NULL,
  sha256       text NOT NULL,
  size         integer NOT NULL,
  entry        text NOT NULL,
  files        text NOT NULL,
  artifact     text NOT NULL,
  exports      text NOT NULL,
  dependencies text NOT NULL,
  author       text NOT NULL,
  message      text NOT NULL,
  created_at   bigint NOT NULL,
  seq          bigint NOT NULL,
  PRIMARY KEY (module, version)
);
CREATE INDEX versions_by_sha256 ON versions (module, sha256);

CREATE TABLE channels (
  module      text NOT NULL REFERENCES modules (name),
  channel     text NOT NULL,
  version     integer NOT NULL,
  updated_seq bigint NOT NULL,
  PRIMARY KEY (module, channel)
);

-- Append-only. Every publish, channel move, delete and restore is one row.
CREATE TABLE history (
  seq          bigint PRIMARY KEY,
  at           bigint NOT NULL,
  actor        text NOT NULL,
  module       text,
  action       text NOT NULL,
  channel      text,
  from_version integer,
  to_version   integer,
  details      text
);
CREATE INDEX history_by_module ON history (module, seq);
CREATE INDEX history_by_time ON history (at);

-- Only the sha256 of a token is stored.
CREATE TABLE tokens (
  name       text PRIMARY KEY,
  hash       text NOT NULL UNIQUE,
  scope      text NOT NULL,
  created_at bigint NOT NULL,
  created_by text NOT NULL,
  revoked_at bigint
);
