-- Buckets (issue 10, part 1): a key/value store beside the code, with a change sequence of
-- its own. Times are integer milliseconds from now_ms(), the database's clock.

-- The KV change sequence. Its own row, never the history's 'seq': KV writes bump this one and
-- deploys bump that one, so neither ever waits for the other's row lock (on PostgreSQL; on
-- SQLite the file's one write lock orders every writer anyway). A KV write bumps it inside its
-- transaction and holds it until COMMIT, so KV commit order is kv sequence order (the sequence
-- trap, DESIGN.md): a reader of `seq > last` never skips a change that committed late.
INSERT INTO counters (name, value) VALUES ('kv', 0);

CREATE TABLE kv_buckets (
  name       TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);

-- One row per live (or expired, not yet swept) key. `version` is the kv sequence number of the
-- write that produced the row: it grows with every write of the key and is never reused, even
-- after a delete or a dropped bucket, so a compare-and-set can never be fooled by a key that
-- was deleted and written again (ABA). A value is JSON text or bytes, never both.
-- Keys compare bytewise (SQLite's BINARY collation is memcmp over UTF-8).
CREATE TABLE kv_entries (
  bucket      TEXT NOT NULL REFERENCES kv_buckets (name) ON DELETE CASCADE,
  key         TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('json', 'bytes')),
  value_json  TEXT,
  value_bytes BLOB,
  metadata    TEXT,
  version     INTEGER NOT NULL,
  expires_at  INTEGER,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (bucket, key),
  CHECK ((kind = 'json') = (value_json IS NOT NULL) AND (kind = 'bytes') = (value_bytes IS NOT NULL))
);
CREATE INDEX kv_entries_by_expiry ON kv_entries (expires_at) WHERE expires_at IS NOT NULL;

-- One row per KV change, numbered by the kv sequence: what a node's read cache invalidates
-- from and what the event stream replays. `key` is NULL for a bucket's create and drop.
-- A put's seq is also the key's new version.
-- Pruned by age (the sweep); a reader that falls behind the oldest row starts over.
CREATE TABLE kv_changes (
  seq     INTEGER PRIMARY KEY,
  at      INTEGER NOT NULL,
  bucket  TEXT NOT NULL,
  key     TEXT,
  op      TEXT NOT NULL CHECK (op IN ('create', 'drop', 'put', 'delete', 'expire'))
);
CREATE INDEX kv_changes_by_time ON kv_changes (at);

-- Get-or-compute leases (issue 10, part 3, which writes them): one row per key being computed.
-- `token` is the fencing token, taken from the kv sequence so it only ever grows; `expires_at`
-- comes from the database's clock. A holder's late write is refused unless its token is still
-- the row's. Dropping the bucket drops its leases.
CREATE TABLE kv_leases (
  bucket     TEXT NOT NULL REFERENCES kv_buckets (name) ON DELETE CASCADE,
  key        TEXT NOT NULL,
  holder     TEXT NOT NULL,
  token      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (bucket, key)
);
