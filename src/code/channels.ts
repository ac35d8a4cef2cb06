/**
 * Moving channels: `tag` (point a channel at a version), `promote` (point a channel where
 * another points), `rollback` (point it back). Each move is one history row; a move to
 * where the channel already points writes nothing. `expect` is the version the caller saw
 * the channel at (0: the channel must not exist yet).
 */
import { LivelyError } from "../errors.ts";
import { getChannel, setChannel } from "../store/queries/channels.ts";
import { appendHistory, type HistoryAction, previousPointer } from "../store/queries/history.ts";
import { touchModule } from "../store/queries/modules.ts";
import { getVersionMeta } from "../store/queries/versions.ts";
import type { OrderedTx, Store } from "../store/store.ts";
import { channelNotFound, expectMismatch, versionNotFound } from "./errors.ts";
import { liveModule } from "./live-module.ts";
import { assertChannelName, assertModuleName, assertVersionNumber, DEFAULT_CHANNEL } from "./names.ts";

export interface ChannelMove {
  module: string;
  channel: string;
  from: number | null;
  to: number;
  /** Set while a rollout is in progress: `weight` percent of the channel's traffic goes to `to`. */
  weight?: number;
  /** false when the channel already pointed there: nothing was written. */
  moved: boolean;
  seq: number;
}

/** The shared core of every move: checks, history row, pointer. Runs inside a transaction. */
async function move(
  tx: OrderedTx,
  args: {
    module: string;
    channel: string;
    to: number;
    /** 1-99: start or adjust a split rollout to `to`; 100 or absent: move the whole channel. */
    weight?: number;
    expect?: number;
    actor: string;
    action: HistoryAction;
    details?: Record<string, unknown>;
  },
): Promise<ChannelMove> {
  if (!(await getVersionMeta(tx, args.module, args.to))) throw versionNotFound(args.module, args.to);
  const current = await getChannel(tx, args.module, args.channel);
  const from = current?.version ?? null;
  if (args.expect !== undefined && args.expect !== (from ?? 0)) {
    throw expectMismatch(`channel '${args.channel}' of '${args.module}'`, args.expect, from ?? 0, {
      module: args.module,
      channel: args.channel,
    });
  }
  const base = { module: args.module, channel: args.channel, from, to: args.to };
  const weight = args.weight !== undefined && args.weight < 100 ? args.weight : undefined;
  if (weight !== undefined) {
    if (!current) throw channelNotFound(args.module, args.channel);
    if (current.version === args.to) {
      throw new LivelyError("conflict", `channel '${args.channel}' already serves version ${args.to}; a split needs another version`, {
        module: args.module,
        channel: args.channel,
      });
    }
    if (current.split?.version === args.to && current.split.weight === weight) return { ...base, weight, moved: false, seq: 0 };
  } else if (from === args.to && !current?.split) {
    return { ...base, moved: false, seq: 0 };
  }
  // A split's row keeps the base version in its details, so restore can rebuild the split; a
  // full move of a split channel (promote, --weight 100) says which split it ended.
  const details =
    weight !== undefined
      ? { ...args.details, weight, base: from }
      : current?.split
        ? { ...args.details, endedSplit: current.split }
        : (args.details ?? null);
  const row = await appendHistory(tx, {
    actor: args.actor,
    module: args.module,
    action: args.action,
    channel: args.channel,
    from,
    to: args.to,
    details,
  });
  if (weight !== undefined && from !== null) {
    await setChannel(tx, args.module, args.channel, from, row.seq, { version: args.to, weight });
  } else {
    await setChannel(tx, args.module, args.channel, args.to, row.seq);
  }
  await touchModule(tx, args.module, row.seq);
  return { ...base, ...(weight !== undefined ? { weight } : {}), moved: true, seq: row.seq };
}

export async function tag(
  store: Store,
  input: { module: string; version: number; channel: string; weight?: number; expect?: number; actor: string },
): Promise<ChannelMove> {
  assertModuleName(input.module);
  assertChannelName(input.channel);
  assertVersionNumber(input.version);
  if (input.weight !== undefined && (!Number.isInteger(input.weight) || input.weight < 1 || input.weight > 100)) {
    throw new LivelyError("bad_request", `--weight must be a whole percent from 1 to 100, got ${input.weight}`, { field: "weight" });
  }
  return store.write(async (tx) => {
    await liveModule(tx, input.module);
    return move(tx, { ...input, to: input.version, action: "tag" });
  });
}

export async function promote(
  store: Store,
  input: { module: string; from: string; to: string; expect?: number; actor: string },
): Promise<ChannelMove> {
  assertModuleName(input.module);
  assertChannelName(input.from);
  assertChannelName(input.to);
  if (input.from === input.to) {
    throw new LivelyError("bad_request", `cannot promote channel '${input.from}' to itself`);
  }
  return store.write(async (tx) => {
    await liveModule(tx, input.module);
    const source = await getChannel(tx, input.module, input.from);
    if (!source) throw channelNotFound(input.module, input.from);
    return move(tx, {
      module: input.module,
      channel: input.to,
      to: source.version,
      expect: input.expect,
      actor: input.actor,
      action: "promote",
      details: { fromChannel: input.from },
    });
  });
}

export async function rollback(
  store: Store,
  input: { module: string; channel?: string; to?: number; expect?: number; actor: string },
): Promise<ChannelMove> {
  const channel = input.channel ?? DEFAULT_CHANNEL;
  assertModuleName(input.module);
  assertChannelName(channel);
  if (input.to !== undefined) assertVersionNumber(input.to, "to");
  return store.write(async (tx) => {
    await liveModule(tx, input.module);
    const current = await getChannel(tx, input.module, channel);
    if (!current) throw channelNotFound(input.module, channel);
    let to = input.to;
    if (to === undefined && current.split) {
      // Mid-rollout, a rollback ends the split: everyone goes back to the version the channel had.
      const row = await appendHistory(tx, {
        actor: input.actor,
        module: input.module,
        action: "rollback",
        channel,
        from: current.split.version,
        to: current.version,
        details: { endedSplit: current.split },
      });
      await setChannel(tx, input.module, channel, current.version, row.seq);
      await touchModule(tx, input.module, row.seq);
      return { module: input.module, channel, from: current.split.version, to: current.version, moved: true, seq: row.seq };
    }
    if (to === undefined) {
      const previous = await previousPointer(tx, input.module, channel);
      if (previous === undefined || previous === null) {
        throw new LivelyError(
          "conflict",
          `channel '${channel}' of '${input.module}' has pointed only at version ${current.version}; name a version with --to`,
          { module: input.module, channel, current: current.version },
        );
      }
      to = previous;
    }
    return move(tx, { module: input.module, channel, to, expect: input.expect, actor: input.actor, action: "rollback" });
  });
}
