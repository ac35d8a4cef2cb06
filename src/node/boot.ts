/**
 * How a node gets its store ready, and what it does when the database cannot be reached at
 * that moment. A node whose database answers migrates, checks the schema and makes sure an
 * admin token exists before it serves. One whose database does not answer starts anyway when
 * its local copy holds a snapshot (cluster/local-copy/): it serves that map, reports
 * `degraded`, and its feed runs the same preparation as soon as the database answers again,
 * so a schema newer than this build is still refused the moment the node can see it. With
 * neither the database nor a snapshot there is nothing to serve: `unavailable`, exit 6.
 *
 * Owns: the decisions of a start. Must not import cli/.
 */
import { bootstrapAdminToken } from "../auth/tokens.ts";
import type { IndexState } from "../code/channel-index.ts";
import { LivelyError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { POOLER_REFUSED } from "../store/retry.ts";
import type { Store } from "../store/store.ts";

/** The database refused this build: its schema is newer (store/migrations.ts `refuseNewerSchema`). Retrying cannot help. */
export function refusesSchema(error: unknown): error is LivelyError {
  return error instanceof LivelyError && error.code === "unavailable" && typeof error.details?.schema === "number";
}

/** The database could not be reached (or answered that it cannot serve now): worth waiting for. */
export function cannotReach(error: unknown): error is LivelyError {
  return error instanceof LivelyError && error.code === "unavailable" && !refusesSchema(error) && !misconfigured(error);
}

/** A pooler refused how this node connects (--db-pooler is missing): waiting cannot help, a flag can. */
function misconfigured(error: LivelyError): boolean {
  return error.details?.reason === POOLER_REFUSED;
}

/** Migrate (refusing a newer schema) and make sure an admin token exists. Returns where a new token was written. */
export async function prepareStore(store: Store, dataDir: string, log: Logger): Promise<string | undefined> {
  const migration = await store.migrate();
  if (migration.applied.length > 0) log.info({ applied: migration.applied, store: store.description }, "store migrated");
  return bootstrapAdminToken(store, dataDir);
}

/** Why a start without the database, and without a snapshot to serve instead, fails. */
export function nothingToServe(error: LivelyError, cacheDir: string, snapshotStore: string | undefined): LivelyError {
  const why =
    snapshotStore === undefined ? `no snapshot in ${cacheDir}` : `the snapshot in ${cacheDir} is of another store, ${snapshotStore}`;
  return new LivelyError(
    "unavailable",
    `${error.message}; and this node has no local copy of it to start from (${why}): ` +
      "start it once while the database can be reached, or wait for the database",
    error.details,
    { cause: error },
  );
}

/** Where a start without the database takes its map: the previous feed's (a restart inside the node), else the snapshot. */
export function offlineMap(previous: IndexState | undefined, snapshot: IndexState | undefined): IndexState | undefined {
  if (previous && previous.seq >= 0 && previous.seq >= (snapshot?.seq ?? -1)) return previous;
  return snapshot;
}
