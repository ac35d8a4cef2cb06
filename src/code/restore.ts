/**
 * `lively restore --at TIME|SEQ`: put every channel of every module back where it pointed
 * at that moment, and every module's deleted flag as it was. Nothing is rewritten: each
 * change is a new history row, all in one transaction, so a restore is itself undone by
 * restoring to the seq just before it. Modules created after the moment are soft-deleted.
 */
import { LivelyError } from "../errors.ts";
import { deleteChannel, listChannels, setChannel } from "../store/queries/channels.ts";
import {
  appendHistory,
  type ChannelPointer,
  channelsAtSeq,
  type HistoryAction,
  modulesAtSeq,
  seqAtTime,
} from "../store/queries/history.ts";
import { listModules, setModuleDeleted, touchModule } from "../store/queries/modules.ts";
import { currentSeq, databaseNowMs } from "../store/queries/seq.ts";
import { getVersionMeta } from "../store/queries/versions.ts";
import type { Db, OrderedTx, Store } from "../store/store.ts";
import type { Moment } from "./moments.ts";

export interface RestoreChange {
  module: string;
  action: HistoryAction;
  channel: string | null;
  from: number | null;
  to: number | null;
  /** The rollout the channel had at that moment, restored with it. */
  split?: { version: number; weight: number } | null;
}

export interface RestoreResult {
  /** The history seq restored to. */
  at: number;
  changes: RestoreChange[];
  dryRun: boolean;
  /** The last seq written (0 on a dry run or when nothing changed). */
  seq: number;
}

async function resolveSeq(db: Db, moment: Moment): Promise<number> {
  const latest = await currentSeq(db);
  let seq: number;
  if ("seq" in moment) seq = moment.seq;
  else if ("timeMs" in moment) seq = await seqAtTime(db, moment.timeMs);
  else seq = await seqAtTime(db, (await databaseNowMs(db)) - moment.agoMs);
  if (seq > latest) {
    throw new LivelyError("bad_request", `seq ${seq} is in the future: the history ends at ${latest}`, { seq, latest });
  }
  return seq;
}

/** What must change to look like `seq`, in a stable order. */
async function plan(db: Db, seq: number): Promise<RestoreChange[]> {
  const changes: RestoreChange[] = [];
  const then = new Map((await modulesAtSeq(db, seq)).map((m) => [m.module, m.deleted]));
  const pointers = new Map<string, Map<string, ChannelPointer>>();
  for (const p of await channelsAtSeq(db, seq)) {
    if (!pointers.has(p.module)) pointers.set(p.module, new Map());
    pointers.get(p.module)?.set(p.channel, p);
  }
  for (const module of await listModules(db, { includeDeleted: true })) {
    const deletedThen = then.has(module.name) ? (then.get(module.name) as boolean) : true;
    if (deletedThen !== module.deleted) {
      changes.push({ module: module.name, action: deletedThen ? "delete" : "undelete", channel: null, from: null, to: null });
    }
    if (!then.has(module.name)) continue; // created later: soft-deleted above, channels kept
    const target = pointers.get(module.name) ?? new Map<string, ChannelPointer>();
    const current = new Map((await listChannels(db, module.name)).map((c) => [c.channel, c]));
    const names = [...new Set([...current.keys(), ...target.keys()])].sort();
    for (const channel of names) {
      const now = current.get(channel);
      const then = target.get(channel);
      const from = now?.version ?? null;
      const to = then?.version ?? null;
      const split = then?.split ?? null;
      if (from === to && JSON.stringify(now?.split ?? null) === JSON.stringify(split)) continue;
      changes.push({ module: module.name, action: to === null ? "untag" : "restore", channel, from, to, split });
    }
  }
  return changes;
}

export async function restore(store: Store, input: { moment: Moment; actor: string; dryRun?: boolean }): Promise<RestoreResult> {
  /** `tx` only when writing: a dry run reads the same plan and writes nothing. */
  const run = async (db: Db, tx: OrderedTx | undefined): Promise<RestoreResult> => {
    const at = await resolveSeq(db, input.moment);
    const changes = await plan(db, at);
    for (const change of changes) {
      for (const version of [change.to, change.split?.version ?? null]) {
        if (version !== null && !(await getVersionMeta(db, change.module, version))) {
          throw new LivelyError(
            "conflict",
            `cannot restore: version ${version} of '${change.module}' was removed by gc; nothing was written`,
            {
              module: change.module,
              version,
            },
          );
        }
      }
    }
    let seq = 0;
    if (tx) {
      for (const change of changes) {
        const { split, ...fields } = change;
        // A restored split is written the way a tag --weight writes it, so a later restore reads it back.
        const row = split
          ? await appendHistory(tx, {
              actor: input.actor,
              ...fields,
              to: split.version,
              details: { restoredTo: at, weight: split.weight, base: change.to },
            })
          : await appendHistory(tx, { actor: input.actor, ...fields, details: { restoredTo: at } });
        seq = row.seq;
        if (change.channel === null) await setModuleDeleted(tx, change.module, change.action === "delete", row.seq);
        else if (change.to === null) await deleteChannel(tx, change.module, change.channel);
        else await setChannel(tx, change.module, change.channel, change.to, row.seq, split ?? null);
        if (change.channel !== null) await touchModule(tx, change.module, row.seq);
      }
    }
    return { at, changes, dryRun: !tx, seq };
  };
  if (input.dryRun) return store.read((db) => run(db, undefined));
  return store.write((tx) => run(tx, tx));
}
