/**
 * The KV line protocol (issue 10, part 8; docs/kv-protocol.md) against a real node
 * (`lively serve --kv-port 0`, a child process) with real sockets, on both backends: every
 * command and reply byte for byte, CRLF and bare LF, wrong word counts, unknown commands, a
 * missing bucket, PING and QUIT, 1,000 pipelined commands in one write, a 64 KiB line and one
 * byte more, binary garbage, a client vanishing mid-line while another works, many clients at
 * once, a store error answered `ERROR unavailable` on a connection that stays, and how values
 * written here look over the HTTP API and the other way round. No timing is asserted.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { BACKENDS, describeEachBackend, skipUnless, type TestBackend } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { type KvTestClient, kvConnect } from "./helpers/kv-tcp-client.ts";
import { exited, type ServeProcess, serve } from "./helpers/serve-process.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const MAX_LINE = 64 * 1024;

async function startKvNode(backend: TestBackend, extra: string[] = []) {
  const { db, cleanup } = await backend.createDb();
  const node = await serve(db, tempDir("lively-kv-tcp-"), ["--kv-port", "0", ...extra]);
  return { node, db, port: node.ready.kvPort as number, cleanup };
}

async function stopNode(node: ServeProcess, cleanup: () => Promise<void>): Promise<void> {
  node.child.kill("SIGTERM");
  assert.equal(await exited(node.child), 0, node.stderr());
  await cleanup();
}

async function api(node: ServeProcess, method: string, path: string, body?: unknown) {
  const response = await fetch(`${node.url}/_lively/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** Send `text` and expect exactly `reply` back (compared as text, bytes shown 1:1). */
async function expectReply(client: KvTestClient, text: string | Buffer, reply: string): Promise<void> {
  assert.equal(await client.exchange(text, Buffer.byteLength(reply, "latin1")), reply);
}

