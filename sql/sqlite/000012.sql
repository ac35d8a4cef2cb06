-- A module's KV bindings (`lively config M --bind-kv NAME=bucket`): a JSON object from the
-- name the module sees in its env (env.NAME) to a bucket's name. '{}': none; the module's own
-- bucket (env.KV, named after the module) needs no binding.
ALTER TABLE module_config ADD COLUMN kv_bindings TEXT NOT NULL DEFAULT '{}';
