/**
 * The CLI's client of a node's admin API. Where to connect: `--url`, else `LIVELY_URL`,
 * else http://127.0.0.1:8080. The token: `LIVELY_TOKEN`, else `<data dir>/admin.token`
 * (the data dir from `LIVELY_DATA_DIR`, else ./.lively), which a node writes on first start.
 * The token is sent as a bearer header and never printed.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { API_PREFIX } from "../../api/app.ts";
import { isErrorCode, LivelyError } from "../../errors.ts";
import type { CliIo } from "./io.ts";

export const DEFAULT_URL = "http://127.0.0.1:8080";

export function resolveToken(io: CliIo): string | undefined {
  const fromEnv = io.env.LIVELY_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const path = resolve(io.cwd, io.env.LIVELY_DATA_DIR ?? ".lively", "admin.token");
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;

  constructor(io: CliIo, url?: string) {
    const raw = url ?? io.env.LIVELY_URL ?? DEFAULT_URL;
    try {
      this.baseUrl = new URL(raw).toString().replace(/\/$/, "");
    } catch {
      throw new LivelyError("bad_request", `invalid node URL ${JSON.stringify(raw)}: use http://host:port`);
    }
    this.token = resolveToken(io);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${API_PREFIX}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new LivelyError(
        "unavailable",
        `cannot reach a Lively node at ${this.baseUrl} (${cause}); start one with 'lively serve' or set LIVELY_URL`,
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new LivelyError("internal", `the node answered ${response.status} with a body that is not JSON`);
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> } })?.error;
      const code = isErrorCode(error?.code) ? error.code : "internal";
      let message = typeof error?.message === "string" ? error.message : `the node answered ${response.status}`;
      if (code === "unauthorized" && !this.token) {
        message += "; no token found: set LIVELY_TOKEN, or run the CLI where the node's data dir (./.lively) is";
      }
      throw new LivelyError(code, message, error?.details);
    }
    return parsed as T;
  }
}
