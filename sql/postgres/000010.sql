-- Get-or-compute (issue 10, part 3) writes the leases of 000008. A lease row now also keeps
-- what its computation was asked for, so a holder that completes or renews over HTTP need not
-- repeat it: `lease_ms` (how long each renewal lasts), `ttl_ms` (the value's TTL when the
-- completion names none), `stale_ms` (staleWhileRevalidate: how long an expired value is kept
-- for stale reads). A computation that threw leaves its message in `error` until `error_until`
-- (the database's clock, 1 s on), so waiters everywhere see it instead of computing again; the
-- row's `token` still names the failed lease, and a late write with it is refused.
-- The lease row's `token` is a number of the kv sequence (000008), so it only grows, per key and
-- across keys, and is never reused, even after a dropped bucket.
ALTER TABLE kv_leases ADD COLUMN lease_ms bigint NOT NULL DEFAULT 10000;
ALTER TABLE kv_leases ADD COLUMN ttl_ms bigint;
ALTER TABLE kv_leases ADD COLUMN stale_ms bigint;
ALTER TABLE kv_leases ADD COLUMN error text;
ALTER TABLE kv_leases ADD COLUMN error_until bigint;

-- An entry written by get-or-compute with staleWhileRevalidate stays in its row until
-- `stale_until` (its expiry plus the window), so a caller asking for a stale value finds it;
-- no read of a key returns it once `expires_at` has passed, and the sweep waits for both.
-- Every other write clears it.
ALTER TABLE kv_entries ADD COLUMN stale_until bigint;
