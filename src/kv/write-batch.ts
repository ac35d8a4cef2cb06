/**
 * Group commit of a node's KV writes (issue 10's hot-key target).
 *
 * Why: every KV write takes the kv sequence's counter row (queries/kv.ts) and holds its lock
 * through COMMIT and its fsync, so that commit order is seq order (DESIGN.md, "the sequence
 * trap": caches and the event stream read kv_changes past the last seq they saw). Written one
 * transaction per write, the whole cluster's KV writes commit one at a time, each holding that
 * lock for a few round trips and an fsync. So a node queues the puts and deletes that arrive
 * while a write is in flight and writes them together in its next transaction: the lock is
 * held for a few round trips per batch, not per write, and the guarantee is unchanged (one
 * transaction takes consecutive numbers and commits them at once).
 *
 * One batch, in one `writeUnordered` transaction:
 * 1. which of its buckets exist (a write to a missing one fails alone, `not_found`);
 * 2. each write's entry, each at a provisional version of its own (negative, unique in the
 *    batch): compare-and-set is evaluated per write, a miss fails only that write. Entry rows
 *    are locked in (bucket, key) order, the same on every node, so two batches never deadlock;
 *    writes of one key keep their arrival order. Plain puts share multi-row upserts, and one
 *    followed by another of its key writes no row (`writeEntriesOf`);
 * 3. ONE counter update taking as many numbers as writes that wrote, given out in arrival
 *    order, so several writes of one key get increasing versions and the last one's is the row's;
 * 4. the provisional versions replaced in one statement, the change rows in one insert; COMMIT.
 *
 * A lone write takes the single-write path (entries.ts) as before. When the batch's transaction
 * fails inside (a bucket dropped meanwhile fails a foreign key), no write of it committed: each
 * is written again on its own, so each gets its own answer and innocent writes succeed. When the
 * database is `unavailable` (down, or COMMIT cut so the outcome is unknown) every write of the
 * batch hears that. A batch holds at most MAX_BATCH_WRITES writes and MAX_BATCH_BYTES of values;
 * a larger value goes alone.
 *
 * Owns: the per-store queue (`writeBatcherFor`). Imports errors.ts, store/ and kv/ only.
 */
import { LivelyError, toError } from "../errors.ts";
import {
  deleteEntry,
  findBucketNames,
  insertKvChanges,
  type KvChangeOp,
  liveVersion,
  nextKvSeq,
  stampEntryVersions,
  writeEntries,
} from "../store/queries/kv.ts";
import { databaseNowMs } from "../store/queries/seq.ts";
import type { Db, Store } from "../store/store.ts";
import { delPrepared, type PreparedDelete, type PreparedPut, putPrepared, writeByExpectation } from "./entries.ts";
import { bucketNotFound, versionMismatch } from "./errors.ts";
import type { DeleteResult, PutResult } from "./kv.ts";

/** The most writes one transaction carries. */
export const MAX_BATCH_WRITES = 256;
/** The most value bytes one transaction carries; a single larger value is written alone. */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

type Write = ({ op: "put" } & PreparedPut) | ({ op: "delete" } & PreparedDelete);
type Answer = PutResult | DeleteResult;

interface Queued {
  write: Write;
  bytes: number;
  resolve(answer: Answer): void;
  reject(error: unknown): void;
}

/** What one write of a batch did inside the transaction, before its number is known. */
type Step =
  | { state: "wrote"; op: KvChangeOp; expiresAt: number | null }
  | { state: "unchanged" }
  | { state: "missing-bucket" }
  /** A compare-and-set miss: `current` is the live version, or a provisional one of this batch. */
  | { state: "conflict"; expected: number; current: number };

const bucketOf = (write: Write) => (write.op === "put" ? write.entry.bucket : write.bucket);
const keyOf = (write: Write) => (write.op === "put" ? write.entry.key : write.key);
/** Write `i` of a batch is at this version until the batch has its numbers. */
const provisional = (i: number) => -(i + 1);

function valueBytes(write: Write): number {
  if (write.op === "delete") return 0;
  const { value } = write.entry;
  return value.kind === "bytes" ? value.bytes.byteLength : Buffer.byteLength(value.json);
}

/** Lock order: by bucket, then key (any order the same on every node); stable, so one key's writes keep arrival order. */
function lockOrder(writes: readonly Write[]): number[] {
  const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return writes
    .map((_, i) => i)
    .sort((a, b) => {
      const wa = writes[a] as Write;
      const wb = writes[b] as Write;
      return compare(bucketOf(wa), bucketOf(wb)) || compare(keyOf(wa), keyOf(wb)) || a - b;
    });
}

