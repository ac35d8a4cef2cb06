/**
 * Inside the isolate (see bindings.ts): fetch(). The host carries it out (createHostFetch)
 * under the module's allowlist, over the host-async channel (protocol.ts, FetchPayload and
 * FetchedResponse); an abort of the request's signal cancels it there too.
 */
import { def } from "./bindings.ts";
import { bodyInternals, kWire } from "./body.ts";
import { utf8Encode } from "./encoding.ts";
import { headerList } from "./headers.ts";
import { hostAsync } from "./host-async.ts";
import type { FetchPayload, RedirectMode } from "./protocol.ts";
import { Request } from "./request.ts";
import { Response } from "./response.ts";

const FETCH_REDIRECT: readonly string[] = ["follow", "manual", "error"];
async function fetch(input: unknown, init: ConstructorParameters<typeof Request>[1] = undefined) {
  const request = input instanceof Request && init === undefined ? input : new Request(input, init);
  if (request.bodyUsed) throw new TypeError("fetch: the request's body was already read");
  // A stream body is read whole first: the host's fetch takes bytes (streaming it is the next step).
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
  return new Response(kWire, out);
}
def("fetch", fetch);
