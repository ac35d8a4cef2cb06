/**
 * `npm run test:docs [-- FILE…]`: run the ```console examples of the docs against real nodes
 * and compare what they print with what the docs say they print.
 *
 * Each file is one session, in a fresh temporary folder: the runner starts what the docs
 * assume is running, `npm start` (scripts/start.mjs: a node on SQLite in ./.lively with the
 * example module `hello` deployed), then runs every ```console block of the file in order.
 * `lively` on the PATH is this repository's bin/lively.js, and `./bin` in the folder points at
 * it too. The node listens on a free port; the docs' ports 8080 and 8081 stand for two free
 * ports (rewritten in commands, and back in output), this machine's name in a node id is
 * shown as `vm` (`vm:8080`), and the session's folder as `/home/me/lively`. curl runs with
 * `--silent --show-error`, as it behaves in a terminal (no progress meter).
 *
 * In a block, a line starting with `$ ` is a command (a heredoc's lines belong to it), and the
 * lines up to the next command are its expected output: stdout and stderr together, compared
 * line by line, trailing spaces and trailing blank lines ignored. A command ending in ` &` runs
 * in the background for the rest of the file (its output is not compared; when it has
 * `--port N`, the runner waits until that port answers). A command may fail only when the
 * next command is `echo $?` or its expected output shows the error (`lively: …` or
 * `{"error":…}`).
 *
 * Placeholders in expected output:
 * - `…` matches any text within a line; a line that is only `…` matches any number of lines.
 * - These match any value of their kind, so the docs can show real-looking ones: a time
 *   (`2026-11-23 12:33:56Z`, `2026-11-23T12:33:56.330Z`), a hex hash of 8 to 64 characters
 *   with a letter in it (`364e993866dc`), a duration (`31 ms`, `300ms`, `1.2s`), a token
 *   (`lively_…`), and a run of spaces (table columns widen with their values).
 * Everything else, seq numbers included, must match exactly.
 *
 * A block that cannot run here says so in the docs' source: ```console no-test: REASON.
 * Commands that set the scene without belonging on the page go in an HTML comment that the
 * runner treats as a block: `<!-- doc-test` on its own line, a line or two saying why, the
 * commands with the same `$ ` syntax, then `-->`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";

const ROOT = join(import.meta.dirname, "..");
// docs/concepts.md and docs/tokens.md assume the README tour's state and do not run yet as written.
const DEFAULT_FILES = ["README.md", "docs/cli.md", "docs/cluster.md"];
const DOC_PORTS = [8080, 8081] as const;
const DOC_FOLDER = "/home/me/lively";
const COMMAND_TIMEOUT_MS = 120_000;

interface Command {
  line: number;
  text: string;
  expected: string[];
}

interface Block {
  line: number;
  commands: Command[];
  skip?: string;
}

/** The ```console blocks and <!-- doc-test --> comments of a markdown file, in order. */
export function parseBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const fence = /^```console(.*)$/.exec(line);
    const hidden = line.trim() === "<!-- doc-test";
    if (!fence && !hidden) {
      if (/^```\S/.test(line) || line.startsWith("```")) i = skipFence(lines, i);
      continue;
    }
    const info = fence?.[1]?.trim() ?? "";
    const skip = /^no-test\b:?\s*(.*)$/.exec(info);
    if (skip && !skip[1]) throw new Error(`line ${i + 1}: no-test needs a reason (\`\`\`console no-test: WHY)`);
    const end = hidden ? "-->" : "```";
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && lines[j] !== end; j++) body.push(lines[j] ?? "");
    blocks.push({ line: i + 1, commands: parseCommands(body, i + 2, hidden), skip: skip?.[1] });
    i = j;
  }
  return blocks;
}

function skipFence(lines: string[], start: number): number {
  let j = start + 1;
  while (j < lines.length && !(lines[j] ?? "").startsWith("```")) j++;
  return j;
}

/** A hidden block may start with prose saying why it is there; a visible one starts with `$ `. */
function parseCommands(body: string[], firstLine: number, proseFirst: boolean): Command[] {
  const commands: Command[] = [];
  for (let k = 0; k < body.length; k++) {
    const line = body[k] ?? "";
    if (line.startsWith("$ ")) {
      let text = line.slice(2);
      const heredoc = /<<-?\s*'?"?(\w+)'?"?/.exec(text);
      if (heredoc) {
        const terminator = heredoc[1];
        while (k + 1 < body.length) {
          k++;
          text += `\n${body[k]}`;
          if (body[k] === terminator) break;
        }
      }
      commands.push({ line: firstLine + k, text, expected: [] });
    } else {
      const current = commands.at(-1);
      if (!current) {
        if (line.trim() !== "" && !proseFirst) throw new Error(`line ${firstLine + k}: output before any command`);
        continue;
      }
      current.expected.push(line);
    }
  }
  return commands;
}

// ---------------------------------------------------------------- matching

