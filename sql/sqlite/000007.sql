-- A module's own request-body limit (`lively config M --body-mb N`), in MB. NULL: the node's
-- `--max-body-mb`, which is also the ceiling a module's own limit cannot pass.
ALTER TABLE module_config ADD COLUMN body_mb INTEGER;
