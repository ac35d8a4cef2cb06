/**
 * An `{http}` hook: POST the event as JSON to the URL; any answer but 2xx is a failure, and a
 * redirect is not followed (a webhook that moved is a configuration to fix, and a POST must not
 * silently become a GET). Ended by the caller's signal. Must not import api/, cli/, gateway/, store/.
 */
import type { HookPayload } from "./payload.ts";

export async function runHttpHook(url: string, payload: HookPayload, options: { signal: AbortSignal }): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "lively-appliance-hook" },
      body: JSON.stringify(payload),
      redirect: "manual",
      signal: options.signal,
    });
  } catch (thrown) {
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    throw new Error(`POST ${url} failed: ${error.message}${cause}`, { cause: error });
  }
  // The answer's body is not read: only its status counts, and a slow body must not hold the hook.
  await response.body?.cancel().catch(() => undefined);
  if (response.status < 200 || response.status > 299) throw new Error(`POST ${url} answered ${response.status}`);
}
