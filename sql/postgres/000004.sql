-- Per-module settings: vars (what a module's code reads as env.vars) and config (limit
-- overrides and the outbound fetch allowlist). They apply to every version of a module at
-- once and are not part of `restore --at`. Only tables of their own, so this migration does
-- not depend on any other migration after 000002.

-- One row per var. A secret's value is stored like any other (the node needs it to run the
-- module); only the API and the CLI refuse to show it.
CREATE TABLE module_vars (
  module      text NOT NULL REFERENCES modules (name),
  name        text NOT NULL,
  value       text NOT NULL,
  secret      smallint NOT NULL DEFAULT 0,
  updated_seq bigint NOT NULL,
  updated_at  bigint NOT NULL,
  PRIMARY KEY (module, name)
);

-- One row per module that ever had a setting. NULL limits mean the node's default.
-- `updated_seq` is the seq of the last change to any of the module's settings, vars
-- included, so a removed var still moves it.
CREATE TABLE module_config (
  module      text PRIMARY KEY REFERENCES modules (name),
  cpu_ms      integer,
  wall_ms     integer,
  memory_mb   integer,
  fetch_allow text NOT NULL DEFAULT '[]',
  updated_seq bigint NOT NULL
);