const PLACEHOLDERS: Array<[RegExp, (match: string) => string]> = [
  [/…/, () => ".*?"],
  [/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?Z/, () => "\\d{4}-\\d\\d-\\d\\d[T ]\\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?Z"],
  [/lively_[A-Za-z0-9_-]{8,}/, () => "lively_[A-Za-z0-9_-]+"],
  [/\b(?=[0-9]*[a-f])[0-9a-f]{8,64}\b/, (hash) => `[0-9a-f]{${hash.length},64}`],
  [/\b\d+(?:\.\d+)? ?(?:ms|s)\b/, () => "\\d+(?:\\.\\d+)? ?(?:ms|s)"],
  [/ +/, () => " +"],
];
const ANY_PLACEHOLDER = new RegExp(PLACEHOLDERS.map(([pattern]) => `(${pattern.source})`).join("|"), "g");

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** One expected line as a regular expression, or "many" for a line that is only `…`. */
function linePattern(expected: string): RegExp | "many" {
  if (expected.trim() === "…") return "many";
  let source = "";
  let last = 0;
  for (const match of expected.matchAll(ANY_PLACEHOLDER)) {
    const index = match.index ?? 0;
    source += escapeRegExp(expected.slice(last, index));
    const which = match.slice(1).findIndex((group) => group !== undefined);
    source += (PLACEHOLDERS[which] as (typeof PLACEHOLDERS)[number])[1](match[0]);
    last = index + match[0].length;
  }
  source += escapeRegExp(expected.slice(last));
  return new RegExp(`^${source}$`);
}

function tidy(lines: string[]): string[] {
  const out = lines.map((line) => line.replace(/\r$/, "").trimEnd());
  while (out.length > 0 && out.at(-1) === "") out.pop();
  return out;
}

/** Whether the actual lines match the expected ones, `…` lines matching any number of lines. */
export function outputMatches(expectedLines: string[], actualLines: string[]): boolean {
  const patterns = tidy(expectedLines).map(linePattern);
  const actual = tidy(actualLines);
  const memo = new Map<string, boolean>();
  const from = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    const pattern = patterns[i];
    if (pattern === undefined) result = j === actual.length;
    else if (pattern === "many") result = from(i + 1, j) || (j < actual.length && from(i, j + 1));
    else result = j < actual.length && pattern.test(actual[j] as string) && from(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return from(0, 0);
}

// ---------------------------------------------------------------- running

/** `count` different free ports, ascending (all held open at once, so none repeats). */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(
    servers.map(
      (server) =>
        new Promise<number>((done) =>
          server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            done(address !== null && typeof address === "object" ? address.port : 0);
          }),
        ),
    ),
  );
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports.sort((a, b) => a - b);
}

interface Session {
  dir: string;
  env: NodeJS.ProcessEnv;
  ports: Map<number, number>;
  children: ChildProcess[];
}

function toReal(session: Session, text: string): string {
  let out = text;
  for (const [doc, real] of session.ports) out = out.replace(new RegExp(`\\b${doc}\\b`, "g"), String(real));
  return out;
}

function toDoc(session: Session, text: string): string {
  let out = text;
  for (const [doc, real] of session.ports) out = out.replace(new RegExp(`\\b${real}\\b`, "g"), String(doc));
  return out.replace(new RegExp(`\\b${escapeRegExp(hostname())}:(?=\\d)`, "g"), "vm:").replaceAll(session.dir, DOC_FOLDER);
}

async function answers(url: string): Promise<boolean> {
  return fetch(url).then(
    () => true,
    () => false,
  );
}

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

const live = new Set<Session>();

