/**
 * The `lively` executable as users start it: `node bin/lively.js …` or the shebang, without
 * --no-node-snapshot. Only `serve` restarts itself with that flag (isolated-vm needs it); the
 * other commands run in the first process and load only the CLI, never the node, whose code
 * the build puts in chunks that `serve` imports on demand.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { buildProgram, run } from "../src/cli/main.ts";
import { LIVELY_VERSION } from "../src/version.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { BIN, exited } from "./helpers/serve-process.ts";

const DIST_ENTRY = join(dirname(BIN), "..", "dist", "cli.js");

/** The npm packages `file` and the chunks it statically imports load, recursively. */
function packagesLoadedBy(file: string, seen = new Set<string>()): Set<string> {
  const packages = new Set<string>();
  if (seen.has(file)) return packages;
  seen.add(file);
  // esbuild writes static imports as `import … from "x";` (or `import "x";`) at the top of a line.
  for (const [, specifier] of readFileSync(file, "utf8").matchAll(/^import\s(?:[^"';]*?\sfrom\s)?"([^"]+)";?$/gms)) {
    if (specifier === undefined || specifier.startsWith("node:")) continue;
    if (specifier.startsWith(".")) for (const name of packagesLoadedBy(resolve(dirname(file), specifier), seen)) packages.add(name);
    else packages.add(specifier);
  }
  return packages;
}

describe("bin/lively.js", () => {
  it("answers --version and --help in one process, without --no-node-snapshot", async () => {
    // The bin answers --version without loading commander: the same bytes commander prints.
    let printed = "";
    const io = { stdout: (text: string) => (printed += text), stderr: () => undefined, env: {}, cwd: process.cwd() };
    assert.equal(await run(["--version"], io), 0);
    for (const flag of ["--version", "-V"]) {
      const version = spawnSync(process.execPath, [BIN, flag], { encoding: "utf8" });
      assert.equal(version.status, 0, version.stderr);
      assert.equal(version.stdout, printed);
      assert.equal(version.stdout, `${LIVELY_VERSION}\n`);
    }
    const help = spawnSync(process.execPath, [BIN, "--help"], { encoding: "utf8" });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: lively \[options\] \[command\]/);
    assert.match(help.stdout, /\n {2}serve \[options\] +start a node/);
  });

  it("--help lists the commands as the full program does, though it declares none of their own options", async () => {
    const io = () => {
      const printed = { text: "" };
      return { printed, io: { stdout: (t: string) => (printed.text += t), stderr: () => undefined, env: {}, cwd: process.cwd() } };
    };
    const full = buildProgram(io().io, () => undefined).helpInformation();
    for (const argv of [["--help"], ["-h"], ["-h", "ls"]]) {
      const { printed, io: captured } = io();
      assert.equal(await run(argv, captured), 0);
      assert.equal(printed.text, full, argv.join(" "));
    }
  });

  it("loads no npm package for a command other than serve (commander is bundled in; the node is in chunks serve imports)", () => {
    assert.deepEqual([...packagesLoadedBy(DIST_ENTRY)], []);
  });

  it("every command but serve runs from the CommonJS build, which loads no npm package and none of the node's code", () => {
    const commands = join(dirname(DIST_ENTRY), "cli-commands.cjs");
    const probe = spawnSync(
      process.execPath,
      ["-e", `require(${JSON.stringify(commands)}); console.log(JSON.stringify(Object.keys(require.cache)))`],
      { encoding: "utf8" },
    );
    assert.equal(probe.status, 0, probe.stderr);
    const loaded = JSON.parse(probe.stdout) as string[];
    assert.deepEqual(loaded, [commands], "only the bundle itself");
    assert.doesNotMatch(readFileSync(commands, "utf8"), /async function startNode\(/, "the node's code is not in it");
  });

  it("serve restarts itself with --no-node-snapshot, serves, and stops on one SIGTERM to the process it started as", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "lively-bin-"));
    try {
      const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data-dir", dataDir, "--json"], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, LIVELY_LOG_LEVEL: "silent" },
      });
      let stderr = "";
      child.stderr?.on("data", (chunk) => {
        stderr += chunk;
      });
      const line = await settlesWithin(
        "serve's ready line",
        new Promise<string>((done, fail) => {
          createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", done);
          child.once("exit", (code) => fail(new Error(`serve exited ${code}: ${stderr}`)));
        }),
      );
      const { url } = JSON.parse(line) as { url: string };
      // A module runs: the process serving it has isolates, so it was started with the flag.
      const token = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
      const deployed = await fetch(`${url}/_lively/api/v1/modules/hi/versions`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ code: "export default { fetch() { return new Response('hi') } }" }),
      });
      assert.equal(deployed.status, 201);
      assert.equal(await (await fetch(`${url}/hi/`)).text(), "hi");
      child.kill("SIGTERM");
      // 0: it closed gracefully; a signal delivered twice would have made it exit at once with 130.
      assert.equal(await settlesWithin("serve's exit after SIGTERM", exited(child)), 0, stderr);
      await assert.rejects(fetch(`${url}/_lively/health`), "the node behind the first process is gone too");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("a serve whose first process is killed outright (SIGKILL) stops too: no orphan keeps the port", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "lively-bin-"));
    try {
      const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data-dir", dataDir, "--json"], {
        stdio: ["ignore", "pipe", "ignore"],
        env: { ...process.env, LIVELY_LOG_LEVEL: "silent" },
      });
      const line = await settlesWithin(
        "serve's ready line",
        new Promise<string>((done) => createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", done)),
      );
      const { url } = JSON.parse(line) as { url: string };
      assert.equal((await fetch(`${url}/_lively/health`)).status, 200);
      child.kill("SIGKILL");
      await exited(child);
      // On Node 20 the node is a child of the killed process (on 22.15+ it is that process).
      await eventually(
        "the node behind the killed process stops serving",
        async () => {
          try {
            await fetch(`${url}/_lively/health`);
            return false;
          } catch {
            return true;
          }
        },
        30_000,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
