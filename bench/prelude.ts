/**
 * The web prelude's cold start: isolate + context + host bindings + prelude (and, on Node 20, the
 * language script: web/language.ts), median of 20, with
 * a plain evalSync and with runPrelude (V8's code cache), and the prelude's size. Printed only:
 * a benchmark, not a test (it used to be one that asserted nothing).
 *
 *   npm run bench:prelude
 */
import { loadIsolatedVm } from "../src/runtime/ivm/isolated-vm.ts";
import { isolateLacks, LANGUAGE_SOURCE } from "../src/runtime/web/language.ts";
import { installHostBindings, PRELUDE_SOURCE, runPrelude } from "../src/runtime/web/prelude.ts";

const ROUNDS = 20;

async function coldStart(cached: boolean): Promise<number> {
  const ivm = loadIsolatedVm();
  const start = process.hrtime.bigint();
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = await isolate.createContext();
  const bindings = await installHostBindings(context, ivm);
  if (cached) runPrelude(isolate, context);
  else {
    if (isolateLacks(context).length > 0) context.evalSync(LANGUAGE_SOURCE);
    context.evalSync(PRELUDE_SOURCE);
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  bindings.dispose();
  isolate.dispose();
  return ms;
}

function median(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return ((sorted[Math.floor(middle - 0.5)] as number) + (sorted[Math.ceil(middle - 0.5)] as number)) / 2;
}

const evalTimes: number[] = [];
const cachedTimes: number[] = [];
await coldStart(true); // fills the code cache
for (let i = 0; i < ROUNDS; i++) {
  evalTimes.push(await coldStart(false));
  cachedTimes.push(await coldStart(true));
}
const kb = Buffer.byteLength(PRELUDE_SOURCE) / 1024;
// On a host whose V8 lacks them (Node 20, 22), the built-ins a newer V8 has run first, in every isolate (web/language.ts).
let lacks = 0;
{
  const isolate = new (loadIsolatedVm().Isolate)({ memoryLimit: 16 });
  lacks = isolateLacks(await isolate.createContext()).length;
  isolate.dispose();
}
const language = lacks > 0 ? ` + language ${(Buffer.byteLength(LANGUAGE_SOURCE) / 1024).toFixed(1)} KB` : "";
console.log(
  `web prelude: ${kb.toFixed(1)} KB${language}; cold start median of ${ROUNDS}: ${median(evalTimes).toFixed(2)} ms (evalSync), ${median(cachedTimes).toFixed(2)} ms (runPrelude, code cache)`,
);
