/**
 * The domain's recurring errors, worded once. A message says what went wrong in the domain's
 * words; what a caller can do next is named (`details.next`), never worded as a command: each
 * boundary words it for its own audience (the CLI as a `lively …` command, cli/core/advice.ts;
 * the API leaves the key to its client).
 */
import { LivelyError } from "../errors.ts";

/** What a caller can do next, by name. */
export type NextStep =
  | "list-modules"
  | "list-versions"
  | "list-tokens"
  | "list-routes"
  | "list-ranges"
  | "list-vars"
  | "retry-with-expect"
  | "force"
  | "tag-or-force";

function notFound(message: string, details: Record<string, unknown>, next: NextStep): LivelyError {
  return new LivelyError("not_found", message, { ...details, next });
}

export function moduleNotFound(module: string): LivelyError {
  return notFound(`module '${module}' does not exist`, { module }, "list-modules");
}

export function versionNotFound(module: string, version: number): LivelyError {
  return notFound(`module '${module}' has no version ${version}`, { module, version }, "list-versions");
}

export function channelNotFound(module: string, channel: string): LivelyError {
  return notFound(`module '${module}' has no channel '${channel}'`, { module, channel }, "list-versions");
}

export function tokenNotFound(name: string): LivelyError {
  return notFound(`no active token named '${name}'`, { name }, "list-tokens");
}

export function routeNotFound(route: string): LivelyError {
  return notFound(`there is no route '${route}'`, { route }, "list-routes");
}

export function rangeNotFound(range: string): LivelyError {
  return notFound(`${range} is not an allowed range`, { range }, "list-ranges");
}

export function varsNotFound(module: string, names: readonly string[]): LivelyError {
  const listed = names.map((n) => `'${n}'`).join(", ");
  return notFound(`module '${module}' has no var ${listed}; nothing was removed`, { module, names }, "list-vars");
}

export function exportNotFound(module: string, version: number, fn: string, exported: readonly string[]): LivelyError {
  const names = exported.length > 0 ? exported.join(", ") : "no named functions";
  return new LivelyError("not_found", `${module}@${version} exports no function '${fn}' (it exports: ${names})`, { module, version });
}

export function expectMismatch(what: string, expected: number, current: number, details: Record<string, unknown>): LivelyError {
  return new LivelyError("conflict", `${what} is at version ${current}, not ${expected} as expected; nothing was written`, {
    ...details,
    expected,
    current,
    next: "retry-with-expect" satisfies NextStep,
  });
}
