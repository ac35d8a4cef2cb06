/**
 * `lively kv put B KEY VALUE [--ttl S] [--expect V]`: write a key. VALUE is read as `lively call`
 * reads its arguments: JSON when it parses (`3`, `true`, `{"a":1}`, `"quoted"`), else the text as
 * a string (`hello world`). `--string` always stores the text as a string (`--string 3` is "3").
 * `--file F` stores a file's bytes (`-` reads stdin) instead of a VALUE.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { LivelyError } from "../../errors.ts";
import { defineCommand } from "../core/define.ts";
import { keyLabel, keyPath, type PutView } from "../core/kv.ts";
import { intOption } from "../core/parse.ts";
import { parseArg } from "./call.ts";

function readBytes(path: string, cwd: string): Buffer {
  try {
    return readFileSync(path === "-" ? 0 : resolve(cwd, path));
  } catch (error) {
    throw new LivelyError(
      "bad_request",
      `cannot read ${path === "-" ? "stdin" : path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

function parseMetadata(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new LivelyError("bad_request", `--metadata takes JSON, got ${JSON.stringify(text)}`);
  }
}

export default defineCommand({
  name: "kv put",
  args: "<bucket> <key> [value]",
  summary: "write a key: VALUE is JSON when it parses, else a string; --file stores bytes",
  options: (command) =>
    command
      .option("--ttl <seconds>", "expire after this many seconds (1 to 315360000), by the database's clock")
      .option("--expect <version>", "only if the key's live version is this; 0: only if it holds no value")
      .option("--string", "store VALUE as a string even if it parses as JSON")
      .option("--file <path>", "store this file's bytes ('-': stdin) instead of a VALUE")
      .option("--metadata <json>", "JSON kept beside the value (at most 1 KiB)"),
  examples: [
    "lively kv put shopping eggs 3",
    `lively kv put shopping list '["eggs","milk"]' --ttl 60`,
    "lively kv put shopping note 'buy more eggs'",
    "lively kv put shopping eggs 4 --expect 17",
    "lively kv put files logo --file logo.png",
  ],
  async run([bucket, key, value], options, { io, out, client }) {
    const file = options.file;
    if ((value === undefined) === (file === undefined)) {
      throw new LivelyError("bad_request", "kv put takes a VALUE or --file PATH (one of them)");
    }
    if (file !== undefined && options.string === true) throw new LivelyError("bad_request", "--string applies to a VALUE, not to --file");
    const body: Record<string, unknown> =
      file !== undefined
        ? { kind: "bytes", value: readBytes(file, io.cwd).toString("base64") }
        : { value: options.string === true ? value : parseArg(value as string) };
    const ttl = intOption(options.ttl, "--ttl", 1);
    if (ttl !== undefined) body.ttl = ttl;
    const expect = intOption(options.expect, "--expect");
    if (expect !== undefined) body.expect = expect;
    const metadata = parseMetadata(options.metadata);
    if (metadata !== undefined) body.metadata = metadata;
    const written = await client().request<PutView>("PUT", keyPath(bucket, key), body);
    const expires = written.expiresAt ? `, expires ${written.expiresAt}` : "";
    out.result(written, `${keyLabel(bucket, key)} = version ${written.version}${expires}`);
  },
});
