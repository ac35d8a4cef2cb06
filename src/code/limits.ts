/** Size limits on stored code (DESIGN.md: module source 5 MB). */
import { LivelyError } from "../errors.ts";

export interface CodeLimits {
  /** Total bytes of a version's source files; the compiled artifact has the same cap. */
  maxSourceBytes: number;
}

export const DEFAULT_CODE_LIMITS: CodeLimits = { maxSourceBytes: 5 * 1024 * 1024 };

export function assertSourceSize(files: Record<string, string>, artifact: string, limits: CodeLimits): number {
  const sourceBytes = Object.values(files).reduce((sum, text) => sum + Buffer.byteLength(text), 0);
  if (sourceBytes === 0) {
    throw new LivelyError("bad_request", "the module source is empty: deploy a file that exports something");
  }
  const artifactBytes = Buffer.byteLength(artifact);
  const largest = Math.max(sourceBytes, artifactBytes);
  if (largest > limits.maxSourceBytes) {
    throw new LivelyError(
      "too_large",
      `the module is ${largest} bytes, over the ${limits.maxSourceBytes}-byte limit; split it or raise --max-source-bytes on the node`,
      { bytes: largest, limit: limits.maxSourceBytes },
    );
  }
  return artifactBytes;
}
