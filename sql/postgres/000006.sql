-- Who may reach what (issue #9, points 4 and 5).
--
-- module_config.public_pins: 1 lets anyone pin a version of the module (x-lively-version,
-- ?lively-version=); 0 (the default) asks for a token with `read` scope.
-- module_config.private_channels: a JSON array of channel names that, like a pin, need a
-- `read` token; every other channel stays public.
ALTER TABLE module_config ADD COLUMN public_pins smallint NOT NULL DEFAULT 0;
ALTER TABLE module_config ADD COLUMN private_channels text NOT NULL DEFAULT '[]';

-- Address ranges an operator opened to modules' outbound fetch (`lively network allow`):
-- platform-wide, admin scope. Loopback, private, link-local and metadata addresses are
-- refused unless a range here covers them; the module's own allowlist still names the hosts.
-- `cidr` is canonical ('10.20.0.0/16', 'fd00::/8'); each change is a `network` history row.
CREATE TABLE network_allow (
  cidr        text PRIMARY KEY,
  note        text NOT NULL DEFAULT '',
  created_by  text NOT NULL,
  created_at  bigint NOT NULL,
  created_seq bigint NOT NULL
);
