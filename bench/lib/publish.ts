/**
 * Publish latency. Two figures:
 *  - deploy only: artifacts precompiled with compileSource(), the validator a no-op, so the
 *    time is the store transaction plus deploy's own checks and sha256;
 *  - compile + validate + deploy: what `lively deploy --code` costs the node end to end
 *    (esbuild, a throwaway isolate running the module's top level, the transaction).
 * Publishes go round-robin to a few modules, so version numbers keep increasing.
 */
import { type CompiledModule, compileSource } from "../../src/code/compile.ts";
import { type DeployInput, deploy } from "../../src/code/deploy.ts";
import { validateArtifact } from "../../src/runtime/ivm/validate-artifact.ts";
import type { Store } from "../../src/store/store.ts";
import { type Summary, summarize } from "./stats.ts";

export interface PublishPlan {
  /** Timed deploy-only publishes (after the warm-up). */
  publishes: number;
  /** Timed compile + validate + deploy publishes (after the warm-up). */
  fullPublishes: number;
  /** Distinct modules the publishes rotate over. */
  modules: number;
  warmup: number;
}

export interface PublishResult {
  deployOnly: Summary;
  full: { total: Summary; compile: Summary; validate: Summary; deploy: Summary };
  precompileMs: number;
  finalVersion: number;
}

const noValidate = async () => ({ exports: ["default"] });

function sourceOf(module: string, n: number): string {
  return `const started = ${n};

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    return Response.json({ module: "${module}", build: started, path: url.pathname });
  },
};

export function sum(a: number, b: number): number {
  return a + b + ${n};
}
`;
}

function inputOf(module: string, compiled: CompiledModule, n: number): DeployInput {
  return {
    module,
    entry: compiled.entry,
    files: compiled.files,
    artifact: compiled.artifact,
    dependencies: compiled.dependencies,
    message: `bench publish ${n}`,
    actor: "bench",
  };
}

export async function benchPublish(store: Store, plan: PublishPlan, prefix: string): Promise<PublishResult> {
  const moduleOf = (n: number) => `${prefix}-${String(n % plan.modules).padStart(2, "0")}`;

  // Compile every artifact first; only deploy() is inside the timed region.
  const compileStart = performance.now();
  const total = plan.warmup + plan.publishes;
  const compiled: CompiledModule[] = [];
  for (let n = 0; n < total; n++) compiled.push(await compileSource(sourceOf(moduleOf(n), n)));
  const precompileMs = performance.now() - compileStart;

  const samples: number[] = [];
  let finalVersion = 0;
  for (let n = 0; n < total; n++) {
    const input = inputOf(moduleOf(n), compiled[n] as CompiledModule, n);
    const start = performance.now();
    const result = await deploy(store, input, noValidate);
    const elapsed = performance.now() - start;
    if (result.unchanged) throw new Error(`publish ${n} was unchanged: the bench sources must be distinct`);
    if (n >= plan.warmup) samples.push(elapsed);
    finalVersion = Math.max(finalVersion, result.version);
  }

  // The end-to-end path, as the node runs it for `deploy --code`: compile, then deploy()
  // with the real isolate validator. Numbering continues so every source is new.
  const parts = { total: [] as number[], compile: [] as number[], validate: [] as number[], deploy: [] as number[] };
  let validateMs = 0;
  const validate = async (artifact: string) => {
    const start = performance.now();
    try {
      return await validateArtifact(artifact);
    } finally {
      validateMs = performance.now() - start;
    }
  };
  const fullWarmup = Math.min(plan.warmup, 5);
  for (let i = 0; i < fullWarmup + plan.fullPublishes; i++) {
    const n = total + i;
    const t0 = performance.now();
    const module = await compileSource(sourceOf(moduleOf(n), n));
    const t1 = performance.now();
    await deploy(store, inputOf(moduleOf(n), module, n), validate);
    const t2 = performance.now();
    if (i < fullWarmup) continue;
    parts.total.push(t2 - t0);
    parts.compile.push(t1 - t0);
    parts.validate.push(validateMs);
    parts.deploy.push(t2 - t1 - validateMs);
  }

  return {
    deployOnly: summarize(samples),
    full: {
      total: summarize(parts.total),
      compile: summarize(parts.compile),
      validate: summarize(parts.validate),
      deploy: summarize(parts.deploy),
    },
    precompileMs,
    finalVersion,
  };
}
