/**
 * Inside the isolate (see bindings.ts): fetch(). The host carries it out (createHostFetch)
 * under the module's allowlist, over the host-async channel (protocol.ts, FetchPayload and
 * FetchedResponse); an abort of the request's signal cancels it there too. A response body of
 * unknown length (or a large one) arrives as it is read (arrivingBody, host work "fetchBody").
 */
import { def } from "./bindings.ts";
import { bodyInternals, kWire } from "./body.ts";
import { utf8Encode } from "./encoding.ts";
import { headerList } from "./headers.ts";
import { hostAsync } from "./host-async.ts";
import type { FetchPayload, RedirectMode } from "./protocol.ts";
import { Request } from "./request.ts";
import { Response } from "./response.ts";
import { pullStream, type ReadableStream } from "./streams.ts";

const FETCH_REDIRECT: readonly string[] = ["follow", "manual", "error"];
export async function fetch(input: unknown, init: ConstructorParameters<typeof Request>[1] = undefined) {
  const request = input instanceof Request && init === undefined ? input : new Request(input, init);
  if (request.bodyUsed) throw new TypeError("fetch: the request's body was already read");
  // A stream body is read whole first: the host's fetch takes bytes (streaming it up is not done yet).
  await bodyInternals.settle(request);
  const body = bodyInternals.get(request);
  const bytes = body === null ? null : typeof body === "string" ? utf8Encode(body) : body;
  const plain: FetchPayload = {
    method: request.method,
    url: request.url,
    headers: headerList(request.headers).map((p) => [p[0], p[1]]),
    body: bytes,
    redirect: FETCH_REDIRECT.includes(request.redirect) ? (request.redirect as RedirectMode) : "follow",
  };
  const out = await hostAsync("fetch", plain, init?.signal ? init.signal : input instanceof Request ? input.signal : undefined);
  const response = new Response(kWire, out);
  if (typeof out.s === "number") bodyInternals.setStream(response, arrivingBody(out.s));
  return response;
}

/**
 * A fetched body still arriving on the host (FetchedResponse `s`): read chunk by chunk as the
 * module reads it, so an endless upstream (server-sent events) is read no faster than that.
 * Cancelling it drops the host's connection.
 */
const arrivingBody = (id: number): ReadableStream =>
  pullStream(
    () => hostAsync("fetchBody", { i: id }),
    () => hostAsync("fetchBody", { i: id, c: 1 }),
  );
def("fetch", fetch);
