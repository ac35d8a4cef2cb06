/**
 * `npm run release` (scripts/release.ts) end to end, on its fast path (--reuse-node-modules: the
 * production packages copied from this checkout's node_modules, built for the Node running this
 * test, rather than a fresh `npm ci --omit=dev`). The .deb is checked with dpkg-deb and unpacked
 * into a temp folder with `dpkg-deb -x`, never installed: the machine is shared, and `dpkg -i`
 * would add a system user and hold the dpkg lock. From the unpacked tree, the packaged
 * /usr/bin/lively answers --version and runs a real `serve` whose health answers over HTTP.
 * (A real `dpkg -i`, the node serving as the `lively` user, `dpkg -r` keeping /var/lib/lively and
 * `dpkg -P` leaving nothing, user included, was checked by hand on Debian 12 with the full build.)
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { before, describe, it } from "node:test";
import { exited } from "./helpers/serve-process.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NODE_MAJOR = Number(process.versions.node.split(".")[0]);
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
// The packaged wrapper runs `node` from PATH: the one running this test, whose ABI the natives match.
const ENV = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`, LIVELY_LOG_LEVEL: "silent" };

function release(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "release.ts"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: ENV,
  });
}

describe("npm run release", () => {
  let out = "";
  let built: { tarball: string; deb: string; node: number };
  let root = "";

  before(() => {
    out = tempDir("lively-release-");
    const result = release(["--reuse-node-modules", "--out", out]);
    assert.equal(result.status, 0, result.stderr);
    built = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "");
    root = join(out, "root");
    execFileSync("dpkg-deb", ["-x", built.deb, root]);
  });

  it("names the Node ABI and platform the natives are built for", () => {
    assert.equal(built.node, NODE_MAJOR);
    assert.equal(built.tarball, join(out, `lively-${VERSION}-linux-x64-node${NODE_MAJOR}.tar.gz`));
    assert.equal(built.deb, join(out, `lively_${VERSION}_node${NODE_MAJOR}_amd64.deb`));
  });

  it("refuses options it does not know, and --out without a folder", () => {
    const unknown = release(["--fast"]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown option "--fast"/);
    const bare = release(["--out"]);
    assert.equal(bare.status, 2);
    assert.match(bare.stderr, /--out takes a directory/);
  });

  it("writes a control file that depends on that Node major alone, and maintainer scripts", () => {
    const field = (name: string) => execFileSync("dpkg-deb", ["-f", built.deb, name], { encoding: "utf8" }).trim();
    assert.equal(field("Package"), "lively");
    assert.equal(field("Version"), VERSION);
    assert.equal(field("Architecture"), "amd64");
    assert.equal(field("Depends"), `nodejs (>= ${NODE_MAJOR}), nodejs (<< ${NODE_MAJOR + 1})`);
    const control = join(out, "control");
    execFileSync("dpkg-deb", ["-e", built.deb, control]);
    assert.equal(readFileSync(join(control, "conffiles"), "utf8"), "/etc/lively/lively.env\n");
    for (const script of ["postinst", "prerm", "postrm"]) {
      assert.equal(statSync(join(control, script)).mode & 0o777, 0o755, script);
      assert.equal(spawnSync("sh", ["-n", join(control, script)]).status, 0, `${script} parses`);
    }
    const postinst = readFileSync(join(control, "postinst"), "utf8");
    assert.match(postinst, /chown lively:lively \/var\/lib\/lively/);
    assert.doesNotMatch(postinst, /systemctl (enable|start)/, "installing never starts the service");
  });

  it("installs the unit `lively service install` writes, for /usr/lib/lively and the lively user", () => {
    const unit = readFileSync(join(root, "lib/systemd/system/lively.service"), "utf8");
    assert.match(
      unit,
      /^ExecStart=\/usr\/bin\/node --no-node-snapshot \/usr\/lib\/lively\/bin\/lively\.js serve --data-dir \/var\/lib\/lively$/m,
    );
    assert.match(unit, /^User=lively$/m);
    assert.match(unit, /^# Written by the lively Debian package/);
    assert.match(unit, /^EnvironmentFile=-\/etc\/lively\/lively\.env$/m);
    // The environment file may come to hold a database password: 0600 in the archive already.
    const listing = execFileSync("dpkg-deb", ["-c", built.deb], { encoding: "utf8" });
    assert.match(listing, /^-rw------- root\/root .* \.\/etc\/lively\/lively\.env$/m);
  });

  it("ships production packages only, natives loadable by this Node", () => {
    const lib = join(root, "usr/lib/lively");
    for (const dev of ["typescript", "tsx", "@biomejs/biome", "pm2"]) assert.ok(!existsSync(join(lib, "node_modules", dev)), dev);
    const probe = `
      const db = require("better-sqlite3")(":memory:");
      const ivm = ["isolated-vm-node22", "isolated-vm-node20"].map((n) => { try { return require(n); } catch { return undefined; } }).find(Boolean);
      const isolate = new ivm.Isolate({ memoryLimit: 16 });
      const sum = isolate.compileScriptSync("20 + 22").runSync(isolate.createContextSync());
      console.log(db.prepare("select 1 as one").get().one + sum);`;
    const result = spawnSync(process.execPath, ["--no-node-snapshot", "-e", probe], { cwd: lib, encoding: "utf8" });
    assert.equal(result.stdout.trim(), "43", result.stderr);
  });

  it("runs: the packaged lively answers --version and serves its health over HTTP", async () => {
    const lively = join(root, "usr/bin/lively");
    assert.equal(execFileSync(lively, ["--version"], { encoding: "utf8", env: ENV }).trim(), VERSION);
    const dataDir = tempDir("lively-release-data-");
    const child = spawn(lively, ["serve", "--port", "0", "--data-dir", dataDir, "--json"], { stdio: ["ignore", "pipe", "pipe"], env: ENV });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    try {
      const line = await new Promise<string>((done, fail) => {
        createInterface({ input: child.stdout }).once("line", done);
        child.once("exit", (code) => fail(new Error(`serve exited ${code}: ${stderr}`)));
      });
      const { url } = JSON.parse(line) as { url: string };
      const health = await fetch(`${url}/_lively/health`);
      assert.equal(health.status, 200);
      assert.ok(existsSync(join(dataDir, "lively.db")), "the node keeps its SQLite database in its data dir");
    } finally {
      child.kill("SIGTERM");
      assert.equal(await exited(child), 0, stderr);
    }
  });

  it("packs the same app into the tarball", () => {
    const unpacked = tempDir("lively-release-tar-");
    execFileSync("tar", ["-xzf", built.tarball, "-C", unpacked]);
    const app = join(unpacked, `lively-${VERSION}-linux-x64-node${NODE_MAJOR}`);
    const version = execFileSync(process.execPath, [join(app, "bin/lively.js"), "--version"], { encoding: "utf8" });
    assert.equal(version.trim(), VERSION);
    assert.ok(existsSync(join(app, "node_modules/better-sqlite3/package.json")));
    assert.equal((JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { scripts?: unknown }).scripts, undefined);
  });
});
