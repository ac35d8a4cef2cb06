/**
 * Deploy-time check of an artifact: load it in a throwaway isolate, run its top-level code,
 * and read the shape of its exports. The node never runs stored code in its own heap.
 *
 * Accepted: a default export that is an object with a `fetch` function (Workers module
 * syntax), and/or named exports that are functions. Anything else is `invalid_code`, with
 * the message and location V8 gives.
 */
import { SourceMap } from "node:module";
import { syntaxHint } from "../../code/language-level.ts";
import { LivelyError } from "../../errors.ts";
import type { ExportShape, Untrusted } from "../isolate/protocol.ts";
import { EXPORT_SHAPE_SOURCE } from "../isolate-code.generated.ts";
import type { ModuleFetch } from "../sandbox.ts";
import { fetchHandlers } from "./fetch-handler.ts";
import type { IvmReference } from "./isolated-vm.ts";
import { createModuleIsolate, evaluateModule, ModuleLoadFailure } from "./module-isolate.ts";

export interface ArtifactShape {
  /** Names of the exported functions; `default` when the default export has `fetch` or is a function. */
  exports: string[];
  /** Which of the two the default export is (absent: no default export). */
  defaultKind?: "handler" | "function";
}

export interface ValidateOptions {
  memoryLimitMb?: number;
  /** CPU budget for top-level code, its top-level awaits' continuations included. */
  timeoutMs?: number;
  /** Wall budget, for top-level `await` that never settles. */
  wallTimeoutMs?: number;
  /** The module's fetch (its allowlist), for a top-level `await fetch(...)`; without it fetch rejects. */
  fetch?: ModuleFetch;
}

/** The probe's answer, checked: module code ran in that isolate and may have replaced JSON.stringify. */
function parseShape(raw: unknown): ExportShape {
  const bad = new LivelyError("invalid_code", "the module's top-level code broke the export check (did it replace JSON or Object?)");
  if (typeof raw !== "string") throw bad;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw bad;
  }
  const { exports, problems, defaultKind } = (parsed ?? {}) as Untrusted<ExportShape>;
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.length <= 10_000 && v.every((x) => typeof x === "string");
  if (!strings(exports) || !strings(problems)) throw bad;
  if (defaultKind !== undefined && defaultKind !== "handler" && defaultKind !== "function") throw bad;
  return defaultKind === undefined ? { exports, problems } : { exports, problems, defaultKind };
}

/** Where in the artifact an error happened, as the V8 stack says ("module.js:2:7"). */
function artifactPosition(error: Error): { line: number; column: number } | undefined {
  const match = /module\.js:(\d+):(\d+)/.exec(error.stack ?? "");
  return match ? { line: Number(match[1]), column: Number(match[2]) } : undefined;
}

/** The error's message and its place in the source (through the source map) or the artifact. */
function describe(error: unknown, sourceMap: string | undefined): { message: string; details?: Record<string, unknown> } {
  if (!(error instanceof Error)) return { message: String(error) };
  const at = artifactPosition(error);
  if (!at) return { message: error.message };
  if (sourceMap) {
    try {
      const entry = new SourceMap(JSON.parse(sourceMap)).findEntry(at.line - 1, at.column - 1) as {
        originalSource?: string;
        originalLine?: number;
        originalColumn?: number;
      };
      if (entry.originalSource !== undefined && entry.originalLine !== undefined && entry.originalColumn !== undefined) {
        const file = entry.originalSource.replace(/^(\.\.\/)+/, "");
        const place = { file, line: entry.originalLine + 1, column: entry.originalColumn + 1 };
        return { message: `${place.file}:${place.line}:${place.column}: ${error.message}`, details: place };
      }
    } catch {
      // A broken map only costs the nicer location.
    }
  }
  return { message: `${error.message} (at the compiled module's line ${at.line}, column ${at.column})`, details: at };
}

/** syntaxHint for a SyntaxError V8 reported while parsing `artifact`, at the position its stack gives. */
function parseHint(error: unknown, artifact: string): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const at = artifactPosition(error);
  const message = error.message.replace(/ \[module\.js:\d+:\d+\]$/, "");
  return at ? syntaxHint(message, artifact, at.line, at.column) : undefined;
}

export async function validateArtifact(artifact: string, options: ValidateOptions = {}, sourceMap?: string): Promise<ArtifactShape> {
  // The same Web platform as serving: top-level code may use URL, TextEncoder, crypto…
  const cpuMs = options.timeoutMs ?? 1000;
  // timerTimeoutMs: a top-level await's continuation runs as a timer or host-work task, under the same CPU limit.
  const fetches = fetchHandlers(options.fetch);
  const target = await createModuleIsolate({
    memoryMb: options.memoryLimitMb ?? 128,
    timerTimeoutMs: cpuMs,
    asyncHandlers: { fetch: fetches.fetch, fetchBody: fetches.fetchBody },
    onDispose: fetches.dispose,
  });
  try {
    const { context } = target;
    // Before the module's top-level code, which may replace Object.keys or JSON for itself (../isolate/export-shape.ts).
    const probe = context.evalClosureSync(EXPORT_SHAPE_SOURCE, [], {
      result: { reference: true },
      filename: "lively:exports",
    }) as IvmReference;
    let namespace: IvmReference;
    try {
      namespace = await evaluateModule(target, artifact, { cpuMs, wallMs: options.wallTimeoutMs ?? 5000 });
    } catch (error) {
      if (!(error instanceof ModuleLoadFailure)) throw error;
      if (error.stage === "imports")
        throw new LivelyError("invalid_code", `${error.message}; deploy it with the lively CLI so imports are bundled`);
      if (error.stage === "unfinished") throw new LivelyError("invalid_code", error.message);
      const { message, details } = describe(error.original, sourceMap);
      const what = error.stage === "parse" ? "the module does not parse" : "the module's top-level code throws";
      // Syntax this V8 lacks but a newer Node's has: say which feature and which Node (code/language-level.ts).
      const hint = error.stage === "parse" ? parseHint(error.original, artifact) : undefined;
      if (hint) throw new LivelyError("invalid_code", `${what}: ${message}; ${hint}`, { ...details, hint });
      throw new LivelyError("invalid_code", `${what}: ${message}`, details);
    }
    const shape = parseShape(await probe.apply(undefined, [namespace.derefInto()], { result: { copy: true }, timeout: 1000 }));
    if (shape.problems.length > 0) {
      throw new LivelyError("invalid_code", `the module's exports have the wrong shape: ${shape.problems.join("; ")}`, {
        problems: shape.problems,
      });
    }
    if (shape.exports.length === 0) {
      throw new LivelyError(
        "invalid_code",
        "the module exports nothing: export default { fetch(request, env, ctx) { … } } or named functions",
      );
    }
    return shape.defaultKind === undefined
      ? { exports: shape.exports.sort() }
      : { exports: shape.exports.sort(), defaultKind: shape.defaultKind };
  } finally {
    target.dispose();
  }
}
