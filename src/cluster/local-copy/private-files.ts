/**
 * Files that hold secret values (a module's vars travel in the snapshot) and must survive a
 * crash at any instant: folders are created 0700, files 0600, and a file is replaced whole
 * or not at all — written to a temp file of its own, fsynced, renamed over the old one, and
 * the folder fsynced so the rename itself outlives a power cut. A reader sees the old file
 * or the new one, never half of one.
 *
 * Owns: the mechanics of writing and reading such files. Imports node: only.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";

/** Temp files carry this prefix; one left by a crash is removed the next time the folder is opened. */
export const TEMP_PREFIX = ".tmp-";

/** Create `dir` (and missing parents) 0700; an existing one is tightened to 0700 as well. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Replace `dir/name` with `data`, atomically and durably, mode 0600. */
export async function writePrivateFile(dir: string, name: string, data: string | Uint8Array): Promise<void> {
  const temp = join(dir, `${TEMP_PREFIX}${name}-${randomBytes(6).toString("hex")}`);
  const file = await open(temp, "wx", 0o600);
  try {
    await file.writeFile(data);
    await file.sync();
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await file.close();
  try {
    await rename(temp, join(dir, name));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDir(dir);
}

/** The folder's entry for a rename is only durable once the folder itself is fsynced. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The file's text, or undefined when there is no such file. */
export async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The regular files in `dir` with their sizes; temp files left by a crash are removed on the way. */
export async function listFiles(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.name.startsWith(TEMP_PREFIX)) {
      await rm(path, { force: true });
      continue;
    }
    if (entry.isFile()) out.set(entry.name, (await stat(path)).size);
  }
  return out;
}
