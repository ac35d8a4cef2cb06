/** `lively deploy FILE|DIR --name M` or `lively deploy --code 'SOURCE' --name M`. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { bundleEntry } from "../../code/compile.ts";
import type { DeployResult } from "../../code/deploy.ts";
import { LivelyError, toLivelyError } from "../../errors.ts";
import { DEFAULT_TIMEOUT_S, waitConverged } from "../core/converge.ts";
import { defineCommand, repeatable } from "../core/define.ts";
import { intOption, listOption } from "../core/parse.ts";

const ENTRY_CANDIDATES = ["index.ts", "index.js", "index.mjs", "src/index.ts", "src/index.js", "worker.ts", "worker.js"];

/** The entry of a folder: package.json's `module`/`main`, else a conventional index file. */
export function findEntry(dir: string): string {
  const pkgPath = join(dir, "package.json");
  if (existsSync(pkgPath)) {
    const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { module?: string; main?: string };
    for (const field of [pkg.module, pkg.main]) if (field && existsSync(join(dir, field))) return join(dir, field);
  }
  for (const candidate of ENTRY_CANDIDATES) if (existsSync(join(dir, candidate))) return join(dir, candidate);
  throw new LivelyError("bad_request", `no entry file in ${dir}: add index.ts (or set "main" in package.json), or deploy a file`);
}

export default defineCommand({
  name: "deploy",
  args: "[path]",
  summary: "bundle, upload, validate and store a new version of a module",
  options: (command) =>
    command
      .option("--name <module>", "the module's name (required)")
      .option("--code <source>", "deploy this TypeScript/JavaScript string instead of a file")
      .option("--channel <channel>", "point this channel at the version (repeatable; default: production on a new module)", repeatable)
      .option("--message <text>", "a note stored with the version")
      .option("--expect <n>", "only if the module's latest version is n (0: the module must be new)")
      .option("--create-only", "refuse if the module exists")
      .option("--update-only", "refuse if the module does not exist")
      .option("--force", "move a --channel even if it is mid-rollout (ends the split)")
      .option("--wait", "return once every live node has applied the deploy (lively nodes --wait-converged)")
      .option("--timeout <seconds>", `with --wait: give up after this long (default ${DEFAULT_TIMEOUT_S})`),
  examples: [
    "lively deploy hello.ts --name hello",
    "lively deploy ./api --name api --channel beta --message 'new router'",
    "lively deploy --code 'export function sum(a, b) { return a + b }' --name math",
    "lively deploy ./api --name api --channel production --wait",
  ],
  async run([path], options, { io, out, client }) {
    const name = options.name;
    if (!name) throw new LivelyError("bad_request", "deploy needs --name <module>");
    if (options.createOnly && options.updateOnly)
      throw new LivelyError("bad_request", "--create-only and --update-only exclude each other");
    const timeoutS = intOption(options.timeout, "--timeout");
    if (timeoutS !== undefined && options.wait !== true) throw new LivelyError("bad_request", "--timeout only applies with --wait");
    const code = options.code;
    if ((code === undefined) === (path === undefined))
      throw new LivelyError("bad_request", "deploy takes a FILE or DIR, or --code 'SOURCE' (one of them)");
    const body: Record<string, unknown> = {
      message: options.message,
      channels: listOption(options.channel),
      expect: intOption(options.expect, "--expect"),
      mode: options.createOnly ? "create-only" : options.updateOnly ? "update-only" : undefined,
      force: options.force === true ? true : undefined,
    };
    if (path === undefined) {
      body.code = code;
    } else {
      const target = resolve(io.cwd, path);
      if (!existsSync(target)) throw new LivelyError("bad_request", `no such file or folder: ${path}`);
      const isDir = statSync(target).isDirectory();
      const entry = isDir ? findEntry(target) : target;
      out.progress(`bundling ${entry}…`);
      const compiled = await bundleEntry(entry, isDir ? target : undefined);
      Object.assign(body, compiled);
    }
    out.progress(`uploading ${name}…`);
    const api = client();
    const result = await api.request<DeployResult>("POST", `/modules/${encodeURIComponent(name)}/versions`, body);
    const where = result.channels.length > 0 ? ` (${result.channels.join(", ")})` : "";
    // Acknowledged means committed; --wait goes on until every live node serves it.
    const converged =
      options.wait === true
        ? await waitConverged(api, out, result.seq, (timeoutS ?? DEFAULT_TIMEOUT_S) * 1000).catch((error: unknown) => {
            throw committedButNotApplied(result, where, error);
          })
        : undefined;
    const everywhere = converged ? `; applied on ${converged.nodes.filter((n) => n.status === "up").length} nodes` : "";
    out.result(converged ? { ...result, nodes: converged.nodes } : result, () => {
      if (result.unchanged)
        return `${result.module}@${result.version} unchanged: the same code is already version ${result.version}${where}${everywhere}`;
      return `${result.module}@${result.version} deployed${where}  sha256 ${result.sha256.slice(0, 12)}${everywhere}`;
    });
  },
});

/**
 * A --wait that fails (the timeout passed, or the node stopped answering the poll) fails after
 * the commit: a script must learn that the deploy is in, so it does not deploy again or roll
 * back what it thinks never happened. Still `unavailable` (exit 6): not every node serves it.
 */
function committedButNotApplied(result: DeployResult, where: string, thrown: unknown): LivelyError {
  const error = toLivelyError(thrown);
  const what = result.unchanged ? `unchanged as version ${result.version}${where}` : `deployed${where}`;
  const committed = result.seq > 0 ? `, committed at seq ${result.seq}` : " (nothing new to write)";
  return new LivelyError(
    "unavailable",
    `${result.module}@${result.version} ${what}${committed}, but not every node has applied it yet: ${error.message}`,
    {
      ...error.details,
      committed: { module: result.module, version: result.version, channels: result.channels, moved: result.moved, seq: result.seq },
    },
    { cause: error },
  );
}