async function stepOf(tx: Db, write: Write, version: number): Promise<Step> {
  const bucket = bucketOf(write);
  const key = keyOf(write);
  if (write.op === "put") {
    const row = await writeByExpectation(tx, write.entry, version, write.expect);
    if (row) return { state: "wrote", op: "put", expiresAt: row.expiresAt };
    return { state: "conflict", expected: write.expect ?? 0, current: await liveVersion(tx, bucket, key) };
  }
  if (await deleteEntry(tx, bucket, key, write.expect)) return { state: "wrote", op: "delete", expiresAt: null };
  if (write.expect === undefined) return { state: "unchanged" };
  return { state: "conflict", expected: write.expect, current: await liveVersion(tx, bucket, key) };
}

const idOf = (write: Write) => `${bucketOf(write)}\u0000${keyOf(write)}`;
/** A put whatever the key holds: it cannot miss, so a run of them can share one statement. */
const unconditional = (write: Write | undefined): write is { op: "put" } & PreparedPut => write?.op === "put" && write.expect === undefined;

/**
 * Each write's entry, in lock order: runs of unconditional puts in one multi-row upsert (their
 * keys are distinct: see `superseded`), every other write on its own. An unconditional put
 * followed by another of the same key is `superseded`: the later one overwrites everything it
 * would write, so it writes no row, yet takes its number and its change like any write.
 */
async function writeEntriesOf(tx: Db, writes: readonly Write[], present: ReadonlySet<string>): Promise<Step[]> {
  const steps: Step[] = new Array(writes.length);
  const order = lockOrder(writes).filter((i) => {
    if (present.has(bucketOf(writes[i] as Write))) return true;
    steps[i] = { state: "missing-bucket" };
    return false;
  });
  const superseded: number[] = [];
  let run: number[] = [];
  const writeRun = async () => {
    if (run.length === 0) return;
    const rows = run.map((i) => ({ entry: (writes[i] as PreparedPut).entry, version: provisional(i) }));
    const expiries = await writeEntries(tx, rows);
    for (const i of run) {
      const expiresAt = expiries.get(idOf(writes[i] as Write));
      if (expiresAt === undefined) throw new Error("a KV batch's upsert did not return one of its rows");
      steps[i] = { state: "wrote", op: "put", expiresAt };
    }
    run = [];
  };
  for (const [at, i] of order.entries()) {
    const write = writes[i] as Write;
    const next = writes[order[at + 1] ?? -1];
    if (unconditional(write) && unconditional(next) && idOf(next) === idOf(write)) superseded.push(i);
    else if (unconditional(write)) run.push(i);
    else {
      await writeRun();
      steps[i] = await stepOf(tx, write, provisional(i));
    }
  }
  await writeRun();
  const withTtl = superseded.some((i) => (writes[i] as PreparedPut).entry.ttlMs !== null);
  const now = withTtl ? await databaseNowMs(tx) : 0;
  for (const i of superseded) {
    const { ttlMs } = (writes[i] as PreparedPut).entry;
    steps[i] = { state: "wrote", op: "put", expiresAt: ttlMs === null ? null : now + ttlMs };
  }
  return steps;
}

/** The batch's transaction: each write's answer (a LivelyError for one that failed alone). Safe to run again. */
async function writeBatch(tx: Db, writes: readonly Write[]): Promise<(Answer | LivelyError)[]> {
  const present = await findBucketNames(tx, [...new Set(writes.map(bucketOf))]);
  const steps = await writeEntriesOf(tx, writes, present);
  const wrote = steps.flatMap((step, i) => (step.state === "wrote" ? [i] : []));
  const versions = new Map<number, number>();
  if (wrote.length > 0) {
    const first = (await nextKvSeq(tx, wrote.length)) - wrote.length + 1;
    for (const [rank, i] of wrote.entries()) versions.set(i, first + rank);
    // The last write of each key that wrote holds its row, at its provisional number if a put.
    const last = new Map<string, number>();
    for (const i of wrote) last.set(idOf(writes[i] as Write), i);
    const stamps = [...last.values()]
      .filter((i) => writes[i]?.op === "put")
      .map((i) => {
        const write = writes[i] as Write;
        return { bucket: bucketOf(write), key: keyOf(write), provisional: provisional(i), version: versions.get(i) as number };
      });
    const stamped = await stampEntryVersions(tx, stamps);
    if (stamped !== stamps.length) throw new Error(`a KV batch stamped ${stamped} entries, expected ${stamps.length}`);
    await insertKvChanges(
      tx,
      first,
      wrote.map((i) => ({ bucket: bucketOf(writes[i] as Write), key: keyOf(writes[i] as Write), op: (steps[i] as { op: KvChangeOp }).op })),
    );
  }
  return steps.map((step, i) => answerOf(writes[i] as Write, step, versions.get(i), versions));
}

