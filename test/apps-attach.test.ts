/**
 * `lively app attach` and `POST /apps/:name/stdin` (docs/appliances.md): input sent to a shell
 * appliance running `cat` comes back in its output; the real `lively` executable, its stdin
 * piped, attaches, echoes, and detaches at the end of its input with the appliance still running;
 * a run without stdin (void) and a missing appliance are refused with a clear error.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, it } from "node:test";
import { FAST_APPLIANCES } from "./helpers/appliances.ts";
import { describeEachBackend } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { appCli } from "./helpers/node-apps.ts";
import { BIN } from "./helpers/serve-process.ts";

describeEachBackend("app attach", (backend) => {
  let t: TestNode;
  const { cli, status } = appCli(() => t);
  const logText = async (name: string) => JSON.stringify((await t.api("GET", `/apps/${name}/logs?lines=200`)).body);
  const running = async (name: string) => ["ready", "running"].includes((await status(name)).state);

  before(async () => {
    t = await startTestNode(backend, { node: { applianceDefaults: FAST_APPLIANCES } });
  });
  after(async () => {
    await t.close();
  });

  it("sends input to a shell appliance's stdin and shows what comes back", async () => {
    assert.equal((await cli("app", "create", "echoer", "--cmd", "exec cat")).code, 0);
    await eventually("echoer running", () => running("echoer"));
    const sent = await t.api("POST", "/apps/echoer/stdin", { body: { input: "through-the-api\n" } });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    await eventually("the line came back", async () => /through-the-api/.test(await logText("echoer")));

    const child = spawn(process.execPath, [BIN, "app", "attach", "echoer"], {
      env: { ...process.env, LIVELY_URL: t.url, LIVELY_TOKEN: t.adminToken },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    child.stdin.write("typed-at-the-terminal\n");
    await eventually("attach printed the echo", () => /typed-at-the-terminal/.test(output), 20_000);
    child.stdin.end(); // Ctrl-D
    assert.equal(await exited, 0, output);
    assert.ok(await running("echoer"), "detaching leaves it running");
    assert.equal((await cli("app", "rm", "echoer")).code, 0);
  });

  it("refuses input for a run without stdin and for a missing appliance", async () => {
    assert.equal((await cli("app", "create", "quiet", "--runner", "void")).code, 0);
    await eventually("quiet running", () => running("quiet"));
    const noStdin = await t.api("POST", "/apps/quiet/stdin", { body: { input: "x\n" } });
    assert.equal(noStdin.status, 400);
    assert.match(noStdin.body.error.message, /has no open stdin/);
    assert.equal((await t.api("POST", "/apps/nosuch/stdin", { body: { input: "x\n" } })).status, 404);
    assert.equal((await t.api("POST", "/apps/quiet/stdin", { body: { text: "x" } })).status, 400);
    const attach = await cli("app", "attach", "nosuch");
    assert.notEqual(attach.code, 0);
    assert.match(attach.stderr, /nosuch/);
    assert.equal((await cli("app", "rm", "quiet")).code, 0);
  });
});
