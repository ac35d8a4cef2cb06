/**
 * Reading an appliance's log back: the last N lines across the rotated files, and following it
 * as it grows (through rotations). What `lively app logs NAME [-n N] [-f]` will call; the files
 * are plain text on disk, so this works across node restarts. Owns nothing but reading; must
 * not import api/, cli/ or gateway/.
 *
 * ```ts
 * const last = await readLastLines("/data/appliances/web/web.log", 50);
 * for await (const line of followLog(path, { lines: 10, signal })) print(line);
 * ```
 */
import { type FileHandle, open, readFile, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { type LogLine, parseRecord } from "./lines.ts";

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Complete lines of `data` (an unterminated last line counts: the writer always ends lines). */
function splitLines(data: Buffer): string[] {
  const lines = data.toString("utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/**
 * The last `count` lines, oldest first, from `<path>` and then `<path>.1`, `<path>.2`… as far as
 * needed. `currentBytes` limits how much of `<path>` is read (what a follower starts after).
 */
export async function readLastLines(path: string, count: number, currentBytes?: number): Promise<LogLine[]> {
  const collected: string[][] = [];
  let have = 0;
  for (let index = 0; have < count; index++) {
    let data = await readIfExists(index === 0 ? path : `${path}.${index}`);
    if (!data) {
      if (index === 0) continue; // no current file yet; rotated ones may still exist
      break;
    }
    if (index === 0 && currentBytes !== undefined) data = data.subarray(0, currentBytes);
    const lines = splitLines(data);
    collected.unshift(lines.slice(Math.max(0, lines.length - (count - have))));
    have += collected[0].length;
  }
  return collected.flat().map(parseRecord);
}

export interface FollowOptions {
  /** Lines from before the call to yield first. Default 0. */
  lines?: number;
  signal?: AbortSignal;
  /** How often to look for new output. Default 200 ms. */
  pollMs?: number;
}

/** Yields lines as they are written, until `signal` aborts; follows the file through rotations. */
export async function* followLog(path: string, options: FollowOptions = {}): AsyncGenerator<LogLine> {
  const { signal, pollMs = 200 } = options;
  let handle: FileHandle | undefined;
  let position = 0;
  try {
    while (!handle && !signal?.aborted) {
      handle = await open(path, "r").catch(() => undefined);
      if (!handle) await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    }
    if (!handle) return;
    position = (await handle.stat()).size;
    if (options.lines) yield* await readLastLines(path, options.lines, position);
    let carry = "";
    const buffer = Buffer.alloc(256 * 1024);
    while (!signal?.aborted) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead > 0) {
        position += bytesRead;
        const text = carry + buffer.toString("utf8", 0, bytesRead);
        const lines = text.split("\n");
        carry = lines.pop() ?? "";
        for (const line of lines) yield parseRecord(line);
        continue;
      }
      // At the end of this file: if the path now names a new file, the old one was rotated away.
      const current = await stat(path).catch(() => undefined);
      const ours = (await handle.stat()).ino;
      if (current && current.ino !== ours) {
        // Files rotated in after ours and before the current one (a fast writer): read them whole.
        for (const between of await rotatedSince(path, ours)) {
          const data = await readIfExists(between);
          if (data) for (const line of splitLines(data)) yield parseRecord(line);
        }
        await handle.close();
        handle = await open(path, "r");
        position = 0;
        carry = "";
        continue;
      }
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await handle?.close();
  }
}

/** `<path>.k-1` … `<path>.1` (oldest first) when the file we read is now `<path>.k`; none if it is gone. */
async function rotatedSince(path: string, inode: number): Promise<string[]> {
  const newer: string[] = [];
  for (let index = 1; ; index++) {
    const rotated = await stat(`${path}.${index}`).catch(() => undefined);
    if (!rotated) return [];
    if (rotated.ino === inode) return newer;
    newer.unshift(`${path}.${index}`);
  }
}
