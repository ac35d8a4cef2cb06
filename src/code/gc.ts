/**
 * `lively gc --keep N [--window 30d]`: remove old versions nothing needs any more.
 * A version stays when it is among its module's newest N, when a channel points at it,
 * or when a channel pointed at it at any moment inside the window (so `restore --at`
 * anywhere in the window still works). Each module cleaned gets one `gc` history row.
 */
import { LivelyError } from "../errors.ts";
import { listChannels } from "../store/queries/channels.ts";
import { appendHistory, channelsAtSeq, seqAtTime, versionsPointedSince } from "../store/queries/history.ts";
import { listModules } from "../store/queries/modules.ts";
import { databaseNowMs } from "../store/queries/seq.ts";
import { deleteVersion, listVersions } from "../store/queries/versions.ts";
import type { Db, OrderedTx, Store } from "../store/store.ts";

export interface GcResult {
  removed: { module: string; versions: number[] }[];
  kept: number;
  dryRun: boolean;
}

export async function collectGarbage(
  store: Store,
  input: { keep: number; windowMs: number; actor: string; dryRun?: boolean },
): Promise<GcResult> {
  if (!Number.isSafeInteger(input.keep) || input.keep < 1) {
    throw new LivelyError("bad_request", `--keep must be a whole number of at least 1, got ${input.keep}`, { field: "keep" });
  }
  /** `tx` only when writing: a dry run reads the same plan and writes nothing. */
  const run = async (db: Db, tx: OrderedTx | undefined): Promise<GcResult> => {
    const windowStart = await seqAtTime(db, (await databaseNowMs(db)) - input.windowMs);
    const pointedAtStart = await channelsAtSeq(db, windowStart);
    const removed: GcResult["removed"] = [];
    let kept = 0;
    for (const module of await listModules(db, { includeDeleted: true })) {
      const versions = (await listVersions(db, module.name)).map((v) => v.version);
      const needed = new Set<number>(versions.slice(-input.keep));
      for (const channel of await listChannels(db, module.name)) {
        needed.add(channel.version);
        if (channel.split) needed.add(channel.split.version);
      }
      for (const v of await versionsPointedSince(db, module.name, windowStart)) needed.add(v);
      for (const p of pointedAtStart) {
        if (p.module !== module.name) continue;
        if (p.version !== null) needed.add(p.version);
        if (p.split) needed.add(p.split.version);
      }
      const doomed = versions.filter((v) => !needed.has(v));
      kept += versions.length - doomed.length;
      if (doomed.length === 0) continue;
      removed.push({ module: module.name, versions: doomed });
      if (!tx) continue;
      for (const version of doomed) await deleteVersion(tx, module.name, version);
      await appendHistory(tx, {
        actor: input.actor,
        module: module.name,
        action: "gc",
        channel: null,
        from: null,
        to: null,
        details: { removed: doomed },
      });
    }
    return { removed, kept, dryRun: !tx };
  };
  if (input.dryRun) return store.read((db) => run(db, undefined));
  return store.write((tx) => run(tx, tx));
}
