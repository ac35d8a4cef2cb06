/** `lively deploy FILE|DIR --name M` or `lively deploy --code 'SOURCE' --name M`. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { bundleEntry } from "../../code/compile.ts";
import type { DeployResult } from "../../code/deploy.ts";
import { LivelyError } from "../../errors.ts";
import { defineCommand } from "../core/define.ts";
import { intOption, listOption, stringOption } from "../core/parse.ts";

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
  options: [
    { flags: "--name <module>", description: "the module's name (required)" },
    { flags: "--code <source>", description: "deploy this TypeScript/JavaScript string instead of a file" },
    {
      flags: "--channel <channel>",
      description: "point this channel at the version (repeatable; default: production on a new module)",
      repeatable: true,
    },
    { flags: "--message <text>", description: "a note stored with the version" },
    { flags: "--expect <n>", description: "only if the module's latest version is n (0: the module must be new)" },
    { flags: "--create-only", description: "refuse if the module exists" },
    { flags: "--update-only", description: "refuse if the module does not exist" },
    { flags: "--force", description: "move a --channel even if it is mid-rollout (ends the split)" },
  ],
  examples: [
    "lively deploy hello.ts --name hello",
    "lively deploy ./api --name api --channel beta --message 'new router'",
    "lively deploy --code 'export function sum(a, b) { return a + b }' --name math",
  ],
  async run([path], options, { io, out, client }) {
    const name = stringOption(options.name);
    if (!name) throw new LivelyError("bad_request", "deploy needs --name <module>");
    if (options.createOnly && options.updateOnly)
      throw new LivelyError("bad_request", "--create-only and --update-only exclude each other");
    const code = stringOption(options.code);
    if ((code === undefined) === (path === undefined))
      throw new LivelyError("bad_request", "deploy takes a FILE or DIR, or --code 'SOURCE' (one of them)");
    const body: Record<string, unknown> = {
      message: stringOption(options.message),
      channels: listOption(options.channel),
      expect: intOption(options.expect, "--expect"),
      mode: options.createOnly ? "create-only" : options.updateOnly ? "update-only" : undefined,
      force: options.force === true ? true : undefined,
    };
    if (code !== undefined) {
      body.code = code;
    } else {
      const target = resolve(io.cwd, path as string);
      if (!existsSync(target)) throw new LivelyError("bad_request", `no such file or folder: ${path}`);
      const isDir = statSync(target).isDirectory();
      const entry = isDir ? findEntry(target) : target;
      out.progress(`bundling ${entry}…`);
      const compiled = await bundleEntry(entry, isDir ? target : undefined);
      Object.assign(body, compiled);
    }
    out.progress(`uploading ${name}…`);
    const result = await client().request<DeployResult>("POST", `/modules/${encodeURIComponent(name)}/versions`, body);
    out.result(result, () => {
      const where = result.channels.length > 0 ? ` (${result.channels.join(", ")})` : "";
      if (result.unchanged)
        return `${result.module}@${result.version} unchanged: the same code is already version ${result.version}${where}`;
      return `${result.module}@${result.version} deployed${where}  sha256 ${result.sha256.slice(0, 12)}`;
    });
  },
});
