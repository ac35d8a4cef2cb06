-- Routes: a host name, a wildcard host, a path prefix, or a host and a prefix that send public
-- traffic to a module (`lively route add`). `route` is the normalized target as the user
-- names it ('example.com', '*.example.com', '/api', 'example.com/api'); `host` and `prefix`
-- are its two halves, NULL when absent, so a node builds its route table without parsing.
-- A route outlives its module's soft delete: it then answers 404 instead of falling through.
CREATE TABLE routes (
  route       TEXT PRIMARY KEY,
  host        TEXT,
  prefix      TEXT,
  module      TEXT NOT NULL REFERENCES modules (name),
  updated_seq INTEGER NOT NULL
);
