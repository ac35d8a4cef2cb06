/**
 * The platform's network setting: address ranges an operator opens to modules' outbound
 * fetch (`lively network allow|ls|rm`, admin scope). Platform-wide on purpose: a module owner
 * (deploy scope) can name hosts in the module's allowlist but can never open the platform's
 * own network; only an admin can, range by range. An allowed range only lifts the address ban
 * (address-ranges.ts): a module still needs its own allowlist entry for the host.
 *
 * Each change is one `network` history row (module null, so every node re-reads the whole
 * index and its address policy); allowing a range already allowed writes nothing.
 *
 *   await allowNetworkRange(store, { range: "10.20.0.0/16", note: "billing API", actor: "admin" });
 *   await removeNetworkRange(store, { range: "10.20.0.0/16", actor: "admin" });
 */
import { LivelyError } from "../errors.ts";
import { appendHistory } from "../store/queries/history.ts";
import { deleteNetworkAllow, getNetworkAllow, insertNetworkAllow, listNetworkAllows } from "../store/queries/network.ts";
import type { Db, OrderedTx, Store } from "../store/store.ts";
import { AddressPolicy, parseRange } from "./address-ranges.ts";
import { rangeNotFound } from "./errors.ts";

export const MAX_NETWORK_RANGES = 256;
const MAX_NOTE_LENGTH = 200;

export interface NetworkRangeView {
  /** Canonical CIDR. */
  range: string;
  note: string;
  createdBy: string;
  /** ISO time it was allowed. */
  createdAt: string;
  /** The history row that allowed it. */
  seq: number;
}

export interface NetworkRangeChange {
  range: string;
  /** `unchanged`: it was allowed already; nothing was written. */
  change: "allowed" | "unchanged";
  seq: number;
}

export interface NetworkRangeRemoval {
  range: string;
  removed: true;
  seq: number;
}

function assertNote(note: unknown): asserts note is string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (typeof note !== "string" || note.length > MAX_NOTE_LENGTH || /[\u0000-\u001f\u007f]/.test(note)) {
    throw new LivelyError("bad_request", `a note is one line of at most ${MAX_NOTE_LENGTH} characters`, { field: "note" });
  }
}

export async function networkRanges(store: Store): Promise<NetworkRangeView[]> {
  const records = await store.read((db) => listNetworkAllows(db));
  return records.map((r) => ({
    range: r.cidr,
    note: r.note,
    createdBy: r.createdBy,
    createdAt: new Date(r.createdAt).toISOString(),
    seq: r.createdSeq,
  }));
}

/** The policy a node applies: public addresses, and the allowed ranges (a stored range that no longer parses is left out). */
export async function loadAddressPolicy(db: Db): Promise<AddressPolicy> {
  const ranges = [];
  for (const record of await listNetworkAllows(db)) {
    try {
      ranges.push(parseRange(record.cidr));
    } catch {
      // Written through parseRange, so only a hand-edited row lands here: failing closed means leaving it out.
    }
  }
  return ranges.length === 0 ? AddressPolicy.STRICT : new AddressPolicy(ranges);
}

/** The history row of a change: no module, so every node re-reads its whole index (and address policy). */
function networkRow(tx: OrderedTx, actor: string, details: { cidr: string; op: "allow" | "remove"; note?: string }) {
  return appendHistory(tx, { actor, module: null, action: "network", channel: null, from: null, to: null, details });
}

export async function allowNetworkRange(store: Store, input: { range: string; note?: string; actor: string }): Promise<NetworkRangeChange> {
  const { text: cidr } = parseRange(input.range);
  const note = input.note ?? "";
  assertNote(note);
  return store.write(async (tx) => {
    if (await getNetworkAllow(tx, cidr)) return { range: cidr, change: "unchanged", seq: 0 };
    if ((await listNetworkAllows(tx)).length >= MAX_NETWORK_RANGES) {
      throw new LivelyError("conflict", `at most ${MAX_NETWORK_RANGES} ranges can be allowed; remove one first (lively network rm)`, {
        limit: MAX_NETWORK_RANGES,
      });
    }
    const row = await networkRow(tx, input.actor, { cidr, op: "allow", ...(note ? { note } : {}) });
    await insertNetworkAllow(tx, { cidr, note, createdBy: input.actor, seq: row.seq });
    return { range: cidr, change: "allowed", seq: row.seq };
  });
}

export async function removeNetworkRange(store: Store, input: { range: string; actor: string }): Promise<NetworkRangeRemoval> {
  const { text: cidr } = parseRange(input.range);
  return store.write(async (tx) => {
    if (!(await getNetworkAllow(tx, cidr))) {
      throw rangeNotFound(cidr);
    }
    const row = await networkRow(tx, input.actor, { cidr, op: "remove" });
    await deleteNetworkAllow(tx, cidr);
    return { range: cidr, removed: true, seq: row.seq };
  });
}
