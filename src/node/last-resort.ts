/**
 * The last line of defence of a `lively serve` process: a promise rejected with nobody to
 * handle it, or an exception nothing caught, is logged with the module's name where one is
 * known. A rejection, or an exception that came out of one module's work (a LivelyError that
 * names it), leaves the node serving: the fault was that module's. Anything else means the
 * node's own state is in doubt, so it exits (code 70) for its service manager to restart it.
 * Every one of these is a bug in Lively; the request path is written so they do not happen.
 *
 * Installed by the serve command, never by startNode: tests that run nodes in-process keep
 * the test runner's own handling.
 *
 * Owns: the process-wide handlers. Must not import cli/.
 */
import { LivelyError } from "../errors.ts";
import type { Logger } from "../log.ts";

function moduleOf(thrown: unknown): string | undefined {
  const module = thrown instanceof LivelyError ? thrown.details?.module : undefined;
  return typeof module === "string" ? module : undefined;
}

/** Install the handlers once; returns a function that removes them. */
export function installLastResort(log: Logger, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  const onRejection = (reason: unknown) => {
    log.error(
      { err: reason, module: moduleOf(reason) },
      "a promise was rejected with no handler (a bug in Lively); the node keeps serving",
    );
  };
  const onException = (error: Error) => {
    const module = moduleOf(error);
    if (module !== undefined) {
      log.error({ err: error, module }, "an uncaught exception from a module's work (a bug in Lively); the node keeps serving");
      return;
    }
    log.fatal({ err: error }, "an uncaught exception (a bug in Lively); exiting so the node restarts clean");
    exit(70);
  };
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return () => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  };
}
