/**
 * `lively app apply FILE` against a real node: a TOML file's appliances are created in dependency
 * order, applying it again changes nothing, an edit is a new version with its source line in the
 * history, a YAML file works the same, and a bad file is refused with its line before anything is
 * sent.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { FAST_APPLIANCES } from "./helpers/appliances.ts";
import { describeEachBackend } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

const TOML = (port: string) => `[_]
restart = "permanent"
env = { LOG_LEVEL = "info" }

[web]
cmd = "sleep 1000"
env = { PORT = "${port}" }
depends = ["db"]

[db]
cmd = "sleep 1000"
`;

describeEachBackend("lively app apply", (backend) => {
  let t: TestNode;
  let dir: string;
  const lively = (...argv: string[]) => runCli({ url: t.url, token: t.adminToken, cwd: dir }, argv);
  before(async () => {
    t = await startTestNode(backend, { node: { applianceDefaults: FAST_APPLIANCES } });
    dir = tempDir("lively-app-apply-");
  });
  after(async () => {
    await lively("app", "stop", "--all");
    await t.close();
    removeTempDir(dir);
  });

  it("creates a file's appliances in dependency order; again is unchanged; an edit is a new version from its line", async () => {
    writeFileSync(join(dir, "apps.toml"), TOML("8080"));
    const first = await lively("app", "apply", "apps.toml", "--json");
    assert.equal(first.code, 0, first.stderr);
    const applied = first.json() as { name: string; created: boolean; source: string }[];
    assert.deepEqual(
      applied.map((a) => [a.name, a.created, a.source]),
      [
        ["db", true, "apps.toml:10"],
        ["web", true, "apps.toml:5"],
      ],
      "db first: web depends on it",
    );
    await eventually("both run", async () => {
      const status = (await lively("app", "status", "--json")).json() as { name: string; state: string }[];
      return status.filter((s) => s.state === "ready").length === 2;
    });
    const again = await lively("app", "apply", "apps.toml");
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^db: unchanged \(version 1\)/m);
    assert.match(again.stdout, /^web: unchanged \(version 1\)/m);

    writeFileSync(join(dir, "apps.toml"), TOML("9090"));
    const edited = await lively("app", "apply", "apps.toml");
    assert.match(edited.stdout, /^web: upgraded to version 2 {2}apps\.toml:5$/m);
    // Each version keeps where it came from (docs/api.md: GET /apps/:name/versions).
    const versions = await t.api("GET", "/apps/web/versions");
    assert.match(JSON.stringify(versions.body), /"message":"from apps\.toml:5"/);
  });

  it("reads YAML the same; a bad file is refused with its line and nothing is sent", async () => {
    writeFileSync(join(dir, "more.yaml"), "cache:\n  cmd: sleep 1000\n  restart: transient\n");
    const yaml = await lively("app", "apply", "more.yaml");
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.match(yaml.stdout, /^cache: created \(version 1\) {2}more\.yaml:1$/m);

    writeFileSync(join(dir, "bad.toml"), '[ok]\ncmd = "sleep 1"\n\n[typo]\ncmd = "true"\ncolour = "red"\n');
    const bad = await lively("app", "apply", "bad.toml");
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /bad\.toml:6: unknown key "colour"/);
    const listed = (await lively("app", "status", "--json")).json() as { name: string }[];
    assert.ok(!listed.some((s) => s.name === "ok"), "nothing of the bad file was applied");

    writeFileSync(join(dir, "cycle.toml"), '[a]\ncmd = "true"\ndepends = ["b"]\n[b]\ncmd = "true"\ndepends = ["a"]\n');
    const cycle = await lively("app", "apply", "cycle.toml");
    assert.equal(cycle.code, 2);
    assert.match(cycle.stderr, /cycle/);
    assert.equal((await lively("app", "apply", "missing.toml")).code, 4);
  });
});
