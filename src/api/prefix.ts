/** Where the admin API lives on a node. A file of its own: the CLI needs the path, not the API. */
export const API_PREFIX = "/_lively/api/v1";
