/**
 * What limits a module runs under on this node. The node's flags (`lively serve --cpu-ms,
 * --wall-ms, --memory-mb, --max-body-mb`) are ceilings: a module's config (`lively config M`)
 * may lower each one for itself, never raise it, since the operator of the node, not the
 * owner of a module, decides what one module may take from it. The same numbers govern
 * serving, deploy-time validation and what `lively config M` shows as effective.
 *
 * Owns: combining the node's limits with a module's. Must not import ivm/, gateway/, api/.
 *
 *   effectiveLimits({ cpuMs: 1000, wallMs: 30000, memoryMb: 128, bodyBytes: 10 MB }, { cpuMs: 5000, memoryMb: 64 })
 *     -> { cpuMs: 1000, wallMs: 30000, memoryMb: 64, bodyBytes: 10 MB }
 */
import type { LimitName, LimitOverrides } from "../code/config.ts";
import type { SandboxLimits } from "./sandbox.ts";

/** A node's own limits: the sandbox's, plus the largest request body. */
export interface NodeLimits extends SandboxLimits {
  bodyBytes: number;
}

export const DEFAULT_BODY_BYTES = 10 * 1024 * 1024;
const MB = 1024 * 1024;

const lower = (own: number | undefined, ceiling: number) => (own === undefined ? ceiling : Math.min(own, ceiling));

/** The sandbox limits a module runs under on this node: its own where lower, the node's otherwise. */
export function effectiveSandboxLimits(node: SandboxLimits, overrides: LimitOverrides | undefined): SandboxLimits {
  return {
    cpuMs: lower(overrides?.cpuMs, node.cpuMs),
    wallMs: lower(overrides?.wallMs, node.wallMs),
    memoryMb: lower(overrides?.memoryMb, node.memoryMb),
  };
}

/** The largest request body a module accepts on this node. */
export function effectiveBodyBytes(nodeBodyBytes: number, overrides: LimitOverrides | undefined): number {
  return lower(overrides?.bodyMb === undefined ? undefined : overrides.bodyMb * MB, nodeBodyBytes);
}

export function effectiveLimits(node: NodeLimits, overrides: LimitOverrides | undefined): NodeLimits {
  return { ...effectiveSandboxLimits(node, overrides), bodyBytes: effectiveBodyBytes(node.bodyBytes, overrides) };
}

/** The node's limits in the config's units (`lively config` shows both). */
export function asConfigLimits(limits: NodeLimits): Record<LimitName, number> {
  return { cpuMs: limits.cpuMs, wallMs: limits.wallMs, memoryMb: limits.memoryMb, bodyMb: limits.bodyBytes / MB };
}
