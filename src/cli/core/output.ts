/**
 * The one writer of command output (wrangler's `printBanner: !args.json`): results go to
 * stdout, either as JSON (`--json`, nothing else on stdout) or as text for people; progress
 * and errors go to stderr, an error as one line (one JSON line in `--json` mode).
 * Error codes map to exit codes here and nowhere else.
 */
import { type ErrorCode, errorBody, LivelyError, toLivelyError } from "../../errors.ts";
import { adviceFor } from "./advice.ts";
import type { CliIo } from "./io.ts";

export const EXIT_CODES: Record<ErrorCode, number> = {
  internal: 1,
  bad_request: 2,
  invalid_code: 2,
  too_large: 2,
  conflict: 3,
  fenced: 3,
  not_found: 4,
  unauthorized: 5,
  forbidden: 5,
  unavailable: 6,
  overloaded: 6,
  exceeded_cpu: 7,
  exceeded_memory: 7,
  exceeded_wall: 7,
  module_error: 8,
  compute_failed: 8,
};

export class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** The command's result: `value` as JSON in --json mode, else `text` (default: JSON, pretty). */
  result(value: unknown, text?: string | (() => string)): void {
    if (this.json) {
      this.io.stdout(`${JSON.stringify(value)}\n`);
      return;
    }
    const human = typeof text === "function" ? text() : (text ?? JSON.stringify(value, null, 2));
    if (human !== "") this.io.stdout(human.endsWith("\n") ? human : `${human}\n`);
  }

  /** Progress for people; silent in --json mode so scripts see only the result. */
  progress(message: string): void {
    if (!this.json) this.io.stderr(`${message}\n`);
  }

  /** Report a failure and give the exit code for it. */
  error(thrown: unknown): number {
    const error = toLivelyError(thrown);
    if (this.json) {
      this.io.stderr(`${JSON.stringify(errorBody(error))}\n`);
    } else {
      this.io.stderr(`lively: ${error.message.replace(/\s*\n\s*/g, " ")}${adviceFor(error)}\n`);
    }
    return EXIT_CODES[error.code];
  }
}

export function usageError(message: string): LivelyError {
  return new LivelyError("bad_request", message);
}
