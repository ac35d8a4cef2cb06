/**
 * An `{http}` hook: POST the event as JSON to the URL; any answer but 2xx is a failure, and a
 * redirect is not followed (a webhook that moved is a configuration to fix, and a POST must not
 * silently become a GET). Ended by the caller's signal.
 *
 * A webhook is outbound traffic the node sends for whoever configured the appliance, so it goes
 * through the same address guard as modules' fetch (runtime/host-fetch/guarded-agent.ts): a
 * loopback, private, link-local or metadata address is refused after DNS, at connect time (no
 * rebinding), unless it is in a range the operator allowed (`lively network allow RANGE`, the
 * stored rules: the `addresses` policy the node hands in). Without a policy, nothing but public
 * addresses.
 *
 * Must not import api/, cli/, gateway/, store/.
 */
import { isIP } from "node:net";
import { type Agent, fetch } from "undici";
import { AddressPolicy } from "../../code/address-ranges.ts";
import { ADDRESS_HINT, AddressRefused, createGuardedAgent, type LookupAll, systemLookup } from "../../runtime/host-fetch/guarded-agent.ts";
import type { HookPayload } from "./payload.ts";

/** The connection pool webhooks go through, rebuilt when the operator's ranges change. */
export class WebhookAddressGuard {
  private agent: { policy: AddressPolicy; dispatcher: Agent } | undefined;

  constructor(
    readonly addresses: () => AddressPolicy = () => AddressPolicy.STRICT,
    private readonly lookup: LookupAll = systemLookup,
  ) {}

  /** The policy now, and the Agent that enforces it. */
  current(): { policy: AddressPolicy; dispatcher: Agent } {
    const policy = this.addresses();
    if (this.agent && (this.agent.policy === policy || this.agent.policy.sameAs(policy))) return this.agent;
    void this.agent?.dispatcher.close().catch(() => undefined);
    this.agent = { policy, dispatcher: createGuardedAgent({ refusal: (address) => policy.refusal(address), lookup: this.lookup }) };
    return this.agent;
  }

  /** Close the pool's idle connections (shutdown); a later hook opens a new pool. */
  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    await agent?.dispatcher.close().catch(() => undefined);
  }
}

const STRICT_GUARD = new WebhookAddressGuard();

/** The refusal hidden in a failed fetch's causes, if that is why it failed. */
function refusalIn(error: unknown): AddressRefused | undefined {
  for (let at: unknown = error, depth = 0; at instanceof Error && depth < 5; at = at.cause, depth++) {
    if (at instanceof AddressRefused) return at;
  }
  return undefined;
}

export async function runHttpHook(
  url: string,
  payload: HookPayload,
  options: { signal: AbortSignal; guard?: WebhookAddressGuard },
): Promise<void> {
  const { policy, dispatcher } = (options.guard ?? STRICT_GUARD).current();
  // An IP literal is judged before anything is sent (the Agent judges every address again at connect).
  const host = URL.canParse(url) ? new URL(url).hostname.replace(/^\[(.*)\]$/, "$1") : "";
  const literal = isIP(host) !== 0 ? policy.refusal(host) : undefined;
  if (literal !== undefined) throw new Error(`POST ${url} refused: ${literal}; ${ADDRESS_HINT}`);
  let response: Awaited<ReturnType<typeof fetch>>;
  try {
    response = await fetch(url, {
      dispatcher,
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "lively-appliance-hook" },
      body: JSON.stringify(payload),
      redirect: "manual",
      signal: options.signal,
    });
  } catch (thrown) {
    const refused = refusalIn(thrown);
    if (refused) throw new Error(`POST ${url} refused: ${refused.detail}; ${ADDRESS_HINT}`, { cause: thrown });
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    throw new Error(`POST ${url} failed: ${error.message}${cause}`, { cause: error });
  }
  // The answer's body is not read: only its status counts, and a slow body must not hold the hook.
  await response.body?.cancel().catch(() => undefined);
  if (response.status < 200 || response.status > 299) throw new Error(`POST ${url} answered ${response.status}`);
}
