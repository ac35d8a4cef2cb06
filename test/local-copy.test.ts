/**
 * A node's local copy on each backend, with real nodes in-process: it holds the artifact of
 * every channel head and split side (named by its sha256) and a snapshot of the index in
 * `<data-dir>/cache`, folders 0700 and files 0600; it writes only what changed and lets go of
 * what no channel serves; a tampered file is never served but fetched again and kept again;
 * its bound keeps production heads first and says what it left out. And preloading: a moved
 * channel of a module this node serves is loaded before its first request, while a module
 * never requested here is not.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeSnapshot } from "../src/cluster/local-copy/snapshot.ts";
import { silentLogger } from "../src/log.ts";
import { type RunningNode, startNode } from "../src/node/node.ts";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { eventually } from "./helpers/eventually.ts";
import { serve } from "./helpers/serve-process.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const code = (text: string) =>
  `export default { fetch(request, env) { return new Response(${JSON.stringify(text)} + (env.vars.GREETING ?? "")) } }`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const mode = (path: string) => statSync(path).mode & 0o777;

interface Node {
  node: RunningNode;
  dataDir: string;
  token: string;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; text: string }>;
  /** Wait until the local copy reflects the applied seq with every head it can keep. */
  synced(): Promise<any>;
  artifacts(): string[];
}

