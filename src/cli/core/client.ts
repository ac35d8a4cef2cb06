/**
 * The CLI's client of a node's admin API. Where to connect: `--url`, else `LIVELY_URL`,
 * else http://127.0.0.1:8080. The token: `LIVELY_TOKEN`, else `<data dir>/admin.token`
 * (the data dir from `LIVELY_DATA_DIR`, else ./.lively), which a node writes on first start.
 * The token is sent as a bearer header and never printed.
 *
 * It speaks node:http(s), not fetch: Node compiles its fetch (undici) on first use, which
 * costs a one-shot command like `lively ls` more than the whole exchange with the node.
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage, RequestOptions } from "node:http";
import { resolve } from "node:path";
import { API_PREFIX } from "../../api/prefix.ts";
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
    const response = await this.send(method, path, { body });
    const parsed = await jsonOf(response);
    if (!ok(response)) throw this.failure(statusOf(response), parsed);
    return parsed as T;
  }

  /**
   * A GET whose answer streams (NDJSON: `lively logs -f`): yields each line as it arrives.
   * Errors before the stream starts are thrown as by `request`. It returns when the node ends
   * the answer, when the connection breaks, or when `signal` aborts: the caller tells them
   * apart by its own signal.
   */
  async *lines(path: string, signal?: AbortSignal): AsyncGenerator<string> {
    let response: IncomingMessage;
    try {
      response = await this.send("GET", path, { signal, accept: "application/x-ndjson" });
    } catch (error) {
      if (signal?.aborted) return;
      throw error;
    }
    if (!ok(response)) throw this.failure(statusOf(response), await jsonOf(response).catch(() => undefined));
    response.setEncoding("utf8");
    let buffer = "";
    try {
      for await (const chunk of response as AsyncIterable<string>) {
        buffer += chunk;
        let newline = buffer.indexOf("\n");
        while (newline >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.trim() !== "") yield line;
          newline = buffer.indexOf("\n");
        }
      }
    } catch {
      // An abort or a broken connection both end the stream; see above.
    } finally {
      response.destroy();
    }
  }

  private async send(
    method: string,
    path: string,
    options: { body?: unknown; signal?: AbortSignal; accept?: string },
  ): Promise<IncomingMessage> {
    const headers: Record<string, string> = { accept: options.accept ?? "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(body));
    }
    const url = new URL(`${this.baseUrl}${API_PREFIX}${path}`);
    // Loaded on first use (`--help` needs neither); TLS only when the URL asks for it.
    const { request: send } = url.protocol === "https:" ? await import("node:https") : await import("node:http");
    const init: RequestOptions = { method, headers, signal: options.signal };
    try {
      return await new Promise<IncomingMessage>((answered, failed) => {
        const outgoing = send(url, init, answered);
        outgoing.once("error", failed);
        outgoing.end(body);
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const cause = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new LivelyError(
        "unavailable",
        `cannot reach a Lively node at ${this.baseUrl} (${cause}); start one with 'lively serve' or set LIVELY_URL`,
      );
    }
  }

  /** The node's error answer as a LivelyError with its code. */
  private failure(status: number, parsed: unknown): LivelyError {
    const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> } })?.error;
    const code = isErrorCode(error?.code) ? error.code : "internal";
    let message = typeof error?.message === "string" ? error.message : `the node answered ${status}`;
    if (code === "unauthorized" && !this.token) {
      message += "; no token found: set LIVELY_TOKEN, or run the CLI where the node's data dir (./.lively) is";
    }
    return new LivelyError(code, message, error?.details);
  }
}

const statusOf = (response: IncomingMessage): number => response.statusCode ?? 0;
const ok = (response: IncomingMessage): boolean => statusOf(response) >= 200 && statusOf(response) < 300;

async function jsonOf(response: IncomingMessage): Promise<unknown> {
  response.setEncoding("utf8");
  let text = "";
  for await (const chunk of response as AsyncIterable<string>) text += chunk;
  try {
    return text === "" ? undefined : JSON.parse(text);
  } catch {
    throw new LivelyError("internal", `the node answered ${statusOf(response)} with a body that is not JSON`);
  }
}
