/**
 * Serving through an outage, whatever was loaded (issue #9, "Done when"): three `lively serve`
 * processes on a PostgreSQL server of the test's own and 50 modules, each node only ever asked
 * for half of them (different halves). With PostgreSQL stopped, every channel head (each
 * module's production, a beta channel on some, both sides of a split, a routed module, a
 * module with a secret var) answers on every node with the right version; a node killed and
 * restarted during the outage serves them too, from its local copy; a tampered artifact is
 * refused, never served, and recovered from the database when it returns; after PostgreSQL
 * returns, a deploy through the restarted node reaches all three. And the edges of a start:
 * neither database nor snapshot is `unavailable` (exit 6), and a database that comes back with
 * a schema newer than the node knows stops the node with exit 6.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { splitBucket } from "../src/gateway/choose-version.ts";
import { skipUnless } from "./helpers/backends.ts";
import { type Cluster, eventually, startCluster } from "./helpers/cluster.ts";
import { exited, serve } from "./helpers/serve-process.ts";
import { tempDir } from "./helpers/temp-dir.ts";
import { startThrowawayPostgres, type ThrowawayPostgres } from "./helpers/throwaway-postgres.ts";

const COUNT = 50;
const NAMES = Array.from({ length: COUNT }, (_, i) => `out-${String(i).padStart(2, "0")}`);
const BETA = NAMES.filter((_, i) => i % 5 === 0); // 10 modules with a beta channel
const SPLIT = "out-01";
const ROUTED = "out-02";
const SECRET = "out-04";
const TAMPERED = "out-05";

/** Each module answers its name, a tag, and its GREETING var when it has one. */
const code = (tag: string) =>
  `export default { fetch(request, env) { return new Response(${JSON.stringify(tag)} + (env.vars.GREETING ? ":" + env.vars.GREETING : "")) } }`;

/** A key that puts a caller on the chosen side of a 50 % split of `module`'s production. */
function keyFor(module: string, side: "split" | "base"): string {
  for (let i = 0; ; i++) {
    const key = `k${i}`;
    if (splitBucket(key, module, "production") < 50 === (side === "split")) return key;
  }
}

interface Head {
  what: string;
  path: string;
  headers: Record<string, string>;
  version: string;
  text: string;
}

const HEADS: Head[] = [
  ...NAMES.filter((m) => m !== SPLIT).map((m) => ({
    what: `${m} production`,
    path: `/${m}/`,
    headers: {},
    version: `${m}@1`,
    text: `${m}:v1${m === SECRET ? ":psst" : ""}`,
  })),
  ...BETA.map((m) => ({
    what: `${m} beta`,
    path: `/${m}/`,
    headers: { "x-lively-channel": "beta" },
    version: `${m}@2`,
    text: `${m}:v2-beta`,
  })),
  {
    what: `${SPLIT} base side`,
    path: `/${SPLIT}/`,
    headers: { "x-lively-key": keyFor(SPLIT, "base") },
    version: `${SPLIT}@1`,
    text: `${SPLIT}:v1`,
  },
  {
    what: `${SPLIT} split side`,
    path: `/${SPLIT}/`,
    headers: { "x-lively-key": keyFor(SPLIT, "split") },
    version: `${SPLIT}@2`,
    text: `${SPLIT}:v2-split`,
  },
  { what: "the /routed route", path: "/routed/deep", headers: {}, version: `${ROUTED}@1`, text: `${ROUTED}:v1` },
];

