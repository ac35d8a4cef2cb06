/**
 * Forms over real HTTP: a Hono app (test/fixtures/forms-app, bundled from the installed `hono`
 * by `lively deploy DIR`) reads a multipart upload of two files and an urlencoded form that
 * Node's own FormData and fetch send, answers a FormData that Node's reader reads, and sends a
 * FormData and a Blob with its own fetch to an upstream on loopback, reading its multipart answer. A malformed multipart body
 * is the module's own 400 when it catches the TypeError, and a 500 when it does not, and the
 * node serves on.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

/** An upstream that reads what it is sent with Node's own Request (undici) and answers what it found. */
async function startFormUpstream(): Promise<{ origin: string; server: Server }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      const type = request.headers["content-type"] ?? "";
      const body = Buffer.concat(chunks);
      let answer: unknown = { type, text: body.toString() };
      if (request.url === "/answer") {
        const form = new FormData();
        form.append("from", "upstream");
        form.append("report", new File(["upstream's file"], "report.txt", { type: "text/plain" }));
        const made = new Response(form);
        const headers = { "content-type": made.headers.get("content-type") as string };
        response.writeHead(200, headers).end(Buffer.from(await made.arrayBuffer()));
        return;
      }
      if (request.url === "/form") {
        const form = await new Request("http://upstream/", { method: "POST", body, headers: { "content-type": type } }).formData();
        const entries: unknown[] = [];
        for (const [name, value] of form)
          entries.push(typeof value === "string" ? [name, value] : [name, value.name, value.type, await value.text()]);
        answer = { multipart: type.startsWith("multipart/form-data; boundary="), entries };
      }
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("forms over HTTP", () => {
  let t: TestNode;
  let upstream: Awaited<ReturnType<typeof startFormUpstream>>;

  before(async () => {
    upstream = await startFormUpstream();
    t = await startTestNode(BACKENDS[0], { sandboxLimits: { memoryMb: 64, cpuMs: 1000, wallMs: 5000 } });
    const deployed = await runCli({ url: t.url, token: t.adminToken }, ["deploy", "test/fixtures/forms-app", "--name", "forms"]);
    assert.equal(deployed.code, 0, deployed.stderr);
    const opened = await t.api("POST", "/network/allow", { body: { range: "127.0.0.0/8", note: "the test's upstream" } });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    const allowed = await t.api("PATCH", "/modules/forms/config", { body: { fetchAllow: [upstream.origin.replace("http://", "")] } });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
  });
  after(async () => {
    await t?.close();
    upstream?.server.close();
  });

  it("reads a multipart upload of two files and a field sent by Node's FormData: names, sizes, types and contents", async () => {
    const binary = new Uint8Array(70_000).map((_, i) => (i * 31) % 256);
    const form = new FormData();
    form.append("title", "two files, ü");
    form.append("doc", new File(["first file\r\nwith lines\n"], "doc.txt", { type: "text/plain" }));
    form.append("image", new Blob([binary], { type: "image/png" }), "pixels.png");
    const response = await fetch(`${t.url}/forms/read`, { method: "POST", body: form });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), [
      { name: "title", value: "two files, ü" },
      {
        name: "doc",
        filename: "doc.txt",
        type: "text/plain",
        size: 23,
        sha256: sha256("first file\r\nwith lines\n"),
        text: "first file\r\nwith lines\n",
      },
      { name: "image", filename: "pixels.png", type: "image/png", size: 70_000, sha256: sha256(binary), text: null },
    ]);
  });

  it("reads an urlencoded form, also through Hono's parseBody", async () => {
    const body = new URLSearchParams([
      ["name", "Ada Lovelace"],
      ["tag", "a&b=c"],
      ["tag", "ü"],
    ]);
    const read = await fetch(`${t.url}/forms/read`, { method: "POST", body });
    assert.deepEqual(await read.json(), [
      { name: "name", value: "Ada Lovelace" },
      { name: "tag", value: "a&b=c" },
      { name: "tag", value: "ü" },
    ]);
    const hono = await fetch(`${t.url}/forms/hono`, { method: "POST", body });
    assert.deepEqual(await hono.json(), { name: "Ada Lovelace", tag: ["a&b=c", "ü"] });
    const form = new FormData();
    form.append("file", new File(["abc"], "a.txt"));
    const honoFile = await fetch(`${t.url}/forms/hono`, { method: "POST", body: form });
    assert.deepEqual(await honoFile.json(), { file: "file a.txt (3)" });
  });

  it("request.blob() carries the content-type", async () => {
    const response = await fetch(`${t.url}/forms/blob`, { method: "POST", body: "<svg/>", headers: { "content-type": "image/svg+xml" } });
    assert.deepEqual(await response.json(), { type: "image/svg+xml", size: 6, text: "<svg/>" });
  });

  it("answers a FormData body that Node's own reader reads", async () => {
    const response = await fetch(`${t.url}/forms/made`);
    assert.match(response.headers.get("content-type") ?? "", /^multipart\/form-data; boundary=/);
    const form = await response.formData();
    const data = form.get("data") as File;
    const notes = form.get("notes") as File;
    assert.equal(form.get("greeting"), "hello");
    assert.deepEqual(
      [data.name, data.type, [...new Uint8Array(await data.arrayBuffer())]],
      ["data.bin", "application/octet-stream", [0, 1, 2, 3]],
    );
    assert.deepEqual([notes.name, notes.type, await notes.text()], ["notes.txt", "text/plain", "some notes"]);
  });

  it("sends a FormData (multipart, boundary in the content-type) and a Blob (its type as content-type) with fetch, and reads a multipart answer", async () => {
    const response = await fetch(`${t.url}/forms/send?to=${encodeURIComponent(upstream.origin)}`);
    assert.deepEqual(await response.json(), {
      form: {
        multipart: true,
        entries: [
          ["from", "module"],
          ["upload", "up.txt", "text/plain", "uploaded by the module"],
        ],
      },
      blob: { type: "application/json", text: "{}" },
      answered: [
        { name: "from", value: "upstream" },
        {
          name: "report",
          filename: "report.txt",
          type: "text/plain",
          size: 15,
          sha256: sha256("upstream's file"),
          text: "upstream's file",
        },
      ],
    });
  });

  it("a malformed multipart body: the module's own 400 when it catches the TypeError, a 500 when it does not; the node serves on", async () => {
    const malformed = {
      method: "POST",
      body: '--cut\r\nContent-Disposition: form-data; name="a"\r\n\r\nno closing boundary',
      headers: { "content-type": "multipart/form-data; boundary=cut" },
    };
    const checked = await fetch(`${t.url}/forms/checked`, malformed);
    assert.equal(checked.status, 400);
    assert.deepEqual(await checked.json(), {
      refused: "The multipart/form-data body is malformed: a part is not followed by a boundary (the body was cut short?)",
    });
    const noBoundary = await fetch(`${t.url}/forms/checked`, { ...malformed, headers: { "content-type": "multipart/form-data" } });
    assert.equal(noBoundary.status, 400);
    assert.match(((await noBoundary.json()) as { refused: string }).refused, /has no boundary parameter/);

    const unchecked = await fetch(`${t.url}/forms/unchecked`, malformed);
    assert.equal(unchecked.status, 500);
    assert.equal(unchecked.headers.get("x-lively-error"), "module-error");
    await unchecked.arrayBuffer();

    const form = new FormData();
    form.append("still", "serving");
    assert.deepEqual(await (await fetch(`${t.url}/forms/read`, { method: "POST", body: form })).json(), [
      { name: "still", value: "serving" },
    ]);
  });
});
