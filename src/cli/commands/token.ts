/** `lively token create|ls|revoke`: admin tokens. A new token is printed once, never again. */
import type { TokenRecord } from "../../auth/tokens.ts";
import { LivelyError } from "../../errors.ts";
import { defineCommand } from "../core/define.ts";
import { table } from "../core/parse.ts";

export const tokenCreate = defineCommand({
  name: "token create",
  summary: "create a token (printed once; only its hash is stored)",
  options: (command) =>
    command
      .option("--name <name>", "a name for the token; the history records it as the actor")
      .option("--scope <scope>", "read | deploy | admin (default read)"),
  examples: ["lively token create --name ci --scope deploy"],
  async run(_args, options, { out, client }) {
    const name = options.name;
    if (!name) throw new LivelyError("bad_request", "token create needs --name <name>");
    const created = await client().request<{ name: string; scope: string; token: string }>("POST", "/tokens", {
      name,
      scope: options.scope ?? "read",
    });
    out.result(created, `${created.token}\n`);
    out.progress(`token '${created.name}' (${created.scope}) created; it is shown only now: store it as LIVELY_TOKEN`);
  },
});

export const tokenList = defineCommand({
  name: "token ls",
  summary: "list tokens (names and scopes; token values are never shown again)",
  async run(_args, _options, { out, client }) {
    const tokens = await client().request<
      (Omit<TokenRecord, "createdAt" | "revokedAt"> & { createdAt: string; revokedAt: string | null })[]
    >("GET", "/tokens");
    out.result(tokens, () =>
      table([
        ["NAME", "SCOPE", "CREATED", "BY", "REVOKED"],
        ...tokens.map((t) => [t.name, t.scope, t.createdAt, t.createdBy, t.revokedAt ?? ""]),
      ]),
    );
  },
});

export const tokenRevoke = defineCommand({
  name: "token revoke",
  args: "<name>",
  summary: "revoke a token: requests with it get 401 from now on",
  async run([name], _options, { out, client }) {
    const result = await client().request<{ name: string; revoked: boolean }>("DELETE", `/tokens/${encodeURIComponent(name)}`);
    out.result(result, `token '${result.name}' revoked`);
  },
});