async function startOn(db: string, token: string | undefined, cacheMaxBytes?: number): Promise<Node> {
  const dataDir = tempDir("lively-copy-");
  const node = await startNode({ db, dataDir, port: 0, nodeId: `copy-${dataDir.slice(-6)}`, log: silentLogger, cacheMaxBytes });
  const adminToken = token ?? readFileSync(join(dataDir, "admin.token"), "utf8").trim();
  const api: Node["api"] = async (method, path, body) => {
    const response = await fetch(`${node.url}/_lively/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    node,
    dataDir,
    token: adminToken,
    api,
    async get(path, headers = {}) {
      const response = await fetch(`${node.url}${path}`, { headers });
      return { status: response.status, text: await response.text() };
    },
    async synced() {
      let status: any;
      await eventually("the local copy reflects the applied seq", async () => {
        status = (await api("GET", "/status")).body;
        const copy = status.localCopy;
        return copy.seq === status.appliedSeq && copy.headsMissing === 0 && copy.headsKept + copy.headsOverBound === copy.heads;
      });
      return status;
    },
    artifacts: () => readdirSync(join(dataDir, "cache", "artifacts")).sort(),
  };
}

for (const backend of BACKENDS) {
  describe(`local copy: ${backend.name}`, () => {
    let db: string;
    let cleanup: () => Promise<void>;
    let one: Node;
    const nodes: Node[] = [];
    const sha: Record<string, string> = {};

    const deploy = async (module: string, text: string, channels?: string[]) => {
      const response = await one.api("POST", `/modules/${module}/versions`, { code: code(text), channels });
      assert.equal(response.status, 201, JSON.stringify(response.body));
      sha[`${module}@${response.body.version}`] = response.body.sha256;
      return response.body.version as number;
    };

    before(async () => {
      ({ db, cleanup } = await backend.createDb());
      one = await startOn(db, undefined);
      nodes.push(one);
    });
    after(async () => {
      for (const node of nodes) {
        await node.node.close();
        rmSync(node.dataDir, { recursive: true, force: true });
      }
      await cleanup();
    });

    it("keeps every channel head's artifact, named by its sha256, and the index, in folders 0700 and files 0600", async () => {
      await deploy("a", "a1");
      await deploy("b", "b1");
      await deploy("b", "b2", ["beta"]);
      await deploy("c", "c1");
      await deploy("c", "c2");
      assert.equal((await one.api("PUT", "/modules/c/channels/production", { version: 2, weight: 30 })).status, 200);
      assert.equal((await one.api("PUT", "/modules/a/vars", { vars: { GREETING: "!" }, secret: true })).status, 200);
      const status = await one.synced();
      assert.deepEqual(status.localCopy.heads, 5);

      const cache = join(one.dataDir, "cache");
      assert.deepEqual(one.artifacts(), [sha["a@1"], sha["b@1"], sha["b@2"], sha["c@1"], sha["c@2"]].sort());
      for (const name of one.artifacts()) {
        const path = join(cache, "artifacts", name);
        assert.equal(sha256(readFileSync(path, "utf8")), name, "each file is named by the sha256 of its bytes");
        assert.equal(mode(path), 0o600);
      }
      assert.equal(mode(cache), 0o700);
      assert.equal(mode(join(cache, "artifacts")), 0o700);
      assert.equal(mode(join(cache, "snapshot")), 0o600);

      const decoded = decodeSnapshot(readFileSync(join(cache, "snapshot"), "utf8"));
      assert.ok(decoded.ok);
      assert.equal(decoded.snapshot.store, one.node.store.description);
      assert.equal(decoded.snapshot.index.seq, status.appliedSeq);
      assert.deepEqual(decoded.snapshot.index.channels.c, { production: { version: 1, split: { version: 2, weight: 30 } } });
      assert.equal(decoded.snapshot.index.settings.a?.vars.GREETING, "!", "the secret value is there: that is why the file is 0600");
      assert.equal(decoded.snapshot.artifacts["b@2"], sha["b@2"]);
      const shown = await runCli({ url: one.node.url, token: one.token }, ["status"]);
      assert.match(shown.stdout, new RegExp(`local copy: seq ${status.appliedSeq}, 5 of 5 channel heads, [\\d.]+ MB of 1024.0 MB\n`));
    });

    it("writes only what changed, and lets go of an artifact no channel serves any more", async () => {
      const kept = join(one.dataDir, "cache", "artifacts", sha["a@1"] as string);
      const before = statSync(kept);
      await deploy("d", "d1");
      assert.equal((await one.api("PUT", "/modules/b/channels/beta", { version: 1 })).status, 200);
      await one.synced();
      assert.ok(one.artifacts().includes(sha["d@1"] as string), "the new head is kept");
      assert.ok(!one.artifacts().includes(sha["b@2"] as string), "b@2 serves no channel any more");
      const now = statSync(kept);
      assert.deepEqual([now.ino, now.mtimeMs], [before.ino, before.mtimeMs], "an unchanged head's file is not rewritten");
    });

    it("a snapshot is only used with the database it was taken from", async () => {
      await one.synced();
      const elsewhere = tempDir("lively-copy-");
      try {
        cpSync(join(one.dataDir, "cache"), join(elsewhere, "cache"), { recursive: true });
        await assert.rejects(
          serve("postgres://postgres@127.0.0.1:1/other", elsewhere),
          /serve exited 6: .*"code":"unavailable".*the snapshot in .* is of another store, /,
        );
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
      }
    });

    it("never serves a tampered artifact: it is deleted, fetched again from the store and kept again", async () => {
      const file = join(one.dataDir, "cache", "artifacts", sha["d@1"] as string);
      writeFileSync(file, code("tampered"));
      const answer = await one.get("/d/");
      assert.deepEqual([answer.status, answer.text], [200, "d1"]);
      await eventually("the real artifact is back", () => {
        try {
          return sha256(readFileSync(file, "utf8")) === sha["d@1"];
        } catch {
          return false;
        }
      });
    });

    it("a bound keeps production heads first, then other channels, then split sides, and says what it left out", async () => {
      const sizeOf = (ref: string) => statSync(join(one.dataDir, "cache", "artifacts", sha[ref] as string)).size;
      await deploy("b", "b3", ["beta"]); // production: a@1 b@1 c@1 d@1; beta: b@3; split side: c@2
      await one.synced();
      const production = ["a@1", "b@1", "c@1", "d@1"];
      const bound = production.reduce((sum, ref) => sum + sizeOf(ref), 0) + sizeOf("b@3");
      assert.ok(sizeOf("c@2") > 0);
      const small = await startOn(db, one.token, bound);
      nodes.push(small);
      const status = await small.synced();
      assert.deepEqual(
        [status.localCopy.heads, status.localCopy.headsKept, status.localCopy.headsOverBound],
        [6, 5, 1],
        "the split side is the one left out",
      );
      assert.deepEqual(small.artifacts(), [...production, "b@3"].map((ref) => sha[ref]).sort());
      assert.ok(status.localCopy.bytes <= bound);
      const shown = await runCli({ url: small.node.url, token: small.token }, ["status"]);
      assert.match(shown.stdout, /local copy: seq \d+, 5 of 6 channel heads, [\d.]+ MB of [\d.]+ MB; 1 over --cache-max-mb/);
      assert.deepEqual(
        await small.get("/c/", { "x-lively-key": "any" }).then((a) => a.status),
        200,
        "what is not kept still loads from the store",
      );
    });

    it("preloads a moved channel of a module loaded here before its first request, and leaves other modules alone", async () => {
      assert.equal((await one.get("/a/")).text, "a1!");
      const loadedHere = async () =>
        ((await one.api("GET", "/status")).body.loaded as { module: string; version: number }[]).map((l) => `${l.module}@${l.version}`);
      assert.ok(!(await loadedHere()).some((v) => v.startsWith("e@")));
      await deploy("e", "e1"); // never requested here
      await deploy("e", "e2", ["production"]);
      const a2 = await deploy("a", "a2", ["production"]);
      await eventually("a@2 is loaded without a request", async () => (await loadedHere()).includes(`a@${a2}`));
      assert.ok(!(await loadedHere()).some((v) => v.startsWith("e@")), "e was moved first and never requested here: not preloaded");
      const loads = (await one.api("GET", "/status")).body.loads;
      assert.equal((await one.get("/a/")).text, "a2!");
      assert.equal((await one.api("GET", "/status")).body.loads, loads, "the first request after the move loaded nothing");
    });
  });
}
