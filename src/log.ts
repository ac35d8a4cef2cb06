/**
 * Structured logs (pino). Layers take a child logger: `log.child({ layer: "store" })`.
 * Logs go to stderr so a command's stdout stays clean for `--json`. Token values are
 * redacted by fixed paths; code that handles a token never logs it on purpose either.
 */
import { type Logger, pino } from "pino";

export type { Logger };

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? "lively",
      level: options.level ?? process.env.LIVELY_LOG_LEVEL ?? "info",
      redact: {
        paths: ["token", "*.token", "authorization", "*.authorization", "headers.authorization"],
        censor: "[redacted]",
      },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that writes nothing: for in-process tests and CLI commands. */
export const silentLogger: Logger = pino({ level: "silent" });
