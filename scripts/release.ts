// `npm run release`: an installable tarball and a Debian package of this build (Spew's release
// item; README.md, "Releases"). Both carry the production node_modules, natives included, built
// for the Node that runs this script: better-sqlite3 and isolated-vm are bound to one Node ABI
// and one platform, so the file names say which (lively-0.1.0-linux-x64-node20.tar.gz) and the
// .deb depends on that Node major alone. The systemd unit in the .deb comes from the same
// unitText() as `lively service install`. Run after scripts/build.mjs (package.json does).
//
// Options: --out DIR (default release/); --reuse-node-modules copies the production packages
// from this checkout's node_modules instead of a fresh `npm ci --omit=dev` in a staging folder
// (minutes: natives build from source): fast, for tests, and as good when this checkout was
// itself installed with `npm ci` on the target's Node.
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { unitText } from "../src/cli/commands/service-install.ts";

const ROOT = resolve(import.meta.dirname, "..");
const APP_FILES = ["bin", "dist", "sql", "examples", "package.json", "package-lock.json", "README.md", "LICENSE"];
const LIB = "/usr/lib/lively";
const DATA = "/var/lib/lively";
const ENV_FILE = "/etc/lively/lively.env";

interface Options {
  out: string;
  reuseNodeModules: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { out: join(ROOT, "release"), reuseNodeModules: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--reuse-node-modules") options.reuseNodeModules = true;
    else if (arg === "--out") {
      const dir = argv[++i];
      if (!dir || dir.startsWith("-")) fail("--out takes a directory");
      options.out = resolve(dir);
    } else fail(`unknown option ${JSON.stringify(arg)}; use --out DIR and --reuse-node-modules`);
  }
  return options;
}

function fail(message: string): never {
  process.stderr.write(`release: ${message}\n`);
  process.exit(2);
}

const run = (command: string, args: string[], cwd = ROOT) =>
  execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });

/** The app (package.json "files" plus what installs it) copied into `dir`, with no npm scripts: nothing there builds. */
function stageApp(dir: string): void {
  if (!existsSync(join(ROOT, "dist", "cli.js"))) fail("dist/ is missing: run `npm run build` first (npm run release does)");
  mkdirSync(dir, { recursive: true });
  for (const name of APP_FILES) {
    if (existsSync(join(ROOT, name))) cpSync(join(ROOT, name), join(dir, name), { recursive: true });
  }
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  delete pkg.scripts; // `prepare` would try to build from src/, which the release leaves out
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
}

/** Production packages, each copied from this checkout's node_modules (without its nested node_modules: those are listed too). */
function copyProductionModules(dir: string): void {
  const paths = run("npm", ["ls", "--omit=dev", "--all", "--parseable"]).trim().split("\n").slice(1);
  for (const path of paths) {
    const rel = relative(ROOT, path);
    if (!rel.startsWith("node_modules")) fail(`npm ls listed a package outside node_modules: ${path}`);
    const source = realpathSync(path);
    cpSync(source, join(dir, rel), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (from) => from === source || relative(source, from) !== "node_modules",
    });
  }
}

