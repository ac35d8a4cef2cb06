/**
 * The client's HTTP: JSON to and from a node's admin API (`/_lively/api/v1/…`) with `fetch`,
 * a bearer token, and every refusal as a LivelyClientError carrying the node's code.
 *
 * The token lives in this closure only: it is sent as a header and never stored on an object
 * that could be logged, nor put in a message.
 */
import { LivelyClientError } from "./errors.ts";

const API_PREFIX = "/_lively/api/v1";

export interface HttpOptions {
  url: string;
  token?: string;
  fetch?: typeof fetch;
}

export interface Http {
  readonly baseUrl: string;
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** As `request`, with the answer's headers. */
  exchange<T>(method: string, path: string, body?: unknown): Promise<{ body: T; headers: Headers }>;
}

export function createHttp(options: HttpOptions): Http {
  let baseUrl: string;
  try {
    baseUrl = new URL(options.url).toString().replace(/\/$/, "");
  } catch {
    throw new LivelyClientError("bad_request", `invalid node URL ${JSON.stringify(options.url)}: use http://host:port`);
  }
  const token = options.token;
  const send = options.fetch ?? globalThis.fetch;

  const http: Http = {
    baseUrl,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      return (await http.exchange<T>(method, path, body)).body;
    },
    async exchange<T>(method: string, path: string, body?: unknown): Promise<{ body: T; headers: Headers }> {
      const headers: Record<string, string> = { accept: "application/json" };
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers["content-type"] = "application/json";
      let response: Response;
      try {
        response = await send(`${baseUrl}${API_PREFIX}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
        throw new LivelyClientError("unavailable", `cannot reach a Lively node at ${baseUrl} (${cause})`, undefined, undefined, {
          cause: error,
        });
      }
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text === "" ? undefined : JSON.parse(text);
      } catch {
        throw new LivelyClientError("internal", `the node answered ${response.status} with a body that is not JSON`, response.status);
      }
      if (!response.ok) throw failure(response.status, parsed, token !== undefined);
      return { body: parsed as T, headers: response.headers };
    },
  };
  return http;
}

/** The node's error body (`{"error":{"code","message","details"}}`) as an error with its code. */
function failure(status: number, parsed: unknown, hasToken: boolean): LivelyClientError {
  const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "string" ? error.code : status >= 500 ? "internal" : "bad_request";
  let message = typeof error?.message === "string" ? error.message : `the node answered ${status}`;
  if (code === "unauthorized" && !hasToken) message += "; no token given: createClient({ url, token })";
  const details = error?.details !== null && typeof error?.details === "object" ? (error.details as Record<string, unknown>) : undefined;
  return new LivelyClientError(code, message, status, details);
}
