/** The appliance config shape (src/appliances/config.ts): what it takes, and each refusal named. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseApplianceConfig } from "../src/appliances/config.ts";
import { LivelyError } from "../src/errors.ts";

function refusal(input: unknown): LivelyError {
  try {
    parseApplianceConfig(input);
  } catch (error) {
    assert.ok(error instanceof LivelyError && error.code === "bad_request", String(error));
    return error;
  }
  assert.fail(`accepted: ${JSON.stringify(input)}`);
}

describe("appliance config", () => {
  it("takes every runner's fields, hooks and readiness", () => {
    const web = {
      name: "web",
      cmd: "node server.js",
      env: { PORT: "8080" },
      depends: ["db"],
      restart: "transient",
      grace: 2.5,
      readiness: { kind: "http", url: "http://127.0.0.1:8080/health" },
      hooks: { crash: [{ http: "https://alerts.example.com/x" }, { shell: "echo crashed" }], ready: [{ module: "ops", fn: "note" }] },
      settings: { backoffBaseMs: 500 },
    };
    assert.deepEqual(parseApplianceConfig(web), web);
    assert.equal(
      parseApplianceConfig({ name: "box", runner: "docker", image: "localhost/lively-busybox:1", ports: ["8080:80"] }).image,
      "localhost/lively-busybox:1",
    );
    assert.equal(parseApplianceConfig({ name: "job", runner: "module", module: "worker" }).module, "worker");
    assert.equal(parseApplianceConfig({ name: "group", runner: "void" }).runner, "void");
  });

  it("refuses unknown keys by name, a runner's missing or foreign fields, bad names and self-dependency", () => {
    assert.match(refusal({ name: "web", cmd: "x", colour: "red" }).message, /unknown key "colour"/);
    assert.match(refusal({ name: "web", cmd: "x", settings: { graceMs: 5, bogus: 1 } }).message, /settings: unknown key "bogus"/);
    assert.match(refusal({ name: "web", cmd: "x", hooks: { explode: [] } }).message, /hooks/);
    assert.match(refusal({ name: "web", runner: "docker" }).message, /docker runner needs "image"/);
    assert.match(refusal({ name: "web", runner: "void", cmd: "x" }).message, /void runner does not take "cmd"/);
    assert.match(refusal({ name: "-web", cmd: "x" }).message, /name/);
    assert.match(refusal({ name: "web", cmd: "x", depends: ["web"] }).message, /depends on itself/);
    assert.match(refusal({ name: "web", cmd: "x", env: { "1X": "y" } }).message, /env/);
    assert.match(refusal({ name: "web", cmd: "x", restart: "always" }).message, /restart/);
    assert.match(refusal({ name: "web", cmd: "x", hooks: { crash: [{ http: "file:///etc/passwd" }] } }).message, /hooks/);
    assert.equal(refusal("web").details?.field, "");
  });
});
