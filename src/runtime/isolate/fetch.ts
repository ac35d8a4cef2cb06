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
import { type ReadableStream, streams } from "./streams.ts";

const FETCH_REDIRECT: readonly string[] = ["follow", "manual", "error"];
async function fetch(input: unknown, init: ConstructorParameters<typeof Request>[1] = undefined) {
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
 * A fetched body still arriving on the host (FetchedResponse `s`): a byte stream that asks the
 * host for the next chunk only when it is read, so an endless upstream (server-sent events) is
 * read no faster than the module reads it. Cancelling it drops the host's connection.
 */
const arrivingBody = (id: number): ReadableStream =>
  new (streams().ReadableStream)<Uint8Array>(
    {
      type: "bytes",
      async pull(controller) {
        // An empty chunk would leave the read waiting for a pull that never comes: ask again.
        for (;;) {
          const chunk = await hostAsync("fetchBody", { i: id });
          if (chunk === null) {
            controller.close();
            controller.byobRequest?.respond(0);
            return;
          }
          if (chunk.byteLength > 0) {
            controller.enqueue(chunk);
            return;
          }
        }
      },
      cancel() {
        return hostAsync("fetchBody", { i: id, c: 1 }).then(
          () => undefined,
          () => undefined,
        );
      },
    },
    { highWaterMark: 0 },
  );
def("fetch", fetch);
