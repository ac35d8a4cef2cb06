-- The KV doorbell (issue 10, part 2): every statement that records KV changes rings
-- 'lively_kv' once, at commit, with the highest seq it recorded (only the seq: a NOTIFY
-- payload over 8000 bytes would abort the writing transaction). A node's read cache then reads
-- `kv_changes` past the last seq it applied; a node that missed the ring reads them on its
-- next catch-up or fallback poll. Once per statement, not per row: a sweep that expires 500
-- keys rings once, not 500 times.
CREATE FUNCTION lively_notify_kv() RETURNS trigger
  LANGUAGE plpgsql
  AS $$ BEGIN PERFORM pg_notify('lively_kv', (SELECT max(seq) FROM new_rows)::text); RETURN NULL; END $$;

CREATE TRIGGER kv_changes_notify AFTER INSERT ON kv_changes
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lively_notify_kv();
