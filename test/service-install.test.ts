/**
 * `lively service install`: the unit runs this build's serve with --no-node-snapshot, keeps the
 * database URL out of the world-readable unit (a 0600 environment file), refuses to overwrite
 * without --force, and refuses bad names. Files go to a temp dir (--output, --env-file).
 */
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "./helpers/cli.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

describe("lively service install", () => {
  let dir: string;
  const lively = (argv: string[]) => runCli({ url: "http://127.0.0.1:9", token: "unused", cwd: dir }, argv);
  before(() => {
    dir = tempDir("lively-service-");
  });
  after(() => removeTempDir(dir));

  it("writes a unit that runs serve, and the database URL only to a 0600 environment file", async () => {
    const unitPath = join(dir, "lively.service");
    const envPath = join(dir, "env", "lively.env");
    const secret = "postgres://lively:s3cret%20pw@db:5432/lively";
    const done = await lively([
      "service",
      "install",
      "--output",
      unitPath,
      "--env-file",
      envPath,
      "--db",
      secret,
      "--port",
      "8081",
      "--data-dir",
      "data",
      "--user",
      "lively",
    ]);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /next: systemctl daemon-reload && systemctl enable --now lively/);
    assert.ok(!done.stdout.includes("s3cret"), "the secret is not printed");
    const unit = readFileSync(unitPath, "utf8");
    assert.match(
      unit,
      new RegExp(
        `^ExecStart=${process.execPath} --no-node-snapshot \\S+/bin/lively\\.js serve --data-dir ${join(dir, "data")} --port 8081$`,
        "m",
      ),
    );
    assert.match(unit, /^KillMode=mixed$/m);
    assert.match(unit, /^User=lively$/m);
    assert.match(unit, new RegExp(`^EnvironmentFile=-${envPath}$`, "m"));
    assert.ok(!unit.includes("s3cret"), "no secret in the unit");
    assert.equal(readFileSync(envPath, "utf8"), `LIVELY_DB="${secret}"\n`);
    assert.equal(statSync(envPath).mode & 0o777, 0o600);

    const again = await lively(["service", "install", "--output", unitPath, "--env-file", envPath, "--db", secret]);
    assert.equal(again.code, 3, "exists: a conflict");
    assert.match(again.stderr, /exists already; nothing was written \(--force replaces it\)/);
    writeFileSync(envPath, "old", { mode: 0o644 });
    const forced = await lively(["service", "install", "--output", unitPath, "--env-file", envPath, "--db", secret, "--force", "--json"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(forced.json(), { unit: unitPath, envFile: envPath, written: true });
    assert.equal(statSync(envPath).mode & 0o777, 0o600, "a replaced environment file is narrowed to 0600");
  });

  it("--dry-run prints the unit and writes nothing; bad input is exit 2", async () => {
    const unitPath = join(dir, "dry.service");
    const dry = await lively(["service", "install", "--dry-run", "--output", unitPath]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^\[Service\]$/m);
    assert.throws(() => statSync(unitPath));
    for (const bad of [
      ["--name", "a b"],
      ["--user", "Root!"],
      ["--port", "70000"],
      ["--stop-timeout", "0"],
      ["--db", "a\nb"],
    ]) {
      const refused = await lively(["service", "install", "--dry-run", ...bad]);
      assert.equal(refused.code, 2, `${bad.join(" ")}: ${refused.stderr}`);
    }
  });
});