describeEachBackend("KV TCP protocol", (backend) => {
  let node: ServeProcess;
  let port: number;
  let cleanup: () => Promise<void>;
  const open: KvTestClient[] = [];
  const client = async () => {
    const c = await kvConnect(port);
    open.push(c);
    return c;
  };

  before(async () => {
    ({ node, port, cleanup } = await startKvNode(backend));
    const c = await client();
    await expectReply(c, "CREATE shopping\r\n", "OK\r\n");
  });
  after(async () => {
    for (const c of open) c.close();
    await stopNode(node, cleanup);
  });

  it("answers the guide's session byte for byte", async () => {
    const c = await client();
    await expectReply(c, "CREATE shopping\r\n", "OK\r\n"); // exists already: still OK, as in the guide
    await expectReply(c, "PUT shopping milk 1\r\n", "OK\r\n");
    await expectReply(c, "GET shopping milk\r\n", "1\r\nOK\r\n");
    await expectReply(c, "GET shopping eggs\r\n", "\r\nOK\r\n");
    await expectReply(c, "DELETE shopping milk\r\n", "OK\r\n");
    await expectReply(c, "GET shopping milk\r\n", "\r\nOK\r\n");
    await expectReply(c, "DELETE shopping milk\r\n", "OK\r\n"); // deleting a missing key is fine
    await expectReply(c, "PUT shopping milk 3\r\n", "OK\r\n");
    await expectReply(c, "PUT shopping milk 4\r\n", "OK\r\n");
    await expectReply(c, "GET shopping milk\r\n", "4\r\nOK\r\n");
  });

  it("answers NOT FOUND for every command on a missing bucket", async () => {
    const c = await client();
    await expectReply(c, "GET nowhere milk\r\n", "NOT FOUND\r\n");
    await expectReply(c, "PUT nowhere milk 1\r\n", "NOT FOUND\r\n");
    await expectReply(c, "DELETE nowhere milk\r\n", "NOT FOUND\r\n");
    await expectReply(c, "PING\r\n", "PONG\r\n");
  });

  it("takes CRLF and bare LF, and words split on runs of spaces and tabs", async () => {
    const c = await client();
    await expectReply(c, "PUT shopping lf a\n", "OK\r\n");
    await expectReply(c, "GET shopping lf\n", "a\r\nOK\r\n");
    await expectReply(c, "  PUT \t shopping   lf  b  \r\n", "OK\r\n");
    await expectReply(c, "GET\tshopping\tlf\r\n", "b\r\nOK\r\n");
    await expectReply(c, "PING\n", "PONG\r\n");
  });

  it("answers UNKNOWN COMMAND for unknown commands and wrong word counts, and keeps the connection", async () => {
    const c = await client();
    const wrong = [
      "",
      "   ",
      "CREATE",
      "CREATE a b",
      "PUT shopping k",
      "PUT shopping k v extra",
      "GET shopping",
      "GET shopping k extra",
      "DELETE shopping",
      "DELETE shopping k extra",
      "PING now",
      "QUIT now",
      "get shopping milk",
      "Put shopping milk 1",
      "FLUSHALL",
      "CREATEX shopping",
    ];
    for (const line of wrong) await expectReply(c, `${line}\r\n`, "UNKNOWN COMMAND\r\n");
    await expectReply(c, "PING\r\n", "PONG\r\n");
  });

  it("QUIT answers OK and closes; what came after it in the same write is not run", async () => {
    const c = await client();
    await expectReply(c, "PING\r\n", "PONG\r\n");
    c.socket.write("QUIT\r\nPUT shopping after-quit 1\r\n");
    await c.closedByServer();
    assert.equal(c.received().toString("latin1"), "PONG\r\nOK\r\n");
    await expectReply(await client(), "GET shopping after-quit\r\n", "\r\nOK\r\n");
  });

  it("a client that sends its commands and ends its side gets every reply, then the node closes", async () => {
    const c = await client();
    c.socket.end("PUT shopping piped 1\r\nGET shopping piped\r\nPING\r\nGET shopping unfinished"); // as `printf … | nc`
    await c.closedByServer();
    assert.equal(c.received().toString("latin1"), "OK\r\n1\r\nOK\r\nPONG\r\n");
  });

  it("answers 1,000 pipelined commands sent in one write, in order", async () => {
    const c = await client();
    const puts = Array.from({ length: 500 }, (_, i) => `PUT shopping p${i} v${i}\r\n`).join("");
    const gets = Array.from({ length: 500 }, (_, i) => `GET shopping p${i}\r\n`).join("");
    const expected = "OK\r\n".repeat(500) + Array.from({ length: 500 }, (_, i) => `v${i}\r\nOK\r\n`).join("");
    await expectReply(c, puts + gets, expected);
  });

  it("a client that sends and does not read is pushed back, then answered in order; others are served meanwhile", async () => {
    const c = await client();
    c.socket.pause(); // reads nothing: the server's replies pile up until it stops reading
    const count = 300_000;
    c.socket.write("PING\r\n".repeat(count));
    await expectReply(await client(), "PING\r\n", "PONG\r\n");
    c.socket.resume();
    const all = await c.waitFor(count * 6);
    assert.equal(all.length, count * 6);
    assert.ok(all.equals(Buffer.from("PONG\r\n".repeat(count))));
  });

  it("takes a line of exactly 64 KiB; one byte more is ERROR LINE TOO LONG and the connection closes", async () => {
    const c = await client();
    const head = "PUT shopping big ";
    const value = "x".repeat(MAX_LINE - head.length);
    await expectReply(c, `${head}${value}\r\n`, "OK\r\n");
    await expectReply(c, "GET shopping big\r\n", `${value}\r\nOK\r\n`);
    const long = await client();
    await expectReply(long, "PING\r\n", "PONG\r\n");
    long.socket.write(`${head}${value}y\r\nPING\r\n`);
    await long.closedByServer();
    assert.equal(long.received().toString("latin1"), "PONG\r\nERROR LINE TOO LONG\r\n");
    // Without any line end at all, the refusal comes once the line is known to be too long.
    const endless = await client();
    endless.socket.write("x".repeat(MAX_LINE + 2));
    await endless.closedByServer();
    assert.equal(endless.received().toString("latin1"), "ERROR LINE TOO LONG\r\n");
    await expectReply(c, "GET shopping big\r\n", `${value}\r\nOK\r\n`);
  });

  it("binary garbage is UNKNOWN COMMAND on that connection only; a binary value comes back byte for byte", async () => {
    const other = await client();
    const c = await client();
    const garbage = randomBytes(8192).map((byte) => (byte === 0x0a ? 0x00 : byte));
    await expectReply(c, Buffer.concat([garbage, Buffer.from("\r\n")]), "UNKNOWN COMMAND\r\n");
    await expectReply(other, "PING\r\n", "PONG\r\n");
    const value = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41, 0xc3]); // not UTF-8, no space, CR or LF
    await expectReply(c, Buffer.concat([Buffer.from("PUT shopping bin "), value, Buffer.from("\r\n")]), "OK\r\n");
    const got = await c.exchange("GET shopping bin\r\n", value.length + 6);
    assert.deepEqual(Buffer.from(got, "latin1"), Buffer.concat([value, Buffer.from("\r\nOK\r\n")]));
    const viaHttp = await api(node, "GET", "/kv/shopping/keys/bin");
    assert.deepEqual([viaHttp.body.kind, viaHttp.body.value], ["bytes", value.toString("base64")]);
    // A key must be text: bytes that are not UTF-8 are a bad request, and the connection stays.
    await expectReply(c, Buffer.from([0x47, 0x45, 0x54, 0x20, ...Buffer.from("shopping "), 0xff, 0x0d, 0x0a]), "ERROR bad_request\r\n");
    await expectReply(c, "PING\r\n", "PONG\r\n");
  });

  it("a client vanishing mid-line runs nothing and disturbs no other client", async () => {
    const steady = await client();
    await expectReply(steady, "PUT shopping steady 0\r\n", "OK\r\n");
    const gone = await client();
    gone.socket.write("PUT shopping half-written some-val");
    const reset = await client();
    reset.socket.write("PUT shopping half-reset some-val");
    await expectReply(steady, "GET shopping steady\r\n", "0\r\nOK\r\n");
    gone.socket.end(); // the line never ends
    reset.socket.resetAndDestroy();
    for (let i = 1; i <= 20; i++) await expectReply(steady, `PUT shopping steady ${i}\r\nGET shopping steady\r\n`, `OK\r\n${i}\r\nOK\r\n`);
    await gone.closedByServer();
    await expectReply(steady, "GET shopping half-written\r\nGET shopping half-reset\r\n", "\r\nOK\r\n\r\nOK\r\n");
  });

  it("serves many clients at once, each answered in its own order", async () => {
    const clients = await Promise.all(Array.from({ length: 100 }, () => client()));
    await Promise.all(
      clients.map(async (c, n) => {
        for (let i = 0; i < 10; i++) {
          await expectReply(c, `PUT shopping many-${n} ${n}-${i}\r\nGET shopping many-${n}\r\n`, `OK\r\n${n}-${i}\r\nOK\r\n`);
        }
      }),
    );
    for (const c of clients) c.close();
  });

  it("a store error is ERROR <code>, and the connection stays", async () => {
    // A node of its own with a short lock timeout: the test holds the KV sequence's lock past it.
    const own = await startKvNode(backend, ["--db-lock-timeout-ms", "300", "--db-statement-timeout-ms", "5000"]);
    try {
      const locked = await kvConnect(own.port);
      await expectReply(locked, "CREATE shopping\r\nPUT shopping locked 1\r\n", "OK\r\nOK\r\n");
      const release = await holdKvWriteLock(backend, own.db);
      try {
        await expectReply(locked, "PUT shopping locked 2\r\n", "ERROR unavailable\r\n");
        await expectReply(locked, "PING\r\n", "PONG\r\n");
      } finally {
        await release();
      }
      await expectReply(locked, "PUT shopping locked 3\r\nGET shopping locked\r\n", "OK\r\n3\r\nOK\r\n");
      locked.close();
    } finally {
      await stopNode(own.node, own.cleanup);
    }
    const c = await client();
    // Input the store refuses is a store error too: a key over 512 bytes, a bucket name it does not take.
    await expectReply(c, `GET shopping ${"k".repeat(513)}\r\n`, "ERROR too_large\r\n");
    await expectReply(c, "CREATE Not_A_Bucket\r\n", "ERROR bad_request\r\n");
    await expectReply(c, "PING\r\n", "PONG\r\n");
  });

  it("values: text here is a JSON string over HTTP; JSON from HTTP is its text here; a line break cannot be sent", async () => {
    const c = await client();
    await expectReply(c, "PUT shopping word héllo\r\n", "OK\r\n");
    const word = await api(node, "GET", "/kv/shopping/keys/word");
    assert.deepEqual([word.body.kind, word.body.value], ["json", "héllo"]);
    await api(node, "PUT", "/kv/shopping/keys/n", { value: 3 });
    await api(node, "PUT", "/kv/shopping/keys/obj", { value: { a: [1, "b c"] } });
    await api(node, "PUT", "/kv/shopping/keys/spaced", { value: "two words" });
    await api(node, "PUT", "/kv/shopping/keys/lines", { value: "two\nlines" });
    await expectReply(c, "GET shopping n\r\n", "3\r\nOK\r\n");
    await expectReply(c, "GET shopping obj\r\n", '{"a":[1,"b c"]}\r\nOK\r\n');
    await expectReply(c, "GET shopping spaced\r\n", "two words\r\nOK\r\n");
    await expectReply(c, "GET shopping lines\r\n", "ERROR bad_request\r\n");
    await expectReply(c, "GET shopping word\r\n", `${Buffer.from("héllo").toString("latin1")}\r\nOK\r\n`);
  });

  it("GETs go through the node's read cache", async () => {
    const c = await client();
    await expectReply(c, "PUT shopping hot 1\r\nGET shopping hot\r\n", "OK\r\n1\r\nOK\r\n");
    const hits = async () => ((await api(node, "GET", "/status")).body.kvCache?.hits as number) ?? 0;
    // Once the node's feed has applied the put (it evicts the key once more), GETs hit.
    await eventually("two GETs answered from the cache", async () => {
      const before = await hits();
      await expectReply(c, "GET shopping hot\r\nGET shopping hot\r\n", "1\r\nOK\r\n1\r\nOK\r\n");
      return (await hits()) >= before + 2;
    });
  });
});

