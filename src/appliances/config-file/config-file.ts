/**
 * Appliance config files (Spew's shape), in TOML or YAML: a table of entries, each an appliance
 * SPEC and its options (config.ts's keys, without `name`: the entry's key is the name).
 *
 * - The spec is a name with an optional `#key:value,…` suffix handed to the runner as
 *   `specOptions`: `["worker#vsn:~>2.0"]` is the appliance `worker` with `{ vsn: "~>2.0" }`.
 * - The entry `_` holds defaults for every appliance of the file, merged under each one.
 * - `extends = "base"` merges another entry's options (after its own `extends`, chains allowed)
 *   under the extender's. A missing base or a cycle is refused naming both ends.
 * - An entry whose name starts with `.` is a template: it can be extended, it never runs.
 * - Merging: `env`, `settings`, `specOptions` and `hooks` (per event) merge key by key; every other
 *   key (`depends`, `args`, `readiness`, …) is replaced whole. Order, lowest first: `_`, the
 *   bases from the furthest, the entry itself.
 * - Refused, each with the file's line (`apps.toml:7: unknown key "colour" in [web]`) as a
 *   LivelyError `bad_request` with details `{ file, line, key }`: syntax errors, unknown keys (also
 *   nested ones), bad values, two entries with the same name once the spec suffix is stripped, a
 *   config that config.ts refuses (a runner's missing or foreign field), an unknown extension, and
 *   a file over 1 MiB (`too_large`).
 * - Not refused: `depends` on an appliance the file does not define (it may exist already); the
 *   manager checks the whole graph when it creates them.
 *
 * ```ts
 * const { appliances, defaults } = await loadApplianceFile("apps.toml");
 * for (const { config, source } of appliances) console.log(config.name, `${source.file}:${source.line}`);
 * ```
 *
 * Owns the file format's contract; must not import api/, cli/, gateway/, store/.
 */
import { readFile, stat } from "node:fs/promises";
import { extname } from "node:path";
import { LivelyError } from "../../errors.ts";
import { type ApplianceDefaults, type LoadedAppliance, resolveEntries } from "./entries.ts";
import { parseToml } from "./toml-lines.ts";
import { parseYaml } from "./yaml-lines.ts";

export type { ApplianceDefaults, LoadedAppliance } from "./entries.ts";

export type ApplianceFileFormat = "toml" | "yaml";

export interface ApplianceFile {
  /** In the order of the file; templates are left out. */
  appliances: LoadedAppliance[];
  /** The `_` entry, checked (empty when the file has none). */
  defaults: ApplianceDefaults;
}

export const MAX_APPLIANCE_FILE_BYTES = 1024 * 1024;

const FORMATS: Record<string, ApplianceFileFormat> = { ".toml": "toml", ".yaml": "yaml", ".yml": "yaml" };

/** The format a file name says, or a refusal naming the extensions this takes. */
export function applianceFileFormat(path: string): ApplianceFileFormat {
  const format = FORMATS[extname(path).toLowerCase()];
  if (!format) {
    throw new LivelyError("bad_request", `${path}: an appliance file ends in ${Object.keys(FORMATS).join(", ")}`, {
      file: path,
      extensions: Object.keys(FORMATS),
    });
  }
  return format;
}

export async function loadApplianceFile(path: string): Promise<ApplianceFile> {
  const format = applianceFileFormat(path);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (thrown) {
    const code = (thrown as NodeJS.ErrnoException).code;
    throw new LivelyError(code === "ENOENT" ? "not_found" : "bad_request", `${path}: cannot read it (${code ?? String(thrown)})`, {
      file: path,
    });
  }
  refuseOversize(path, size);
  return parseApplianceFile(await readFile(path, "utf8"), format, path);
}

/** `source` names the file in errors and in each appliance's `source`. */
export function parseApplianceFile(text: string, format: ApplianceFileFormat, source: string): ApplianceFile {
  refuseOversize(source, Buffer.byteLength(text));
  const { data, lineOf } = format === "toml" ? parseToml(text, source) : parseYaml(text, source);
  return resolveEntries(data, source, lineOf);
}

function refuseOversize(file: string, bytes: number): void {
  if (bytes > MAX_APPLIANCE_FILE_BYTES) {
    throw new LivelyError("too_large", `${file}: ${bytes} bytes; an appliance file holds at most ${MAX_APPLIANCE_FILE_BYTES} (1 MiB)`, {
      file,
      bytes,
      limit: MAX_APPLIANCE_FILE_BYTES,
    });
  }
}
