/**
 * Admin tokens. A token is 32 random bytes shown once; only its sha256 is stored (a fast
 * hash suffices: the token is random, not a password someone chose). Scopes are ordered:
 * read < deploy < admin. The first start of a node on an empty store creates the `admin`
 * token and writes it to `<data-dir>/admin.token` (mode 0600) for the CLI on that machine.
 *
 * Owns: token generation, hashing, scope checks, the bootstrap. Imports store/ only.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tokenNotFound } from "../code/errors.ts";
import { LivelyError } from "../errors.ts";
import {
  countActiveAdmins,
  countTokens,
  findTokenByHash,
  findTokenByName,
  insertToken,
  listTokens,
  revokeToken,
  type Scope,
  type TokenRecord,
} from "../store/queries/tokens.ts";
import type { Store } from "../store/store.ts";

export type { Scope, TokenRecord };
export const SCOPES: readonly Scope[] = ["read", "deploy", "admin"];
export const ADMIN_TOKEN_FILE = "admin.token";
const TOKEN_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/i;

/** What generateToken makes: anything else is no token of ours, and is refused without a query. */
export const TOKEN_SHAPE = /^lively_[A-Za-z0-9_-]{43}$/;

export function generateToken(): string {
  return `lively_${randomBytes(32).toString("base64url")}`;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function scopeAllows(held: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(held) >= SCOPES.indexOf(needed);
}

export function assertScope(value: unknown): asserts value is Scope {
  if (typeof value !== "string" || !(SCOPES as readonly string[]).includes(value)) {
    throw new LivelyError("bad_request", `invalid scope ${JSON.stringify(value)}: use read, deploy or admin`, { field: "scope" });
  }
}

export function assertTokenName(value: unknown): asserts value is string {
  if (typeof value !== "string" || !TOKEN_NAME.test(value)) {
    throw new LivelyError("bad_request", `invalid token name ${JSON.stringify(value)}: 1-63 letters, digits, '.', '_' or '-'`, {
      field: "name",
    });
  }
}

/** The token behind a bearer header, if it is known and not revoked. */
export async function authenticate(store: Store, token: string): Promise<TokenRecord | undefined> {
  const record = await store.read((db) => findTokenByHash(db, hashToken(token)));
  return record && record.revokedAt === null ? record : undefined;
}

export async function createToken(
  store: Store,
  input: { name: string; scope: Scope; actor: string },
): Promise<{ name: string; scope: Scope; token: string }> {
  assertTokenName(input.name);
  assertScope(input.scope);
  const token = generateToken();
  // Unordered: no history row, and the insert is safe beside any other writer (ON CONFLICT DO NOTHING).
  const created = await store.writeUnordered((tx) =>
    insertToken(tx, { name: input.name, hash: hashToken(token), scope: input.scope, createdBy: input.actor }),
  );
  if (!created) {
    throw new LivelyError(
      "conflict",
      `a token named '${input.name}' exists already (revoked tokens keep their names, for the history); pick another name`,
      {
        name: input.name,
      },
    );
  }
  return { name: input.name, scope: input.scope, token };
}

export async function tokensList(store: Store): Promise<TokenRecord[]> {
  return store.read((db) => listTokens(db));
}

export async function revokeTokenNamed(store: Store, input: { name: string }): Promise<void> {
  assertTokenName(input.name);
  // Ordered although it writes no history: "is this the last admin?" must see every other
  // revoke, and ordered writes are the ones serialised platform-wide.
  const revoked = await store.write(async (tx) => {
    const token = await findTokenByName(tx, input.name);
    if (token?.scope === "admin" && token.revokedAt === null && (await countActiveAdmins(tx)) === 1) {
      throw new LivelyError(
        "conflict",
        `'${input.name}' is the last admin token; create another admin token first, or nobody could manage this platform`,
        { name: input.name },
      );
    }
    return revokeToken(tx, input.name);
  });
  if (!revoked) throw tokenNotFound(input.name);
}

/**
 * On a store with no tokens, create `admin` and write it to the data dir. Several nodes
 * starting at once against one new database race on the insert; the one that wins writes
 * the file. Returns the path written, if any.
 */
export async function bootstrapAdminToken(store: Store, dataDir: string): Promise<string | undefined> {
  if ((await store.read((db) => countTokens(db))) > 0) return undefined;
  const token = generateToken();
  // Unordered: nodes racing here both may see no token, and ON CONFLICT (name) lets one insert win.
  const created = await store.writeUnordered(async (tx) => {
    if ((await countTokens(tx)) > 0) return false;
    return insertToken(tx, { name: "admin", hash: hashToken(token), scope: "admin", createdBy: "bootstrap" });
  });
  if (!created) return undefined;
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
