/**
 * `lively rm`: a soft delete. The module stops being served and listed; its versions,
 * channels and history stay, so `lively restore --at` (or a new deploy) brings it back.
 */
import { appendHistory } from "../store/queries/history.ts";
import { setModuleDeleted } from "../store/queries/modules.ts";
import type { Store } from "../store/store.ts";
import { expectMismatch } from "./errors.ts";
import { liveModule } from "./live-module.ts";
import { assertModuleName } from "./names.ts";

export async function removeModule(
  store: Store,
  input: { module: string; actor: string; expect?: number },
): Promise<{ module: string; deleted: true; seq: number }> {
  assertModuleName(input.module);
  return store.write(async (tx) => {
    const record = await liveModule(tx, input.module);
    if (input.expect !== undefined && input.expect !== record.latestVersion) {
      throw expectMismatch(`module '${input.module}'`, input.expect, record.latestVersion, { module: input.module });
    }
    const row = await appendHistory(tx, {
      actor: input.actor,
      module: input.module,
      action: "delete",
      channel: null,
      from: record.latestVersion,
      to: null,
      details: null,
    });
    await setModuleDeleted(tx, input.module, true, row.seq);
    return { module: input.module, deleted: true, seq: row.seq };
  });
}