/** Run `each` over `items`, `width` at a time. */
async function inBatches<T>(items: readonly T[], width: number, each: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(each));
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("an outage: every channel head on every node", { skip: skipUnless("postgres") }, () => {
  let server: ThrowawayPostgres;
  let cluster: Cluster;
  let tamperedSha = "";

  before(async () => {
    server = await startThrowawayPostgres();
    cluster = await startCluster(server.url, 3);
  });
  after(async () => {
    await cluster?.close();
    await server?.destroy();
  });

  const url = (i: number) => cluster.nodes[i]?.url ?? "";
  const health = async (i: number) => {
    let response: Response;
    try {
      response = await fetch(`${url(i)}/_lively/health`);
    } catch (error) {
      const process = cluster.nodes[i];
      const ended = process?.child.exitCode ?? process?.child.signalCode;
      throw new Error(`node ${i} does not answer (${(error as Error).message}; exit: ${ended}); its stderr:\n${process?.stderr()}`);
    }
    return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
  };
  const ask = async (i: number, head: Head) => {
    const response = await fetch(`${url(i)}${head.path}`, { headers: head.headers });
    return { status: response.status, version: response.headers.get("x-lively-version"), text: await response.text() };
  };
  /** Every head that does not answer right on node `i` (empty: 100 %). */
  const wrongHeads = async (i: number, heads = HEADS) => {
    const wrong: string[] = [];
    await inBatches(heads, 8, async (head) => {
      const got = await ask(i, head);
      if (got.status !== 200 || got.version !== head.version || got.text !== head.text) {
        wrong.push(`${head.what}: ${got.status} ${got.version} ${got.text.slice(0, 200)}`);
      }
    });
    return wrong;
  };
  const restart = async (i: number) => {
    const victim = cluster.nodes[i];
    assert.ok(victim);
    victim.child.kill("SIGKILL");
    assert.equal(await exited(victim.child), "SIGKILL");
    const again = await serve(server.url, cluster.dataDirs[i] as string);
    cluster.nodes[i] = again;
    return again;
  };

  it("with PostgreSQL stopped, 100 % of channel heads answer on every node, also on one killed and restarted meanwhile", async () => {
    // 50 modules through node 0; betas, a split, a route and a secret var on top.
    await inBatches(NAMES, 4, async (m) => {
      const deployed = await cluster.api(0, "POST", `/modules/${m}/versions`, { code: code(`${m}:v1`) });
      assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
      if (m === TAMPERED) tamperedSha = deployed.body.sha256;
    });
    await inBatches(BETA, 4, async (m) => {
      assert.equal(
        (await cluster.api(0, "POST", `/modules/${m}/versions`, { code: code(`${m}:v2-beta`), channels: ["beta"] })).status,
        201,
      );
    });
    assert.equal((await cluster.api(0, "POST", `/modules/${SPLIT}/versions`, { code: code(`${SPLIT}:v2-split`) })).status, 201);
    assert.equal((await cluster.api(0, "PUT", `/modules/${SPLIT}/channels/production`, { version: 2, weight: 50 })).status, 200);
    assert.equal((await cluster.api(0, "POST", "/routes", { route: "/routed", module: ROUTED })).status, 201);
    assert.equal((await cluster.api(0, "PUT", `/modules/${SECRET}/vars`, { vars: { GREETING: "psst" }, secret: true })).status, 200);

    // Each node is asked for its own half only: node 0 the even modules, node 1 the odd ones, node 2 the first 25.
    const halves = [NAMES.filter((_, i) => i % 2 === 0), NAMES.filter((_, i) => i % 2 === 1), NAMES.slice(0, COUNT / 2)];
    for (const [i, half] of halves.entries()) {
      const heads = HEADS.filter((h) => h.headers["x-lively-channel"] === undefined && half.some((m) => h.what.startsWith(`${m} `)));
      assert.deepEqual(await wrongHeads(i, heads), [], `node ${i} serves its half`);
    }

    // Before the outage: every node has applied the newest seq and holds every head in its local copy.
    const newest = (await cluster.api(0, "GET", "/status")).body.appliedSeq as number;
    for (const i of [0, 1, 2]) {
      await eventually(`node ${i}'s local copy holds every head as of seq ${newest}`, async () => {
        const status = (await cluster.api(i, "GET", "/status")).body;
        const copy = status.localCopy;
        return status.appliedSeq === newest && copy.seq === newest && copy.headsMissing === 0 && copy.headsKept === copy.heads;
      });
    }
    const loaded = (await cluster.api(1, "GET", "/status")).body.loaded as { module: string }[];
    assert.ok(!loaded.some((l) => l.module === "out-00"), "node 1 never loaded out-00: the outage is what makes it load");

    await server.stop();
    await eventually("every node reports degraded", async () => (await Promise.all([0, 1, 2].map(health))).every((h) => h.status === 503));
    for (const i of [0, 1, 2]) assert.deepEqual(await wrongHeads(i), [], `node ${i}: every channel head answers during the outage`);

    const restarted = await restart(1);
    assert.deepEqual([restarted.ready.startup.from, restarted.ready.startup.seq], ["local copy", newest], "started from its snapshot");
    const degraded = await health(1);
    assert.deepEqual([degraded.status, degraded.body.status], [503, "degraded"]);
    assert.deepEqual(await wrongHeads(1), [], "the restarted node serves every channel head from its local copy");
    assert.equal(restarted.token, "", "a start without the database writes no admin token");
  });

  it("a tampered cached artifact is refused, never served, and recovered from the database when it returns", async () => {
    assert.match(tamperedSha, /^[0-9a-f]{64}$/);
    const file = join(cluster.dataDirs[2] as string, "cache", "artifacts", tamperedSha);
    const victim = cluster.nodes[2];
    assert.ok(victim);
    victim.child.kill("SIGKILL");
    await exited(victim.child);
    writeFileSync(file, code("tampered"));
    cluster.nodes[2] = await serve(server.url, cluster.dataDirs[2] as string);

    const refused = await fetch(`${url(2)}/${TAMPERED}/`);
    const body = await refused.text();
    assert.equal(refused.status, 503, body);
    assert.equal(JSON.parse(body).error.code, "unavailable");
    assert.doesNotMatch(body, /tampered/);
    const others = HEADS.filter((h) => !h.what.startsWith(`${TAMPERED} `));
    assert.deepEqual(await wrongHeads(2, others), [], "every other head still answers");

    await server.start();
    await eventually("every node is healthy again", async () => (await Promise.all([0, 1, 2].map(health))).every((h) => h.status === 200));
    // No request needed: the node fetches what it found damaged as soon as the database answers.
    await eventually(
      "the file is the real artifact again",
      () => {
        try {
          return sha256(readFileSync(file, "utf8")) === tamperedSha;
        } catch {
          return false;
        }
      },
      30_000,
    );
    const recovered = await ask(2, HEADS.find((h) => h.what === `${TAMPERED} production`) as Head);
    assert.deepEqual([recovered.status, recovered.text], [200, `${TAMPERED}:v1`]);
  });

  it("after PostgreSQL returns, a deploy through the restarted node reaches all three", async () => {
    const deployed = await cluster.api(1, "POST", "/modules/out-00/versions", { code: code("out-00:after"), channels: ["production"] });
    assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
    await eventually("every node serves the deploy made after the outage", async () => {
      const answers = await Promise.all([0, 1, 2].map((i) => ask(i, { ...(HEADS[0] as Head), path: "/out-00/" })));
      return answers.every((a) => a.status === 200 && a.text === "out-00:after" && a.version === `out-00@${deployed.body.version}`);
    });
  });

  it("a node started during an outage refuses, once it sees the database, a schema newer than it knows (exit 6)", async () => {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      await admin.query("INSERT INTO lively_migrations (id, name) VALUES (999999, '999999.sql')");
    } finally {
      await admin.end();
    }
    await server.stop();
    const node = await restart(0);
    assert.equal((await health(0)).body.status, "degraded");
    assert.deepEqual(await wrongHeads(0, HEADS.slice(5, 10)), [], "it serves from its local copy meanwhile");
    await server.start();
    assert.equal(await exited(node.child), 6);
    assert.match(node.stderr(), /"code":"unavailable".*newer than this Lively knows/);
  });
});

describe("a start with neither the database nor a local copy", () => {
  for (const [what, prepare] of [
    ["no snapshot", () => undefined],
    ["a damaged snapshot", (dir: string) => writeFileSync(join(dir, "cache", "snapshot"), "lively-local-copy 1 0000\n{}")],
  ] as const) {
    it(`fails with unavailable and exit 6 (${what})`, async () => {
      const dataDir = tempDir("lively-outage-");
      try {
        if (what !== "no snapshot") {
          // A first start creates the folder; it fails the same way, which is what the second start shows again.
          await assert.rejects(serve("postgres://postgres@127.0.0.1:1/lively", dataDir), /serve exited 6/);
          prepare(dataDir);
        }
        await assert.rejects(
          serve("postgres://postgres@127.0.0.1:1/lively", dataDir),
          /serve exited 6: .*"code":"unavailable".*cannot reach PostgreSQL.*no local copy of it to start from \(no snapshot in/,
        );
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }
});