function installProductionModules(dir: string): void {
  process.stderr.write("release: npm ci --omit=dev (native modules build from source; a few minutes)\n");
  execFileSync("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund"], { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
}

const debianControl = (version: string, nodeMajor: number, installedKb: number) =>
  [
    "Package: lively",
    `Version: ${version}`,
    "Section: web",
    "Priority: optional",
    "Architecture: amd64",
    // The natives in /usr/lib/lively/node_modules are built for this Node major's ABI only.
    `Depends: nodejs (>= ${nodeMajor}), nodejs (<< ${nodeMajor + 1})`,
    `Installed-Size: ${installedKb}`,
    "Maintainer: Lively maintainers <lively@localhost>",
    `Description: runtime for code that lives in a database (built for Node ${nodeMajor})`,
    " Every node serves every stored module at every version. Installs the lively",
    " command and a systemd unit (lively.service, not started: systemctl enable --now lively).",
    "",
  ].join("\n");

const ENV_TEMPLATE = `# Environment for lively.service (mode 0600: it may hold a database password).
# Without LIVELY_DB the node keeps its SQLite database in ${DATA}.
# LIVELY_DB=postgres://lively:secret@db.example:5432/lively
`;

// Maintainer scripts: a system user and its data directory; systemd told, the node never started
// by an install (an upgrade restarts it if it ran). Remove keeps the data; purge deletes it.
const POSTINST = `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd lively >/dev/null; then
    adduser --system --group --home ${DATA} --no-create-home --gecos "Lively node" lively >/dev/null 2>&1 ||
      useradd --system --user-group --home-dir ${DATA} --shell /usr/sbin/nologin lively
  fi
  mkdir -p ${DATA}
  chown lively:lively ${DATA}
  chmod 0750 ${DATA}
  chown root:root ${ENV_FILE}
  chmod 0600 ${ENV_FILE}
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    # An upgrade restarts a node that was running (on the new code); a stopped one stays stopped.
    if [ -n "$2" ]; then systemctl try-restart lively.service || true; fi
  fi
fi
exit 0
`;

const PRERM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl disable --now lively.service >/dev/null 2>&1 || true
fi
exit 0
`;

const POSTRM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
if [ "$1" = purge ]; then
  rm -rf ${DATA} /etc/lively
  if getent passwd lively >/dev/null; then deluser --system lively >/dev/null 2>&1 || userdel lively || true; fi
fi
exit 0
`;

// The command: this script's folder's ../lib/lively, so it runs where dpkg put it and where `dpkg-deb -x` did.
const WRAPPER = `#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
exec node "$here/../lib/lively/bin/lively.js" "$@"
`;

function buildDeb(app: string, stage: string, version: string, nodeMajor: number): string {
  const write = (path: string, text: string, mode: number) => {
    mkdirSync(join(stage, path, ".."), { recursive: true });
    writeFileSync(join(stage, path), text);
    chmodSync(join(stage, path), mode);
  };
  cpSync(app, join(stage, LIB.slice(1)), { recursive: true, verbatimSymlinks: true });
  write("usr/bin/lively", WRAPPER, 0o755);
  const unit = unitText({
    name: "lively",
    node: "/usr/bin/node",
    bin: `${LIB}/bin/lively.js`,
    dataDir: DATA,
    user: "lively",
    envFile: ENV_FILE,
    stopTimeoutS: 90,
    writtenBy: "the lively Debian package (npm run release); dpkg replaces it on upgrade",
  });
  write("lib/systemd/system/lively.service", unit, 0o644);
  write(ENV_FILE.slice(1), ENV_TEMPLATE, 0o600);
  const installedKb = Number(run("du", ["-sk", "--exclude=DEBIAN", stage]).split("\t")[0]);
  write("DEBIAN/control", debianControl(version, nodeMajor, installedKb), 0o644);
  write("DEBIAN/conffiles", `${ENV_FILE}\n`, 0o644);
  write("DEBIAN/postinst", POSTINST, 0o755);
  write("DEBIAN/prerm", PRERM, 0o755);
  write("DEBIAN/postrm", POSTRM, 0o755);
  return stage;
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const nodeMajor = Number(process.versions.node.split(".")[0]);
  if (process.platform !== "linux" || process.arch !== "x64")
    fail(`releases are built on linux-x64, not ${process.platform}-${process.arch}`);
  const name = `lively-${version}-linux-x64-node${nodeMajor}`;
  const work = join(options.out, `.staging-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  try {
    const app = join(work, name);
    stageApp(app);
    if (options.reuseNodeModules) copyProductionModules(app);
    else installProductionModules(app);

    mkdirSync(options.out, { recursive: true });
    const tarball = join(options.out, `${name}.tar.gz`);
    run("tar", ["-czf", tarball, "--owner=0", "--group=0", "-C", work, name]);

    const deb = join(options.out, `lively_${version}_node${nodeMajor}_amd64.deb`);
    const stage = buildDeb(app, join(work, "deb"), version, nodeMajor);
    run("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", stage, deb]);
    process.stdout.write(`${JSON.stringify({ tarball, deb, node: nodeMajor })}\n`);
    process.stderr.write(`release: wrote ${basename(tarball)} and ${basename(deb)} in ${options.out}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
