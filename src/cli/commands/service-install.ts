/**
 * `lively service install`: write a systemd unit that runs this build's `lively serve` as a
 * service (Spew's release item; docs/appliances.md#running-the-node-as-a-service).
 *
 * The unit is world-readable, so it holds no secret: the database URL (which may carry a
 * password) goes to an environment file of mode 0600 that the unit reads. KillMode=mixed sends
 * SIGTERM to the node alone, which drains its requests and stops its appliances in reverse
 * dependency order with their own grace periods and sweeps; systemd's SIGKILL to the whole
 * cgroup comes only past TimeoutStopSec. Restart=always with a 1 s pause: the node's own
 * supervisor handles its children, systemd only the node.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LivelyError } from "../../errors.ts";
import { defineCommand } from "../core/define.ts";
import { intOption } from "../core/parse.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

export interface UnitSettings {
  name: string;
  node: string;
  bin: string;
  dataDir: string;
  port?: number;
  user?: string;
  envFile: string;
  stopTimeoutS: number;
  /** What wrote the unit, for its first line (default `lively service install`; the .deb says so itself). */
  writtenBy?: string;
}

/** The bin this build runs from: `bin/lively.js` beside `dist/`. */
function livelyBin(): string {
  // dist/cli-commands.cjs or src/cli/commands/service-install.ts: both two or three levels below the package.
  const here = typeof __filename === "string" ? __filename : fileURLToPath(import.meta.url);
  let dir = dirname(here);
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const bin = resolve(dir, "bin", "lively.js");
    if (existsSync(bin)) return bin;
  }
  throw new LivelyError("internal", "cannot find bin/lively.js beside this build");
}

/** systemd quotes: a word with anything but safe characters is double-quoted, backslashes and quotes escaped. */
function quote(word: string): string {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(word) ? word : `"${word.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function unitText(s: UnitSettings): string {
  const exec = [
    s.node,
    "--no-node-snapshot",
    s.bin,
    "serve",
    "--data-dir",
    s.dataDir,
    ...(s.port === undefined ? [] : ["--port", String(s.port)]),
  ];
  return [
    `# Written by ${s.writtenBy ?? "`lively service install`"}. Secrets live in the EnvironmentFile (mode 0600), never here.`,
    "[Unit]",
    `Description=Lively node (${s.name})`,
    "Wants=network-online.target",
    "After=network-online.target postgresql.service",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${exec.map(quote).join(" ")}`,
    `EnvironmentFile=-${s.envFile}`,
    ...(s.user ? [`User=${s.user}`] : []),
    `WorkingDirectory=${quote(s.dataDir)}`,
    "Restart=always",
    "RestartSec=1",
    // The node stops its appliances itself, in order and with their grace periods; systemd's
    // SIGKILL to the whole cgroup is the last resort after TimeoutStopSec.
    "KillMode=mixed",
    "KillSignal=SIGTERM",
    `TimeoutStopSec=${s.stopTimeoutS}`,
    "LimitNOFILE=65536",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

export default defineCommand({
  name: "service install",
  summary: "write a systemd unit (and a 0600 environment file for the database URL) that runs this node as a service",
  options: (command) =>
    command
      .option("--name <name>", "the service's name (default lively)")
      .option("--data-dir <dir>", "the node's data directory (default /var/lib/lively)")
      .option("--db <url>", "the database; written to the environment file, never to the unit (default: the data dir's SQLite)")
      .option("--port <port>", "the HTTP port (default: serve's, 8080)")
      .option("--user <user>", "run as this user (default: root)")
      .option("--stop-timeout <seconds>", "systemd's TimeoutStopSec: drain, appliance stops and sweeps must fit (default 90)")
      .option("--output <file>", "where the unit goes (default /etc/systemd/system/NAME.service)")
      .option("--env-file <file>", "where the environment goes (default /etc/lively/NAME.env)")
      .option("--force", "replace files that exist")
      .option("--dry-run", "print the unit, write nothing"),
  examples: [
    "lively service install --dry-run",
    "lively service install --db postgres://lively:secret@db:5432/lively --user lively",
    "lively service install --name lively-b --port 8081 --data-dir /var/lib/lively-b",
  ],
  async run(_args, options, { out, io }) {
    const name = options.name ?? "lively";
    if (!NAME.test(name)) throw new LivelyError("bad_request", `--name ${JSON.stringify(name)}: use letters, digits, '.', '_', '-' or '@'`);
    if (options.user !== undefined && !USER.test(options.user)) {
      throw new LivelyError("bad_request", `--user ${JSON.stringify(options.user)} is not a user name`);
    }
    const absolute = (path: string, flag: string) => {
      if (path.includes("\n") || path.includes("\0")) throw new LivelyError("bad_request", `${flag} must not hold a newline`);
      return isAbsolute(path) ? path : resolve(io.cwd, path);
    };
    const dataDir = absolute(options.dataDir ?? "/var/lib/lively", "--data-dir");
    const port = intOption(options.port, "--port", 1);
    if (port !== undefined && port > 65535) throw new LivelyError("bad_request", `--port takes 1 to 65535, got ${port}`);
    const stopTimeoutS = intOption(options.stopTimeout, "--stop-timeout", 1) ?? 90;
    const db = options.db;
    if (db !== undefined && (db === "" || /[\n\0]/.test(db))) throw new LivelyError("bad_request", "--db must be one line");
    const unitPath = absolute(options.output ?? `/etc/systemd/system/${name}.service`, "--output");
    const envFile = absolute(options.envFile ?? `/etc/lively/${name}.env`, "--env-file");
    const unit = unitText({ name, node: process.execPath, bin: livelyBin(), dataDir, port, user: options.user, envFile, stopTimeoutS });

    if (options.dryRun) {
      out.result({ unit: unitPath, envFile, text: unit, written: false }, () => unit.trimEnd());
      return;
    }
    for (const path of db === undefined ? [unitPath] : [unitPath, envFile]) {
      if (existsSync(path) && !options.force) {
        throw new LivelyError("conflict", `${path} exists already; nothing was written (--force replaces it)`, { path });
      }
    }
    mkdirSync(dirname(unitPath), { recursive: true });
    writeFileSync(unitPath, unit, { mode: 0o644 });
    if (db !== undefined) {
      mkdirSync(dirname(envFile), { recursive: true, mode: 0o700 });
      // Quoted for systemd's EnvironmentFile: the URL may hold characters a shell would read.
      writeFileSync(envFile, `LIVELY_DB=${quote(db)}\n`, { mode: 0o600 });
      chmodSync(envFile, 0o600); // `mode` applies to a new file only; --force may replace a wider one
    }
    out.result({ unit: unitPath, envFile: db === undefined ? null : envFile, written: true }, () =>
      [
        `wrote ${unitPath}${db === undefined ? "" : ` and ${envFile} (mode 0600, holds the database URL)`}`,
        `next: systemctl daemon-reload && systemctl enable --now ${name}`,
      ].join("\n"),
    );
  },
});
