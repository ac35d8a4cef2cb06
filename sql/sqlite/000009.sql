-- The KV doorbell (issue 10, part 2) is PostgreSQL's alone: SQLite has no NOTIFY, so nodes
-- sharing the file poll `kv_changes`. This migration keeps the two dialects' schema versions equal.
SELECT 1;
