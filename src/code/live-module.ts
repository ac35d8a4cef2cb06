/**
 * The one check every command on an existing module starts with: the module is stored and not
 * deleted. Written once so that every caller answers the same `not_found` error.
 */
import { getModule, type ModuleRecord } from "../store/queries/modules.ts";
import type { Db } from "../store/store.ts";
import { moduleNotFound } from "./errors.ts";

/** The module's record; throws `not_found` (with the next step) when it is missing or deleted. */
export async function liveModule(db: Db, module: string): Promise<ModuleRecord> {
  const record = await getModule(db, module);
  if (!record || record.deleted) throw moduleNotFound(module);
  return record;
}
