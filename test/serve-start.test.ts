/**
 * `lively serve` failing to start, as a real child process: each failure exits with the code
 * docs/cli.md promises and one line on stderr (one JSON line under --json), never `internal`.
 *
 *   port in use, database unreachable (refused, or a server that never answers), a database
 *   that refuses us (55000, 53300), schema newer than this build   -> 6 `unavailable`
 *   a --db or --data-dir where no database can be                   -> 2 `bad_request`
 *
 * Every start here has a fresh data folder, so no local copy to fall back on.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { openStore } from "../src/store/open.ts";
import { skipUnless } from "./helpers/backends.ts";
import { createTestDatabase, pgServerUrl } from "./helpers/postgres.ts";
import { BIN } from "./helpers/serve-process.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

interface Failed {
  code: number | null;
  stdout: string;
  stderr: string;
}

let scratch: string;
before(() => {
  scratch = tempDir("lively-serve-start-");
});
after(() => removeTempDir(scratch));

let folders = 0;
const freshDataDir = () => join(scratch, `data-${++folders}`);

/** Run `lively serve …` to its end; a start that gets ready instead is a failure of the test. */
function serveToExit(args: string[]): Promise<Failed> {
  const child = spawn(process.execPath, ["--no-node-snapshot", BIN, "serve", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LIVELY_LOG_LEVEL: "silent" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
    // Ready: it will not exit by itself. Stop it; the assertions on the code then fail loudly.
    if (/ready at|"url"/.test(stdout)) child.kill("SIGKILL");
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((done) => child.once("close", (code) => done({ code, stdout, stderr })));
}

/** Both renderings of one failing start: exit code, one stderr line, nothing on stdout. */
async function assertFailsBothWays(args: () => string[], exit: number, code: string, message: RegExp): Promise<void> {
  // Side by side: several cases wait out a timeout, and each way waits its own.
  const [human, json] = await Promise.all([serveToExit(args()), serveToExit([...args(), "--json"])]);
  assert.equal(human.code, exit, human.stderr);
  assert.equal(human.stdout, "");
  assert.match(human.stderr, /^lively: .+\n$/, "one line on stderr");
  assert.match(human.stderr, message);

  assert.equal(json.code, exit, json.stderr);
  assert.equal(json.stdout, "");
  const { error } = JSON.parse(json.stderr);
  assert.equal(error.code, code);
  assert.match(`lively: ${error.message}`, message);
}

describe("serve: start-up failures and their exit codes", () => {
  let busy: Server;
  before(async () => {
    busy = createServer();
    await new Promise<void>((done) => busy.listen(0, "127.0.0.1", done));
  });
  after(() => busy.close());

  it("the port is in use: 6 unavailable, naming the port", async () => {
    const port = (busy.address() as AddressInfo).port;
    await assertFailsBothWays(
      () => ["--data-dir", freshDataDir(), "--port", String(port)],
      6,
      "unavailable",
      new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use`),
    );
  });

  it("PostgreSQL refuses the connection (nothing listens): 6 unavailable", async () => {
    await assertFailsBothWays(
      () => ["--data-dir", freshDataDir(), "--db", "postgres://postgres@127.0.0.1:1/lively"],
      6,
      "unavailable",
      /cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/lively: the connection was refused.*no local copy/,
    );
  });

  it("a server that accepts TCP but never answers: the connect timeout, 6 unavailable", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    const port = (silent.address() as AddressInfo).port;
    try {
      await assertFailsBothWays(
        () => ["--data-dir", freshDataDir(), "--db", `postgres://postgres@127.0.0.1:${port}/lively`],
        6,
        "unavailable",
        /no connection within \d+ ms/,
      );
    } finally {
      silent.close();
    }
  });

  it("the SQLite schema is newer than this build: 6 unavailable", async () => {
    const db = join(scratch, "newer.db");
    const store = openStore({ db });
    await store.migrate();
    await store.write((tx) => tx.run("INSERT INTO lively_migrations (id, name, applied_at) VALUES (999999, '999999.sql', 0)"));
    await store.close();
    await assertFailsBothWays(
      () => ["--data-dir", freshDataDir(), "--db", db],
      6,
      "unavailable",
      /the database schema is version 999999, newer than this Lively knows/,
    );
  });

  it("--db or --data-dir where no database can be: 2 bad_request", async () => {
    const file = join(scratch, "a-file");
    writeFileSync(file, "not a folder");
    await assertFailsBothWays(() => ["--data-dir", join(file, "data")], 2, "bad_request", /cannot prepare the data folder.*ENOTDIR/);
    await assertFailsBothWays(() => ["--data-dir", freshDataDir(), "--db", join(file, "x.db")], 2, "bad_request", /ENOTDIR/);
    const notADatabase = join(scratch, "text.db");
    writeFileSync(notADatabase, "these bytes are text, not a SQLite database; SQLite reads the header and refuses\n".repeat(10));
    await assertFailsBothWays(
      () => ["--data-dir", freshDataDir(), "--db", notADatabase],
      2,
      "bad_request",
      /cannot open SQLite database .*text\.db: file is not a database/,
    );
  });
});

describe("serve: PostgreSQL refusing this node at start", { skip: skipUnless("postgres") }, () => {
  let admin: pg.Client;
  before(async () => {
    admin = new pg.Client({ connectionString: pgServerUrl() });
    await admin.connect();
  });
  after(() => admin.end());

  it("the schema is newer than this build: 6 unavailable", async () => {
    const database = await createTestDatabase();
    try {
      const store = openStore({ db: database.url });
      await store.migrate();
      await store.write((tx) => tx.run("INSERT INTO lively_migrations (id, name) VALUES (999999, '999999.sql')"));
      await store.close();
      await assertFailsBothWays(
        () => ["--data-dir", freshDataDir(), "--db", database.url],
        6,
        "unavailable",
        /the database schema is version 999999, newer than this Lively knows/,
      );
    } finally {
      await database.drop();
    }
  });

  it("the database does not accept connections (55000, ALLOW_CONNECTIONS false): 6 unavailable", async () => {
    const database = await createTestDatabase();
    try {
      await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS false`);
      await assertFailsBothWays(
        () => ["--data-dir", freshDataDir(), "--db", database.url],
        6,
        "unavailable",
        new RegExp(`${database.name} does not accept connections to this database now`),
      );
    } finally {
      await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS true`);
      await database.drop();
    }
  });

  it("too many connections (53300, a role with CONNECTION LIMIT 0): 6 unavailable", async () => {
    const database = await createTestDatabase();
    const role = `${database.name}_limited`;
    await admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 0`);
    try {
      const url = new URL(database.url);
      url.username = role;
      await assertFailsBothWays(() => ["--data-dir", freshDataDir(), "--db", url.toString()], 6, "unavailable", /refuses more connections/);
    } finally {
      await database.drop();
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });
});
