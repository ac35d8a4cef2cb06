/**
 * One appliance's log on disk, rotated by size, written without ever holding up the child.
 * Owns the files `<path>`, `<path>.1` … `<path>.<maxFiles - 1>` (newest to oldest); must not
 * import api/, cli/ or gateway/.
 *
 * `append` never waits: records queue in memory and one pump writes them in batches. When the
 * queue holds `bufferBytes` already, a record is dropped and counted instead (the child's pipe
 * is drained by the caller regardless), and once the pump catches up it writes a `lively` line
 * saying how many were dropped. A file never grows past `maxBytes` (a record that would cross it
 * goes to a fresh file), so the log never exceeds maxBytes × maxFiles. The current file is
 * appended to across node restarts.
 */
import { type FileHandle, open, rename, stat, unlink } from "node:fs/promises";
import { toError } from "../../errors.ts";
import { formatRecord, type LogStream } from "./lines.ts";

export interface RotatingLogOptions {
  path: string;
  maxBytes: number;
  maxFiles: number;
  bufferBytes: number;
  /** A disk error (the queued lines are dropped and counted; the next append tries again). */
  onError?: (error: Error) => void;
}

const BATCH_BYTES = 1024 * 1024;

export class RotatingLog {
  /** Lines dropped since this log was opened. */
  dropped = 0;
  private queue: Buffer[] = [];
  private head = 0;
  private queuedBytes = 0;
  private unreportedDrops = 0;
  private handle: FileHandle | undefined;
  private size = 0;
  private pumping: Promise<void> | undefined;

  constructor(private readonly options: RotatingLogOptions) {}

  /** Queue one line; false when it was dropped because the writer is behind. */
  append(at: number, stream: LogStream, text: Buffer | string): boolean {
    if (this.queuedBytes >= this.options.bufferBytes) {
      this.dropped += 1;
      this.unreportedDrops += 1;
      return false;
    }
    this.enqueue(formatRecord(at, stream, text));
    return true;
  }

  /** Resolves once everything queued before the call is on disk (or was dropped by a disk error). */
  async flush(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** Flush and close the file; a later append opens it again. */
  async close(): Promise<void> {
    await this.flush();
    await this.handle?.close();
    this.handle = undefined;
  }

  private enqueue(record: Buffer): void {
    this.queue.push(record);
    this.queuedBytes += record.length;
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  private async pump(): Promise<void> {
    // Let the caller's burst queue up first: one write per batch, not per line.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.head < this.queue.length || this.unreportedDrops > 0) {
        if (this.head === this.queue.length) this.noteDrops();
        this.handle ??= await this.openCurrent();
        const batch = this.takeBatch();
        if (batch.length === 0) {
          await this.rotate();
          continue;
        }
        const data = Buffer.concat(batch);
        await this.handle.write(data);
        this.size += data.length;
      }
    } catch (thrown) {
      this.options.onError?.(toError(thrown));
      const lost = this.queue.length - this.head;
      this.dropped += lost;
      this.queue = [];
      this.head = 0;
      this.queuedBytes = 0;
      await this.handle?.close().catch(() => undefined);
      this.handle = undefined;
    }
  }

  /** Records that fit in the current file (at most BATCH_BYTES); empty when the file is full. */
  private takeBatch(): Buffer[] {
    const { maxBytes } = this.options;
    const batch: Buffer[] = [];
    let bytes = 0;
    while (this.head < this.queue.length && bytes < BATCH_BYTES) {
      let record = this.queue[this.head];
      if (record.length > maxBytes) {
        // Only a tiny maxBytes gets here (records are at most one 64 KiB line): keep what fits.
        record = Buffer.concat([record.subarray(0, maxBytes - 1), Buffer.from("\n")]);
        this.queuedBytes -= this.queue[this.head].length - record.length;
        this.queue[this.head] = record;
      }
      if (this.size + bytes + record.length > maxBytes) break;
      batch.push(record);
      bytes += record.length;
      this.head += 1;
    }
    this.queuedBytes -= bytes;
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  private noteDrops(): void {
    const count = this.unreportedDrops;
    this.unreportedDrops = 0;
    const record = formatRecord(Date.now(), "lively", `dropped ${count} line(s): output came faster than the log could be written`);
    this.queue.push(record);
    this.queuedBytes += record.length;
  }

  private async openCurrent(): Promise<FileHandle> {
    const handle = await open(this.options.path, "a");
    this.size = (await handle.stat()).size;
    return handle;
  }

  private async rotate(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    const { path, maxFiles } = this.options;
    if (maxFiles === 1) {
      await unlink(path).catch(() => undefined);
    } else {
      for (let index = maxFiles - 2; index >= 0; index--) {
        const from = index === 0 ? path : `${path}.${index}`;
        if (await exists(from)) await rename(from, `${path}.${index + 1}`);
      }
    }
    this.handle = await this.openCurrent();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
