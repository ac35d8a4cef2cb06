/**
 * Who may reach a version (DESIGN.md, HTTP): channels are public; a pin needs a token with
 * `read` scope unless the module allows public pins (`lively config M --public-pins`), so a
 * version rolled back for a reason cannot be reached by anyone who guesses its number; a
 * channel the module marks private (`--private-channel beta`) needs one too.
 *
 * The token travels in `x-lively-token: <token>`, a header the module never sees: it is taken
 * out of the headers handed to the module on every request, guarded or not, so no module can
 * harvest platform tokens from its callers. `Authorization: Bearer` is not accepted here: it
 * belongs to the module (apps put their own users' tokens there), and taking it would either
 * strip the module's credentials or hand ours to it. Nor is a query parameter: the module sees
 * the full URL, and URLs end up in logs.
 *
 * Answers: no token 401 `unauthorized` (saying what to send); unknown or revoked 401; a scope
 * below `read` 403 (today every scope includes read, so this cannot happen yet).
 *
 * Owns: the access rule and the token header. Must not import api/, cli/.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { TokenVerifier } from "../auth/token-cache.ts";
import { type Scope, scopeAllows } from "../auth/tokens.ts";
import { LivelyError } from "../errors.ts";

export const TOKEN_HEADER = "x-lively-token";
const NEEDED: Scope = "read";

/** Why a request needs a token: it pins a version, or names a private channel. */
export type Guard = { kind: "pin"; version: number } | { kind: "private-channel"; channel: string };

/** The access settings of a module, as the channel index holds them (absent: the defaults). */
export interface AccessSettings {
  publicPins: boolean;
  privateChannels: readonly string[];
}

export function pinGuard(settings: AccessSettings | undefined, version: number): Guard | undefined {
  return settings?.publicPins ? undefined : { kind: "pin", version };
}

export function channelGuard(settings: AccessSettings | undefined, channel: string): Guard | undefined {
  return settings && settings.privateChannels.length > 0 && settings.privateChannels.includes(channel)
    ? { kind: "private-channel", channel }
    : undefined;
}

function what(module: string, guard: Guard): string {
  return guard.kind === "pin" ? `pinning version ${guard.version} of '${module}'` : `channel '${guard.channel}' of '${module}'`;
}

/** Let the request through, or throw 401/403 saying what to send. */
export async function admit(tokens: TokenVerifier, headers: IncomingHttpHeaders, module: string, guard: Guard): Promise<void> {
  const sent = headers[TOKEN_HEADER];
  const token = Array.isArray(sent) ? sent[0] : sent;
  if (token === undefined || token.trim() === "") {
    const pins = guard.kind === "pin" ? ` (or the module's owner allows public pins: lively config ${module} --public-pins)` : "";
    throw new LivelyError(
      "unauthorized",
      `${what(module, guard)} needs a token with ${NEEDED} scope: send it as '${TOKEN_HEADER}: <token>'${pins}`,
      { module, header: TOKEN_HEADER },
    );
  }
  const record = await tokens.verify(token.trim());
  if (!record) throw new LivelyError("unauthorized", `the ${TOKEN_HEADER} token is not known or was revoked`, { module });
  if (!scopeAllows(record.scope, NEEDED)) {
    throw new LivelyError("forbidden", `token '${record.name}' has scope '${record.scope}'; ${what(module, guard)} needs '${NEEDED}'`, {
      scope: record.scope,
      needed: NEEDED,
    });
  }
}

/** Raw header pairs (name, value, name, value…) without the token header, whatever its case. */
export function withoutToken(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === TOKEN_HEADER.length && name.toLowerCase() === TOKEN_HEADER) continue;
    out.push(name, raw[i + 1] as string);
  }
  return out;
}