/** Interrupted (Ctrl-C, a CI timeout): stop every process a session started, then go. */
function abandonSessions(signal: NodeJS.Signals): void {
  for (const session of live) {
    for (const child of session.children) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
      try {
        // SIGTERM, not SIGKILL: npm start passes it on to its node, which runs in a group of its own.
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    rmSync(session.dir, { recursive: true, force: true });
  }
  process.exit(signal === "SIGINT" ? 130 : 143);
}

async function startSession(): Promise<Session> {
  const dir = mkdtempSync(join(tmpdir(), "lively-doc-test-"));
  const shims = join(dir, ".doc-test-bin");
  mkdirSync(shims);
  writeFileSync(join(shims, "lively"), `#!/bin/sh\nexec "${join(ROOT, "bin", "lively.js")}" "$@"\n`);
  chmodSync(join(shims, "lively"), 0o755);
  symlinkSync(join(ROOT, "bin"), join(dir, "bin"));
  writeFileSync(join(shims, ".curlrc"), "--silent\n--show-error\n");
  // Ascending like the docs' ports, so lists ordered by node id keep the docs' order.
  const real = await freePorts(DOC_PORTS.length);
  const ports = new Map<number, number>(DOC_PORTS.map((doc, index) => [doc, real[index] as number]));
  const url = `http://127.0.0.1:${ports.get(8080)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${shims}:${process.env.PATH}`,
    CURL_HOME: shims,
    LIVELY_URL: url,
    LIVELY_LOG_LEVEL: "warn",
  };
  for (const name of ["LIVELY_TOKEN", "LIVELY_DATA_DIR", "LIVELY_DB", "LIVELY_HOST", "LIVELY_NODE_ID"]) delete env[name];
  const session: Session = { dir, env, ports, children: [] };
  live.add(session);
  const start = spawn(process.execPath, [join(ROOT, "scripts", "start.mjs")], {
    cwd: dir,
    env: { ...env, LIVELY_PORT: String(ports.get(8080)) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  session.children.push(start);
  let printed = "";
  start.stderr?.on("data", (chunk) => {
    printed += chunk;
  });
  await new Promise<void>((done, fail) => {
    const lines = createInterface({ input: start.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      printed += `${line}\n`;
      if (line.startsWith("Ctrl-C stops the node")) done();
    });
    start.once("exit", (code) => fail(new Error(`npm start exited ${code}:\n${printed}`)));
  });
  return session;
}

async function endSession(session: Session): Promise<void> {
  live.delete(session);
  for (const child of session.children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    const gone = new Promise((done) => child.once("exit", done));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      continue;
    }
    await Promise.race([gone, new Promise((done) => setTimeout(done, 15_000))]);
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, "SIGKILL");
  }
  rmSync(session.dir, { recursive: true, force: true });
}

interface Ran {
  code: number;
  output: string[];
}

async function runCommand(session: Session, text: string, previousCode: number): Promise<Ran> {
  const background = /\s&\s*$/.test(text);
  const command = toReal(session, background ? text.replace(/\s&\s*$/, "") : text);
  if (background) {
    const child = spawn("bash", ["-c", command], {
      cwd: session.dir,
      env: session.env,
      stdio: "ignore",
      detached: true,
    });
    session.children.push(child);
    const port = /--port\s+(\d+)/.exec(command)?.[1];
    if (port) await until(`port ${port}`, () => answers(`http://127.0.0.1:${port}/_lively/health`));
    return { code: 0, output: [] };
  }
  const child = spawn("bash", ["-c", `exec 2>&1\n(exit ${previousCode})\n${command}`], {
    cwd: session.dir,
    env: session.env,
    stdio: ["ignore", "pipe", "ignore"],
    detached: true,
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  const timer = setTimeout(() => {
    if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
  }, COMMAND_TIMEOUT_MS);
  const code = await new Promise<number>((done) => child.on("close", (exit) => done(exit ?? 1)));
  clearTimeout(timer);
  return { code, output: toDoc(session, output).split("\n") };
}

function showsAnError(expected: string[]): boolean {
  return expected.some((line) => line.startsWith("lively: ") || line.startsWith('{"error":'));
}

async function runFile(file: string): Promise<{ failures: number; skipped: number; ran: number }> {
  const blocks = parseBlocks(readFileSync(join(ROOT, file), "utf8"));
  const session = await startSession();
  let failures = 0;
  let skipped = 0;
  let ran = 0;
  try {
    for (const block of blocks) {
      if (block.skip !== undefined) {
        skipped++;
        console.log(`  skip ${file}:${block.line}  (${block.skip})`);
        continue;
      }
      let previousCode = 0;
      let blockFailed = false;
      for (const [index, command] of block.commands.entries()) {
        ran++;
        const result = await runCommand(session, command.text, previousCode);
        previousCode = result.code;
        const next = block.commands[index + 1]?.text.trim();
        const failureExpected = next === "echo $?" || showsAnError(command.expected);
        const problems: string[] = [];
        if (result.code !== 0 && !failureExpected) problems.push(`exit code ${result.code}`);
        if (!outputMatches(command.expected, result.output)) problems.push("output differs");
        if (problems.length === 0) continue;
        failures++;
        blockFailed = true;
        console.log(`\n  FAIL ${file}:${block.line}  $ ${command.text.split("\n")[0]}  (${problems.join(", ")})`);
        console.log(indent("expected", tidy(command.expected)));
        console.log(indent("actual", tidy(result.output)));
      }
      if (!blockFailed) console.log(`  ok   ${file}:${block.line}  (${block.commands.length} commands)`);
    }
  } finally {
    await endSession(session);
  }
  return { failures, skipped, ran };
}

function indent(title: string, lines: string[]): string {
  return [`    ${title}:`, ...lines.map((line) => `      | ${line}`)].join("\n");
}

async function main(): Promise<number> {
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => abandonSessions(signal));
  const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DEFAULT_FILES;
  let failures = 0;
  for (const file of files) {
    const name = relative(ROOT, join(process.cwd(), file)).startsWith("..") ? file : relative(ROOT, join(process.cwd(), file));
    console.log(`${name}`);
    const result = await runFile(name);
    console.log(`  ${result.ran} commands, ${result.failures} failed, ${result.skipped} block(s) skipped\n`);
    failures += result.failures;
  }
  console.log(failures === 0 ? "docs: every example ran as written" : `docs: ${failures} example(s) differ from the program`);
  return failures === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
