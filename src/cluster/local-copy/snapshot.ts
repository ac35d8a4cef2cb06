/**
 * The snapshot file: this node's channel index (channels with their splits, each live module's
 * settings — vars with secret values, limits, fetch allowlist — the routes, and the seq they
 * reflect) and which artifact file holds each `module@version` it kept. Its first line carries
 * the sha256 of the rest, so a file damaged on disk is refused as a whole rather than half
 * believed; what is inside is checked field by field as well, since it comes back from disk.
 *
 *   lively-local-copy 1 <sha256 of the body>
 *   {"store":"postgres://lively@db:5432/lively","writtenAt":"…","index":{"seq":41,"channels":{…},"settings":{…},"routes":[…]},"artifacts":{"hello@3":"9c1f…"}}
 *
 * Owns: the file's format. Must not import above code/.
 */
import { z } from "zod";
import type { IndexState } from "../../code/channel-index.ts";
import { CHANNEL_NAME, MODULE_NAME } from "../../code/names.ts";
import { SHA256_HEX, sha256Hex } from "./artifact-files.ts";

export const SNAPSHOT_FILE = "snapshot";
const MAGIC = "lively-local-copy";
const FORMAT = 1;

export interface Snapshot {
  /** The store it was read from (`Store.description`, no password): a node pointed elsewhere must not serve it. */
  store: string;
  /** When this node wrote it (its own clock: for people reading `status`, nothing is decided by it). */
  writtenAt: string;
  index: IndexState;
  /** `module@version` → the sha256 naming its artifact file. */
  artifacts: Record<string, string>;
}

const version = z.number().int().min(1);
const moduleName = z.string().regex(MODULE_NAME);
// Loose objects: a field a later build adds to a pointer or to settings passes through unchanged.
const pointer = z.looseObject({
  version,
  split: z.looseObject({ version, weight: z.number().int().min(1).max(99) }).nullable(),
});
const settings = z.looseObject({
  vars: z.record(z.string(), z.string()),
  limits: z.looseObject({
    cpuMs: z.number().int().positive().optional(),
    wallMs: z.number().int().positive().optional(),
    memoryMb: z.number().int().positive().optional(),
  }),
  fetchAllow: z.array(z.string()),
  seq: z.number().int().min(0),
});
const route = z.looseObject({
  route: z.string().min(1),
  host: z.string().nullable(),
  prefix: z.string().nullable(),
  module: moduleName,
  updatedSeq: z.number().int().min(0),
});
const body = z.object({
  store: z.string(),
  writtenAt: z.string(),
  index: z.object({
    seq: z.number().int().min(0),
    channels: z.record(moduleName, z.record(z.string().regex(CHANNEL_NAME), pointer)),
    settings: z.record(moduleName, settings),
    routes: z.array(route),
    network: z.array(z.string().max(64)).max(1024),
  }),
  artifacts: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,62}@[1-9]\d{0,9}$/), z.string().regex(SHA256_HEX)),
});

export function encodeSnapshot(snapshot: Snapshot): string {
  const text = JSON.stringify(snapshot);
  return `${MAGIC} ${FORMAT} ${sha256Hex(text)}\n${text}`;
}

/** The snapshot in `file`, or why it cannot be believed. */
export function decodeSnapshot(file: string): { ok: true; snapshot: Snapshot } | { ok: false; reason: string } {
  const newline = file.indexOf("\n");
  const header = (newline < 0 ? file : file.slice(0, newline)).split(" ");
  if (header[0] !== MAGIC) return { ok: false, reason: "not a local-copy snapshot" };
  if (header[1] !== String(FORMAT))
    return { ok: false, reason: `snapshot format ${header[1]} is not ${FORMAT}, the one this build writes` };
  const text = file.slice(newline + 1);
  if (newline < 0 || sha256Hex(text) !== header[2])
    return { ok: false, reason: "the snapshot does not match its checksum (damaged on disk)" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, reason: "the snapshot is not JSON" };
  }
  const checked = body.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    return { ok: false, reason: `the snapshot has a bad field at ${issue?.path.join(".") || "the top"}: ${issue?.message ?? "invalid"}` };
  }
  return { ok: true, snapshot: checked.data as unknown as Snapshot };
}
