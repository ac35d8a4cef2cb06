/** The two decisions OTP makes when a child ends: restart at all, and restart whom. */
import type { ExitReason, RestartType, Strategy } from "./supervisor.ts";

export function shouldRestart(restart: RestartType, reason: Extract<ExitReason, "normal" | "crash">): boolean {
  if (restart === "permanent") return true;
  if (restart === "transient") return reason === "crash";
  return false;
}

/** The children to stop and start again, in start order, when `children[failed]` must restart. */
export function restartGroup<T>(strategy: Strategy, children: readonly T[], failed: number): T[] {
  switch (strategy) {
    case "one_for_one":
      return [children[failed]];
    case "one_for_all":
      return [...children];
    case "rest_for_one":
      return children.slice(failed);
  }
}
