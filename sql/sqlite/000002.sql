-- Split rollouts: a channel may send `split_weight` percent of its traffic to `split_version`
-- (the rest stays on `version`). NULL when the channel is not split.
ALTER TABLE channels ADD COLUMN split_version INTEGER;
ALTER TABLE channels ADD COLUMN split_weight INTEGER;
