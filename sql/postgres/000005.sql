-- Cluster membership and the change feed's doorbell.
--
-- nodes: one row per node that has started against this database. A node upserts its row
-- every heartbeat (default 2 s) with the database's clock; one whose heartbeat is older than
-- the "down" interval (10 s) is shown as down, and rows long silent are pruned. A node that
-- stops cleanly marks itself 'left'. This table is not history: it changes no seq.
CREATE TABLE nodes (
  id             text PRIMARY KEY,
  address        text NOT NULL,
  lively_version text NOT NULL,
  started_at     bigint NOT NULL,
  heartbeat_at   bigint NOT NULL,
  applied_seq    bigint NOT NULL,
  -- 'up' while it heartbeats, 'left' after a clean stop (down is computed from heartbeat_at)
  state          text NOT NULL,
  -- JSON: [{"module", "version"}] of the versions it has loaded
  loaded         text NOT NULL
);

-- Every history row rings the doorbell with its seq (only the seq: a NOTIFY payload over
-- 8000 bytes would abort the writing transaction). Sent at commit; a node that misses it
-- still reads the row on its next catch-up or fallback poll.
CREATE FUNCTION lively_notify_history() RETURNS trigger
  LANGUAGE plpgsql
  AS $$ BEGIN PERFORM pg_notify('lively_history', NEW.seq::text); RETURN NULL; END $$;

CREATE TRIGGER history_notify AFTER INSERT ON history FOR EACH ROW EXECUTE FUNCTION lively_notify_history();
