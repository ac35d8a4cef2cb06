-- Buckets (issue 10, part 1): a key/value store beside the code, with a change sequence of
-- its own. Times are bigint milliseconds from now_ms(), the database's clock.

-- The KV change sequence. Its own row, never the history's 'seq': KV writes lock this one and
-- deploys lock that one, so neither ever waits for the other's row lock. A KV write bumps it
-- inside its transaction, after its entry rows are written and locked (so the big value is
-- never sent under this lock, and no two KV writers take locks in opposite orders), and holds
-- it until COMMIT, so KV commit order is kv sequence order (the sequence trap, DESIGN.md): a
-- reader of `seq > last` never skips a change that committed late.
INSERT INTO counters (name, value) VALUES ('kv', 0);

CREATE TABLE kv_buckets (
  name       text PRIMARY KEY,
  created_at bigint NOT NULL
);

-- One row per live (or expired, not yet swept) key. `version` is the kv sequence number of the
-- write that produced the row: it grows with every write of the key and is never reused, even
-- after a delete or a dropped bucket, so a compare-and-set can never be fooled by a key that
-- was deleted and written again (ABA). A value is JSON text or bytes, never both.
-- Keys compare bytewise: COLLATE "C" orders by the UTF-8 bytes, as SQLite's BINARY does,
-- whatever the database's own collation.
CREATE TABLE kv_entries (
  bucket      text NOT NULL REFERENCES kv_buckets (name) ON DELETE CASCADE,
  key         text COLLATE "C" NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('json', 'bytes')),
  value_json  text,
  value_bytes bytea,
  metadata    text,
  version     bigint NOT NULL,
  expires_at  bigint,
  updated_at  bigint NOT NULL,
  PRIMARY KEY (bucket, key),
  CHECK ((kind = 'json') = (value_json IS NOT NULL) AND (kind = 'bytes') = (value_bytes IS NOT NULL))
);
CREATE INDEX kv_entries_by_expiry ON kv_entries (expires_at) WHERE expires_at IS NOT NULL;

-- One row per KV change, numbered by the kv sequence: what a node's read cache invalidates
-- from and what the event stream replays. `key` is NULL for a bucket's create and drop.
-- A put's seq is also the key's new version.
-- Pruned by age (the sweep); a reader that falls behind the oldest row starts over.
CREATE TABLE kv_changes (
  seq     bigint PRIMARY KEY,
  at      bigint NOT NULL,
  bucket  text NOT NULL,
  key     text COLLATE "C",
  op      text NOT NULL CHECK (op IN ('create', 'drop', 'put', 'delete', 'expire'))
);
CREATE INDEX kv_changes_by_time ON kv_changes (at);

-- Get-or-compute leases (issue 10, part 3, which writes them): one row per key being computed.
-- `token` is the fencing token, taken from the kv sequence so it only ever grows; `expires_at`
-- comes from the database's clock. A holder's late write is refused unless its token is still
-- the row's. Dropping the bucket drops its leases.
CREATE TABLE kv_leases (
  bucket     text NOT NULL REFERENCES kv_buckets (name) ON DELETE CASCADE,
  key        text COLLATE "C" NOT NULL,
  holder     text NOT NULL,
  token      bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (bucket, key)
);
