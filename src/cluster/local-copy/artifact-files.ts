/**
 * Content-addressed artifact files: each one is stored under the hex sha256 of its bytes, in
 * one private folder (private-files.ts), and checked against its name every time it is read.
 * A file that fails the check (a flipped bit, a truncation, a hand edit) is deleted and
 * reported as corrupt, never returned: the caller fetches the artifact again from the store.
 * Since the name is the content, two modules with the same artifact share one file, and a
 * file is never rewritten in place.
 *
 * Owns: the artifact folder and the size of each file in it. Imports node: and its folder only.
 */
import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { listFiles, privateDir, writePrivateFile } from "./private-files.ts";

export const SHA256_HEX = /^[0-9a-f]{64}$/;

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export type ArtifactRead = { ok: true; artifact: string } | { ok: false; reason: "missing" | "corrupt" };

export class ArtifactFiles {
  /** sha256 → bytes on disk, for every file this folder holds. */
  private readonly sizes: Map<string, number>;
  private total = 0;

  private constructor(
    readonly dir: string,
    sizes: Map<string, number>,
  ) {
    this.sizes = sizes;
    for (const size of sizes.values()) this.total += size;
  }

  /** Open (creating it 0700) the folder; anything in it not named like a sha256 is removed. */
  static async open(dir: string): Promise<ArtifactFiles> {
    await privateDir(dir);
    const files = await listFiles(dir);
    for (const name of files.keys()) {
      if (SHA256_HEX.test(name)) continue;
      files.delete(name);
      await rm(join(dir, name), { force: true });
    }
    return new ArtifactFiles(dir, files);
  }

  has(sha256: string): boolean {
    return this.sizes.has(sha256);
  }

  /** Bytes of the file, when the folder holds it. */
  size(sha256: string): number | undefined {
    return this.sizes.get(sha256);
  }

  shas(): string[] {
    return [...this.sizes.keys()];
  }

  get count(): number {
    return this.sizes.size;
  }

  get bytes(): number {
    return this.total;
  }

  private forget(sha256: string): void {
    this.total -= this.sizes.get(sha256) ?? 0;
    this.sizes.delete(sha256);
  }

  /** The artifact, only if its bytes still hash to its name; a file that does not is deleted. */
  async read(sha256: string): Promise<ArtifactRead> {
    if (!SHA256_HEX.test(sha256)) return { ok: false, reason: "missing" };
    let artifact: string;
    try {
      artifact = await readFile(join(this.dir, sha256), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      this.forget(sha256);
      return { ok: false, reason: "missing" };
    }
    if (sha256Hex(artifact) !== sha256) {
      await this.remove(sha256);
      return { ok: false, reason: "corrupt" };
    }
    return { ok: true, artifact };
  }

  /** Keep `artifact` under its sha256 (a no-op when the file is there); refuses one that does not match. */
  async write(sha256: string, artifact: string): Promise<void> {
    if (sha256Hex(artifact) !== sha256) throw new Error(`an artifact does not hash to ${sha256}; not kept`);
    if (this.sizes.has(sha256)) return;
    await writePrivateFile(this.dir, sha256, artifact);
    if (this.sizes.has(sha256)) return; // written twice at once: counted once
    const size = Buffer.byteLength(artifact);
    this.sizes.set(sha256, size);
    this.total += size;
  }

  async remove(sha256: string): Promise<void> {
    this.forget(sha256);
    await rm(join(this.dir, sha256), { force: true });
  }
}
