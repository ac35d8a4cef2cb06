/**
 * The last-resort handlers in a real child process: a rejection and a module's exception are
 * logged and the process goes on; any other uncaught exception ends it with 70.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";

const script = (fault: string) => `
  import { installLastResort } from ${JSON.stringify(new URL("./last-resort.ts", import.meta.url).pathname)};
  import { createLogger } from ${JSON.stringify(new URL("../log.ts", import.meta.url).pathname)};
  import { LivelyError } from ${JSON.stringify(new URL("../errors.ts", import.meta.url).pathname)};
  installLastResort(createLogger({ level: "info" }));
  ${fault}
  setTimeout(() => { console.log("still serving"); process.exit(0); }, 50);
`;

function run(fault: string) {
  return spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script(fault)], {
    encoding: "utf8",
    env: { ...process.env, LIVELY_LOG_LEVEL: "info" },
  });
}

describe("last-resort handlers", () => {
  it("a promise rejected with no handler is logged; the process keeps serving", () => {
    const out = run(`Promise.reject(new Error("nobody listened"));`);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /still serving/);
    assert.match(out.stderr, /rejected with no handler.*keeps serving/);
    assert.match(out.stderr, /nobody listened/);
  });

  it("an uncaught exception that names a module is logged with it; the process keeps serving", () => {
    const out = run(`setTimeout(() => { throw new LivelyError("module_error", "boom", { module: "shop" }); }, 0);`);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stderr, /"module":"shop"/);
  });

  it("any other uncaught exception exits 70 after logging it", () => {
    const out = run(`setTimeout(() => { throw new Error("state unknown"); }, 0);`);
    assert.equal(out.status, 70, out.stderr);
    assert.doesNotMatch(out.stdout, /still serving/);
    assert.match(out.stderr, /uncaught exception.*exiting/);
  });
});
