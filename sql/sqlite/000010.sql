-- Placeholder on the events branch (issue 10, part 6): the kv-leases work owns migration 000010.
-- When both branches meet, take that branch's file: this one changes nothing.
SELECT 1;