/** What a write of a batch answers, once the batch has its numbers (`version`: this write's). */
function answerOf(write: Write, step: Step, version: number | undefined, versions: ReadonlyMap<number, number>): Answer | LivelyError {
  const bucket = bucketOf(write);
  const key = keyOf(write);
  if (step.state === "missing-bucket") return bucketNotFound(bucket);
  if (step.state === "unchanged") return { bucket, key, deleted: false, version: null };
  if (step.state === "conflict") {
    // A provisional number is an earlier write of this batch, live now: its version is known.
    const current = step.current < 0 ? (versions.get(-step.current - 1) ?? 0) : step.current;
    return versionMismatch(bucket, key, step.expected, current);
  }
  if (version === undefined) throw new Error("a KV write of a batch wrote but was given no number");
  return write.op === "put" ? { bucket, key, version, expiresAt: step.expiresAt } : { bucket, key, deleted: true, version };
}

/** One write on its own transaction, as without batching. */
function writeAlone(store: Store, write: Write): Promise<Answer> {
  return write.op === "put" ? putPrepared(store, write) : delPrepared(store, write);
}

/** A node's queue of KV writes on one store. */
export class KvWriteBatcher {
  private queue: Queued[] = [];
  private draining = false;
  private counts = { batches: 0, batchedWrites: 0, largest: 0 };

  constructor(private readonly store: Store) {}

  put(prepared: PreparedPut): Promise<PutResult> {
    return this.enqueue({ op: "put", ...prepared }) as Promise<PutResult>;
  }

  del(prepared: PreparedDelete): Promise<DeleteResult> {
    return this.enqueue({ op: "delete", ...prepared }) as Promise<DeleteResult>;
  }

  /** Transactions that carried more than one write, how many writes they carried, the most in one. */
  stats(): { batches: number; batchedWrites: number; largest: number } {
    return { ...this.counts };
  }

  private enqueue(write: Write): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      this.queue.push({ write, bytes: valueBytes(write), resolve, reject });
      if (!this.draining) {
        this.draining = true;
        // After this tick: writes issued together (Promise.all) leave in one batch.
        queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.take();
        // flush settles every write; should it throw regardless, no caller is left waiting (settling twice is a no-op).
        await this.flush(batch).catch((thrown: unknown) => {
          for (const queued of batch) queued.reject(thrown);
        });
      }
    } finally {
      this.draining = false;
    }
  }

  /** The next batch: arrival order, up to the write and byte bounds (the first always goes). */
  private take(): Queued[] {
    let bytes = 0;
    let count = 0;
    for (const queued of this.queue) {
      if (count === MAX_BATCH_WRITES || (count > 0 && bytes + queued.bytes > MAX_BATCH_BYTES)) break;
      bytes += queued.bytes;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private async flush(batch: Queued[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Queued];
      await writeAlone(this.store, only.write).then(only.resolve, only.reject);
      return;
    }
    this.counts.batches++;
    this.counts.batchedWrites += batch.length;
    this.counts.largest = Math.max(this.counts.largest, batch.length);
    let answers: (Answer | LivelyError)[];
    try {
      answers = await this.store.writeUnordered((tx) =>
        writeBatch(
          tx,
          batch.map((q) => q.write),
        ),
      );
    } catch (thrown) {
      const error = toError(thrown);
      if (error instanceof LivelyError && error.code === "unavailable") {
        for (const queued of batch) queued.reject(error);
        return;
      }
      // Nothing of the batch committed: each write again on its own, for its own answer, in arrival order.
      for (const queued of batch) await writeAlone(this.store, queued.write).then(queued.resolve, queued.reject);
      return;
    }
    answers.forEach((answer, i) => {
      const queued = batch[i] as Queued;
      if (answer instanceof LivelyError) queued.reject(answer);
      else queued.resolve(answer);
    });
  }
}

const perStore = new WeakMap<Store, KvWriteBatcher>();

/** The node's batcher of `store`'s KV writes: one per store, shared by every NodeKv on it. */
export function writeBatcherFor(store: Store): KvWriteBatcher {
  let batcher = perStore.get(store);
  if (!batcher) {
    batcher = new KvWriteBatcher(store);
    perStore.set(store, batcher);
  }
  return batcher;
}
