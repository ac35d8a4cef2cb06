/**
 * The one way a config file is refused: a LivelyError `bad_request` whose message starts with
 * `file:line:` (as compilers do, so editors jump there) and whose details name the file, the line
 * and the key. Owns that shape only; must not import api/, cli/, gateway/, store/.
 */
import { LivelyError } from "../../errors.ts";

export function fileError(file: string, line: number, key: string | undefined, message: string, cause?: unknown): LivelyError {
  return new LivelyError("bad_request", `${file}:${line}: ${message}`, { file, line, key }, cause === undefined ? undefined : { cause });
}

/** The line of the longest prefix of a path that the file shows (1 when none), for one parsed file. */
export type LineOf = (path: readonly (string | number)[]) => number;
