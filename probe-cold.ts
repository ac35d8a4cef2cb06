import { IvmSandbox } from "./src/runtime/ivm/ivm-sandbox.ts";
import { createModuleIsolate, evaluateModule } from "./src/runtime/ivm/module-isolate.ts";
import { loadIsolatedVm } from "./src/runtime/ivm/isolated-vm.ts";
import { installHostBindings, runPrelude } from "./src/runtime/web/prelude.ts";

const ivm = loadIsolatedVm();
const now = () => Number(process.hrtime.bigint()) / 1e6;
const phases: Record<string, number[]> = {};
const rec = (k: string, v: number) => (phases[k] ??= []).push(v);
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (let i = 0; i < 25; i++) {
  let t = now();
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  rec("isolate", now() - t); t = now();
  const context = await isolate.createContext();
  rec("context", now() - t); t = now();
  const b = await installHostBindings(context, ivm, { isolate });
  rec("bindings", now() - t); t = now();
  const wire = runPrelude(isolate, context);
  rec("prelude", now() - t); t = now();
  const target = { isolate, context, bindings: b, wire, dispose() {}, loading: undefined };
  const ns = await evaluateModule(target as never, `const n = ${i};\nexport default { fetch() { return new Response('cold start ' + n) } }`, { cpuMs: 1000, wallMs: 1000 });
  rec("evaluate", now() - t); t = now();
  b.dispose(); isolate.dispose();
  rec("dispose", now() - t);
}
for (const [k, v] of Object.entries(phases)) console.log(k.padEnd(10), med(v).toFixed(2), "ms");