/** Take the KV sequence's counter row lock in another session, as a concurrent writer would hold it. */
async function holdKvWriteLock(backend: TestBackend, db: string): Promise<() => Promise<void>> {
  if (backend.name === "sqlite") {
    const file = new Database(db);
    file.exec("BEGIN IMMEDIATE");
    return async () => {
      file.exec("ROLLBACK");
      file.close();
    };
  }
  const session = new pg.Client({ connectionString: db });
  await session.connect();
  await session.query("BEGIN");
  await session.query("UPDATE counters SET value = value WHERE name = 'kv'");
  return async () => {
    await session.query("ROLLBACK");
    await session.end();
  };
}

describe("KV TCP server limits and refusals", { skip: skipUnless("sqlite") }, () => {
  const sqlite = () => BACKENDS.find((backend) => backend.name === "sqlite") as TestBackend;

  it("refuses a client past --kv-max-connections clearly; the others keep working", async () => {
    const { node, port, cleanup } = await startKvNode(sqlite(), ["--kv-max-connections", "2"]);
    try {
      const a = await kvConnect(port);
      const b = await kvConnect(port);
      await expectReply(a, "PING\r\n", "PONG\r\n");
      await expectReply(b, "PING\r\n", "PONG\r\n");
      const refused = await kvConnect(port);
      await refused.closedByServer();
      assert.equal(refused.received().toString("latin1"), "ERROR TOO MANY CONNECTIONS\r\n");
      await expectReply(a, "PING\r\n", "PONG\r\n");
      b.close();
      await eventually("a freed place is taken by a new client", async () => {
        const next = await kvConnect(port);
        const reply = await next.exchange("PING\r\n", 6);
        next.close();
        return reply === "PONG\r\n";
      });
      a.close();
    } finally {
      await stopNode(node, cleanup);
    }
  });

  it("refuses --kv-port on a non-loopback --host unless --kv-allow-remote is given", async () => {
    const { db, cleanup } = await sqlite().createDb();
    try {
      await assert.rejects(serve(db, tempDir("lively-kv-tcp-"), ["--kv-port", "0", "--host", "0.0.0.0"]), (error: Error) => {
        assert.match(error.message, /no authentication/);
        assert.match(error.message, /--kv-allow-remote/);
        return true;
      });
      await assert.rejects(serve(db, tempDir("lively-kv-tcp-"), ["--kv-allow-remote"]), /only means something with --kv-port/);
      await assert.rejects(serve(db, tempDir("lively-kv-tcp-"), ["--kv-port", "70000"]), /--kv-port must be 0-65535/);
    } finally {
      await cleanup();
    }
  });

  it("on SIGTERM the node answers what clients sent, closes their connections and exits 0", async () => {
    const { db, cleanup } = await sqlite().createDb();
    const node = await serve(db, tempDir("lively-kv-tcp-"), ["--kv-port", "0"]);
    try {
      const idle = await kvConnect(node.ready.kvPort);
      const busy = await kvConnect(node.ready.kvPort);
      await expectReply(busy, "CREATE shopping\r\n", "OK\r\n");
      busy.socket.write("PUT shopping last 1\r\n");
      node.child.kill("SIGTERM");
      await Promise.all([idle.closedByServer(), busy.closedByServer()]);
      assert.equal(await exited(node.child), 0, node.stderr());
      const replies = busy.received().toString("latin1");
      assert.ok(
        replies === "OK\r\nOK\r\n" || replies === "OK\r\n",
        `a command is answered or not run, never cut: ${JSON.stringify(replies)}`,
      );
    } finally {
      node.child.kill("SIGKILL");
      await cleanup();
    }
  });
});
