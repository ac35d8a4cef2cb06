/**
 * Every temporary folder a test makes comes from here, so none is left behind: each is removed
 * when the test file's process exits, whether the test removed it itself or failed first.
 *
 *   const dir = tempDir("lively-cli-");   // /tmp/lively-cli-XXXXXX, gone at exit
 *   removeTempDir(dir);                    // earlier, when a test wants it gone now
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made = new Set<string>();

function removeAll(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}

// An `exit` handler must be synchronous (rmSync is). A process killed by a signal skips it.
process.once("exit", removeAll);

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Remove a folder made by tempDir now (idempotent). */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  made.delete(dir);
}
