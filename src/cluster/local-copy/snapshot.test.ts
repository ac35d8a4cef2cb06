/**
 * The snapshot file comes back from disk, so it is input like any other: a round trip keeps
 * everything (fields a later build adds included), and a damaged, foreign or malformed file is
 * refused with the reason, never half believed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ModuleSettings } from "../../code/module-settings.ts";
import { sha256Hex } from "./artifact-files.ts";
import { decodeSnapshot, encodeSnapshot, type Snapshot } from "./snapshot.ts";

const SHA = sha256Hex("export default {}");

const snapshot: Snapshot = {
  store: "postgres://lively:***@db:5432/lively",
  writtenAt: "2026-11-23T12:00:00.000Z",
  index: {
    seq: 41,
    channels: {
      hello: { production: { version: 3, split: null }, beta: { version: 4, split: { version: 5, weight: 30 } } },
    },
    // Cast: settings gain fields over time (they pass through, which the first test checks).
    settings: {
      hello: {
        vars: { TOKEN: "secret" },
        limits: { cpuMs: 200, bodyMb: 2 },
        fetchAllow: ["api.example.com"],
        publicPins: false,
        privateChannels: ["beta"],
        seq: 40,
      } as ModuleSettings,
    },
    routes: [{ route: "/api", host: null, prefix: "/api", module: "hello", updatedSeq: 12 }],
    network: ["10.20.0.0/16"],
  },
  artifacts: { "hello@3": SHA, "hello@4": SHA },
};

/** A file with a correct checksum around any body, to reach the field checks. */
const sealed = (body: unknown) => {
  const text = JSON.stringify(body);
  return `lively-local-copy 1 ${sha256Hex(text)}\n${text}`;
};

describe("local copy snapshot", () => {
  it("round-trips, and carries fields it does not know", () => {
    const withExtra = structuredClone(snapshot) as Snapshot & { index: { settings: Record<string, { publicPins?: boolean }> } };
    (withExtra.index.settings.hello as { publicPins?: boolean }).publicPins = true;
    const decoded = decodeSnapshot(encodeSnapshot(withExtra));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.snapshot, withExtra);
  });

  const refused: [string, string, RegExp][] = [
    ["an empty file", "", /not a local-copy snapshot/],
    ["another file", "hello world\n{}", /not a local-copy snapshot/],
    ["another format", encodeSnapshot(snapshot).replace("lively-local-copy 1 ", "lively-local-copy 2 "), /format 2 is not 1/],
    ["a flipped byte", encodeSnapshot(snapshot).replace('"seq":41', '"seq":42'), /does not match its checksum/],
    ["a truncation", encodeSnapshot(snapshot).slice(0, -10), /does not match its checksum/],
    ["no body", "lively-local-copy 1 abc", /does not match its checksum/],
    ["a body that is not JSON", `lively-local-copy 1 ${sha256Hex("{")}\n{`, /not JSON/],
    ["a module name that is a path", sealed({ ...snapshot, index: { ...snapshot.index, channels: { "../etc": {} } } }), /bad field/],
    ["an artifact that is not a sha256", sealed({ ...snapshot, artifacts: { "hello@3": "../../passwd" } }), /bad field at artifacts/],
    ["a version of 0", sealed({ ...snapshot, artifacts: { "hello@0": SHA } }), /bad field at artifacts/],
    ["a negative seq", sealed({ ...snapshot, index: { ...snapshot.index, seq: -1 } }), /bad field at index.seq/],
    ["a split weight of 100", sealed(JSON.parse(JSON.stringify(snapshot).replace('"weight":30', '"weight":100'))), /bad field/],
    ["a var that is not a string", sealed(JSON.parse(JSON.stringify(snapshot).replace('"secret"', "7"))), /bad field at index.settings/],
    ["no store", sealed({ ...snapshot, store: undefined }), /bad field at store/],
    ["an array", sealed([]), /bad field/],
  ];
  for (const [what, file, reason] of refused) {
    it(`refuses ${what}`, () => {
      const decoded = decodeSnapshot(file);
      assert.equal(decoded.ok, false);
      assert.match(decoded.ok ? "" : decoded.reason, reason);
    });
  }
});
