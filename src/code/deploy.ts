/**
 * Publish a version: one transaction writes the version, its history row and its channel
 * moves, or nothing at all. The artifact was compiled and validated before the transaction,
 * so the write lock is held only for a few small statements.
 *
 * Deploy modes (DBIx::VersionedSubs): `redefine` (default) creates or updates;
 * `create-only` refuses an existing module; `update-only` refuses a missing one.
 */
import { createHash } from "node:crypto";
import { LivelyError } from "../errors.ts";
import { getChannel, listChannels, setChannel } from "../store/queries/channels.ts";
import { appendHistory } from "../store/queries/history.ts";
import { getModule, insertModule, setLatestVersion, setModuleDeleted, touchModule } from "../store/queries/modules.ts";
import { type Dependency, findVersionBySha256, insertVersion } from "../store/queries/versions.ts";
import type { OrderedTx, Store } from "../store/store.ts";
import { expectMismatch, type NextStep } from "./errors.ts";
import { assertSourceSize, type CodeLimits, DEFAULT_CODE_LIMITS } from "./limits.ts";
import { assertChannelName, assertModuleName, DEFAULT_CHANNEL } from "./names.ts";

export type DeployMode = "redefine" | "create-only" | "update-only";

/** Checks an artifact by loading it; returns its export names. Injected by the node (runtime/). */
/** Loads the artifact in a throwaway isolate under `module`'s limits and reads its exports. */
export type ArtifactValidator = (
  artifact: string,
  sourceMap: string | undefined,
  module: string,
) => Promise<{ exports: string[]; defaultKind?: "handler" | "function" }>;

export interface DeployInput {
  module: string;
  entry: string;
  files: Record<string, string>;
  artifact: string;
  dependencies: Dependency[];
  /** The bundler's source map, so load errors name the source file:line:column. Not stored. */
  sourceMap?: string;
  message: string;
  actor: string;
  /** Channels to point at the version; when omitted, `production` on a new module only. */
  channels?: string[];
  /** The module's latest version number the caller saw (0: the module must not exist). */
  expect?: number;
  /** Move a channel even when it is mid-split (which ends the split). */
  force?: boolean;
  mode?: DeployMode;
}

export interface DeployResult {
  module: string;
  version: number;
  sha256: string;
  size: number;
  exports: string[];
  /** Every channel that points at this version after the deploy. */
  channels: string[];
  /** Channels this deploy moved. */
  moved: string[];
  unchanged: boolean;
  created: boolean;
  /** The last history seq written (0 when nothing was written). */
  seq: number;
}

export function sha256Of(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function checkMode(module: string, exists: boolean, mode: DeployMode): void {
  if (mode === "create-only" && exists) {
    throw new LivelyError("conflict", `module '${module}' already exists and the deploy is create-only; nothing was written`, {
      module,
      mode,
    });
  }
  if (mode === "update-only" && !exists) {
    throw new LivelyError("not_found", `module '${module}' does not exist and the deploy is update-only; nothing was written`, {
      module,
      mode,
    });
  }
}

async function moveChannels(
  tx: OrderedTx,
  input: DeployInput,
  version: number,
  channels: string[],
): Promise<{ moved: string[]; seq: number }> {
  const moved: string[] = [];
  let seq = 0;
  for (const channel of channels) {
    const current = await getChannel(tx, input.module, channel);
    if (current?.split && !input.force) {
      // Workers users lost rollouts this way; here it must be said out loud.
      throw new LivelyError(
        "conflict",
        `channel '${channel}' of '${input.module}' is mid-rollout (${current.split.weight}% on version ${current.split.version}); deploying to it would end the split`,
        { module: input.module, channel, split: current.split, next: "tag-or-force" satisfies NextStep },
      );
    }
    if (current?.version === version && !current.split) continue;
    const row = await appendHistory(tx, {
      actor: input.actor,
      module: input.module,
      action: "tag",
      channel,
      from: current?.version ?? null,
      to: version,
      // --force ended a rollout: the row says which, as a rollback's does.
      details: current?.split ? { endedSplit: current.split } : null,
    });
    await setChannel(tx, input.module, channel, version, row.seq);
    moved.push(channel);
    seq = row.seq;
  }
  return { moved, seq };
}

export async function deploy(
  store: Store,
  input: DeployInput,
  validate: ArtifactValidator,
  limits: CodeLimits = DEFAULT_CODE_LIMITS,
): Promise<DeployResult> {
  assertModuleName(input.module);
  for (const channel of input.channels ?? []) assertChannelName(channel);
  const size = assertSourceSize(input.files, input.artifact, limits);
  const { exports } = await validate(input.artifact, input.sourceMap, input.module);
  const sha256 = sha256Of(input.artifact);
  const mode = input.mode ?? "redefine";

  return store.write(async (tx) => {
    const existing = await getModule(tx, input.module);
    const live = existing !== undefined && !existing.deleted;
    checkMode(input.module, live, mode);
    const latest = live ? existing.latestVersion : 0;
    if (input.expect !== undefined && input.expect !== latest) {
      throw expectMismatch(`module '${input.module}'`, input.expect, latest, { module: input.module });
    }
    let lastSeq = 0;

    const same = live ? await findVersionBySha256(tx, input.module, sha256) : undefined;
    if (same) {
      const { moved, seq } = await moveChannels(tx, input, same.version, input.channels ?? []);
      if (seq > 0) await touchModule(tx, input.module, seq);
      const channels = (await listChannels(tx, input.module)).filter((c) => c.version === same.version).map((c) => c.channel);
      return { module: input.module, version: same.version, sha256, size, exports, channels, moved, unchanged: true, created: false, seq };
    }

    if (!existing) {
      const row = await appendHistory(tx, {
        actor: input.actor,
        module: input.module,
        action: "create",
        channel: null,
        from: null,
        to: null,
        details: null,
      });
      await insertModule(tx, input.module, row.seq);
    } else if (existing.deleted) {
      const row = await appendHistory(tx, {
        actor: input.actor,
        module: input.module,
        action: "undelete",
        channel: null,
        from: null,
        to: null,
        details: null,
      });
      await setModuleDeleted(tx, input.module, false, row.seq);
    }
    const version = (existing?.latestVersion ?? 0) + 1;
    const published = await appendHistory(tx, {
      actor: input.actor,
      module: input.module,
      action: "publish",
      channel: null,
      from: null,
      to: version,
      details: { sha256 },
    });
    lastSeq = published.seq;
    await insertVersion(tx, {
      module: input.module,
      version,
      sha256,
      size,
      entry: input.entry,
      files: input.files,
      artifact: input.artifact,
      exports,
      dependencies: input.dependencies,
      author: input.actor,
      message: input.message,
      createdAt: 0,
      seq: published.seq,
    });
    const channels = input.channels ?? (existing ? [] : [DEFAULT_CHANNEL]);
    const { moved, seq } = await moveChannels(tx, input, version, channels);
    lastSeq = Math.max(lastSeq, seq);
    await setLatestVersion(tx, input.module, version, lastSeq);
    return {
      module: input.module,
      version,
      sha256,
      size,
      exports,
      channels: moved,
      moved,
      unchanged: false,
      created: !existing,
      seq: lastSeq,
    };
  });
}
