/**
 * What to do next, worded as a command: the CLI's half of the domain's `details.next` keys
 * (code/errors.ts). The domain names the step; only here does it become `lively …`.
 */
import type { NextStep } from "../../code/errors.ts";
import type { LivelyError } from "../../errors.ts";
import type { KvNextStep } from "../../kv/errors.ts";

const ADVICE: Record<NextStep | KvNextStep, (details: Record<string, unknown>) => string> = {
  "list-modules": () => "see 'lively ls'",
  "list-versions": (d) => `see 'lively versions ${String(d.module)}'`,
  "list-tokens": () => "see 'lively token ls'",
  "list-routes": () => "see 'lively route ls'",
  "list-ranges": () => "see 'lively network ls'",
  "list-vars": (d) => `see 'lively vars ${String(d.module)}'`,
  "retry-with-expect": (d) => `re-read and retry with --expect ${String(d.current)}`,
  force: (d) => (d.requested !== undefined ? `add --force to move it to '${String(d.requested)}'` : "add --force to do it anyway"),
  "tag-or-force": () => "use 'lively tag' to change the rollout, or --force to end it",
  "create-bucket": (d) => `create it with 'lively kv create ${String(d.bucket)}'`,
  "list-buckets": () => "see 'lively kv buckets'",
  "read-then-retry": (d) =>
    `re-read with 'lively kv get ${String(d.bucket)} ${shellWord(String(d.key))} --json', retry with --expect ${String(d.current)}`,
};

/** A word of a command: as it is when plain, else double-quoted (the advice itself sits in single quotes). */
function shellWord(word: string): string {
  return /^[\w./:@-]+$/.test(word) ? word : JSON.stringify(word);
}

/** " (advice)" for an error that names a next step, else "". */
export function adviceFor(error: LivelyError): string {
  const next = error.details?.next;
  if (typeof next !== "string" || !Object.hasOwn(ADVICE, next)) return "";
  return ` (${ADVICE[next as NextStep | KvNextStep](error.details ?? {})})`;
}
