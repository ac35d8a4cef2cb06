/**
 * Appliance logs with real processes: a 100 MB burst stays within the rotation budget and the
 * child runs to its end (its pipe is always drained; what the disk cannot take is dropped and
 * counted); the last lines of a failed run, an unfinished last line included, are kept with its
 * exit record; the reader returns the last N lines across rotated files and follows through
 * rotations without a gap or a repeat; a restarted appliance appends to its log.
 */
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { LineSplitter, MAX_LINE_BYTES } from "../src/appliances/logs/lines.ts";
import { followLog, readLastLines } from "../src/appliances/logs/reader.ts";
import { RotatingLog } from "../src/appliances/logs/writer.ts";
import { killAllAppliances, shellAppliance } from "./helpers/appliances.ts";
import { eventually } from "./helpers/eventually.ts";
import { tempDir } from "./helpers/temp-dir.ts";

function logBytes(dir: string): { files: number; total: number; largest: number } {
  const sizes = readdirSync(dir).map((name) => statSync(join(dir, name)).size);
  return { files: sizes.length, total: sizes.reduce((sum, size) => sum + size, 0), largest: Math.max(...sizes) };
}

describe("appliances: logs", () => {
  after(killAllAppliances);

  it("a 100 MB burst stays within the rotation budget, and the child is never held up", async (t) => {
    const MiB = 1024 * 1024;
    // 100 MB of 100-byte lines in 1 MiB writes, as fast as the pipe takes them; then a last line on stderr.
    const burst = `const line = "x".repeat(99) + "\\n"; const chunk = line.repeat(10486);
      for (let i = 0; i < 100; i++) require("fs").writeSync(1, chunk);
      require("fs").writeSync(2, "burst done\\n");`;
    const { app, journal, logDir } = shellAppliance(
      "flood",
      { command: "node", args: ["-e", burst] },
      { restart: "temporary", settings: { logMaxBytes: MiB, logMaxFiles: 3, logBufferBytes: 256 * 1024 } },
    );
    await app.start();
    await eventually("the child ran to its end", () => app.status().state === "stopped", 120_000);
    const exit = journal.of("appliance:stop")[0].exit;
    assert.equal(exit.code, 0, "the burst finished");
    const { files, total, largest } = logBytes(logDir);
    assert.ok(files <= 3, `at most logMaxFiles files (${files})`);
    assert.ok(largest <= MiB, `no file over logMaxBytes (${largest})`);
    assert.ok(total <= 3 * MiB, `within the budget (${total})`);
    assert.equal(typeof exit.dropped, "number");
    assert.equal(app.status().droppedLines, exit.dropped, "what the run dropped is what the appliance reports");
    const last = await readLastLines(app.logPath, 3);
    assert.ok(
      last.some((line) => line.stream === "err" && line.text === "burst done") || exit.dropped > 0,
      "the last line is on disk, unless the writer was still behind and counted it dropped",
    );
    t.diagnostic(`100 MB burst: ${exit.dropped} lines dropped, ${total} bytes in ${files} files`);
    if (exit.dropped > 0) {
      assert.ok(
        (await readLastLines(app.logPath, Number.MAX_SAFE_INTEGER)).some(
          (line) => line.stream === "lively" && /^dropped \d+ line/.test(line.text),
        ),
        "the log says lines were dropped (after the last drop, once the writer caught up)",
      );
    }
  });

  it("keeps the last lines of a failed run, even an unfinished line printed just before the crash", async () => {
    const { app, journal } = shellAppliance(
      "crasher",
      { command: "i=1; while [ $i -le 300 ]; do echo line $i; i=$((i+1)); done; printf 'last words'; kill -9 $$" },
      { restart: "temporary" },
    );
    await app.start();
    await eventually("failed", () => app.status().state === "failed");
    const [crash] = journal.of("appliance:crash");
    assert.equal(crash.exit.signal, "SIGKILL");
    assert.equal(crash.exit.tail.length, 200);
    assert.equal(crash.exit.tail[0].text, "line 102");
    assert.equal(crash.exit.tail[199].text, "last words");
    const onDisk = await readLastLines(app.logPath, 2);
    assert.deepEqual(
      onDisk.map((line) => line.text),
      ["line 300", "last words"],
    );
  });

  it("reads the last N lines across rotated files and follows through rotations", async () => {
    const { app, logDir } = shellAppliance(
      "counter",
      { command: "i=1; while true; do echo n=$i; i=$((i+1)); sleep 0.005; done" },
      { settings: { logMaxBytes: 1024, logMaxFiles: 5 } },
    );
    await app.start();
    await eventually("rotated twice", () => readdirSync(logDir).length >= 3);

    const last = await readLastLines(app.logPath, 40);
    assert.equal(last.length, 40);
    const numbers = last.map((line) => Number(line.text.slice(2)));
    assert.deepEqual(
      numbers,
      numbers.map((_, index) => numbers[0] + index),
      "consecutive across files",
    );

    const stop = new AbortController();
    const followed: number[] = [];
    for await (const line of followLog(app.logPath, { lines: 5, signal: stop.signal, pollMs: 10 })) {
      followed.push(Number(line.text.slice(2)));
      if (followed.length === 120) stop.abort();
    }
    await app.stop();
    assert.deepEqual(
      followed,
      followed.map((_, index) => followed[0] + index),
      "no gap, no repeat, through several rotations",
    );
  });

  it("cuts an endless line into 64 KiB pieces and keeps empty lines", () => {
    const lines: number[] = [];
    const splitter = new LineSplitter((line) => lines.push(line.length));
    splitter.push(Buffer.from("\n\n"));
    splitter.push(Buffer.alloc(150 * 1024, 0x61));
    splitter.push(Buffer.from("bc"));
    splitter.end();
    assert.deepEqual(lines, [0, 0, MAX_LINE_BYTES, MAX_LINE_BYTES, 150 * 1024 + 2 - 2 * MAX_LINE_BYTES]);
  });

  it("with one file, rotation starts the file afresh and never lets it pass maxBytes", async () => {
    const path = join(tempDir("lively-app-log-"), "one.log");
    const log = new RotatingLog({ path, maxBytes: 4096, maxFiles: 1, bufferBytes: 1 << 20 });
    for (let i = 0; i < 1000; i++) log.append(Date.now(), "out", `line ${i}`);
    await log.close();
    assert.deepEqual(readdirSync(join(path, "..")), ["one.log"]);
    assert.ok(statSync(path).size <= 4096);
    const last = await readLastLines(path, 1);
    assert.equal(last[0].text, "line 999");
  });

  it("appends to the same log across runs", async () => {
    const { app } = shellAppliance("twice", { command: "echo run $$" }, { restart: "transient" });
    await app.start();
    await eventually("stopped", () => app.status().state === "stopped");
    await app.start();
    await eventually("stopped again", () => app.status().state === "stopped" && app.status().lastExit !== null);
    await eventually("two runs logged", async () => (await readLastLines(app.logPath, 10)).length === 2);
    const lines = await readLastLines(app.logPath, 10);
    assert.ok(lines.every((line) => /^run \d+$/.test(line.text) && line.stream === "out" && line.at > 0));
  });
});
