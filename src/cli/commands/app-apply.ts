/**
 * `lively app apply FILE`: load an appliance config file (TOML or YAML, docs/appliances.md#config-files)
 * and make each appliance it lists match it: created when missing, a new version when its config
 * differs (and a restart onto it), untouched when equal. Each version's message records where it
 * came from (`from apps.toml:7`), so `lively app history` tells file-made versions from runtime ones.
 *
 * The whole file is read and checked here first (unknown keys and bad values refused with their
 * line, before anything is sent); then the appliances go to the node in dependency order, so one
 * that depends on another of the file finds it there. Not atomic: a refusal by the node stops the
 * apply, and what was applied before it stays (the output says which).
 */
import type { ApplianceConfig } from "../../appliances/config.ts";
import { checkGraph, levels } from "../../appliances/graph.ts";
import { LivelyError, toError } from "../../errors.ts";
import { appPath } from "../core/apps.ts";
import { defineCommand } from "../core/define.ts";

interface Applied {
  name: string;
  version: number;
  created: boolean;
  unchanged: boolean;
  source: string;
}

/** The file's appliances in an order where each comes after those of the file it depends on. */
function inDependencyOrder(configs: readonly ApplianceConfig[]): ApplianceConfig[] {
  const names = new Set(configs.map((c) => c.name));
  // Dependencies outside the file may exist on the node already: the node checks those.
  const inFile = configs.map((c) => ({ name: c.name, depends: (c.depends ?? []).filter((d) => names.has(d)) }));
  checkGraph(inFile);
  const byName = new Map(configs.map((c) => [c.name, c]));
  return levels(inFile).flatMap((level) => level.map((name) => byName.get(name) as ApplianceConfig));
}

export default defineCommand({
  name: "app apply",
  args: "<file>",
  summary: "create or upgrade the appliances a TOML or YAML file lists",
  options: (command) => command.option("--dry-run", "check the file and show what it holds; send nothing"),
  examples: ["lively app apply apps.toml", "lively app apply apps.yaml --dry-run"],
  async run([file], options, { out, client, io }) {
    // Loaded here, not at the top: every other command's start must not pay for the TOML and YAML parsers.
    const { loadApplianceFile } = await import("../../appliances/config-file/config-file.ts");
    const { appliances } = await loadApplianceFile(file.startsWith("/") ? file : `${io.cwd}/${file}`);
    if (appliances.length === 0) throw new LivelyError("bad_request", `${file} lists no appliances (only templates or defaults)`);
    const sourceOf = new Map(appliances.map((a) => [a.config.name, `${file}:${a.source.line}`]));
    const ordered = inDependencyOrder(appliances.map((a) => a.config));
    if (options.dryRun) {
      out.result(
        ordered.map((config) => ({ config, source: sourceOf.get(config.name) })),
        () => ordered.map((c) => `${c.name}  (${sourceOf.get(c.name)})`).join("\n"),
      );
      return;
    }
    const applied: Applied[] = [];
    for (const config of ordered) {
      const source = sourceOf.get(config.name) ?? file;
      out.progress(`applying ${config.name} (${source})…`);
      try {
        const change = await client().request<Omit<Applied, "source">>("PUT", appPath(config.name), {
          config,
          message: `from ${source}`,
        });
        applied.push({ name: change.name, version: change.version, created: change.created, unchanged: change.unchanged, source });
      } catch (error) {
        const done = applied.length > 0 ? `; applied before it: ${applied.map((a) => a.name).join(", ")}` : "; nothing was applied";
        const cause = toError(error);
        throw new LivelyError(
          error instanceof LivelyError ? error.code : "internal",
          `${source}: appliance ${config.name}: ${cause.message}${done}`,
          { source, applied: applied.map((a) => a.name) },
          { cause },
        );
      }
    }
    out.result(applied, () =>
      applied
        .map(
          (a) =>
            `${a.name}: ${a.created ? `created (version ${a.version})` : a.unchanged ? `unchanged (version ${a.version})` : `upgraded to version ${a.version}`}  ${a.source}`,
        )
        .join("\n"),
    );
  },
});
