/**
 * Inside the isolate: the Web platform prelude, what Cloudflare-Workers-style module code
 * expects (see ../web/prelude.ts for how the host runs it). scripts/isolate-code.mjs bundles
 * this entry and everything it imports into PRELUDE_SOURCE, a plain script evaluated once in
 * every new context after the host bindings are installed (../web/host.ts); the script's
 * completion value is this module's default export, the wire object, handed to the
 * dispatcher by reference and never left on the global.
 *
 * Every import below defines globals (def in bindings.ts); bindings.ts comes first, so the
 * host bindings leave the global before anything else runs. (The built-ins a newer V8 has are
 * not here: language.ts is its own script, run before this one only where the host V8 lacks them.)
 */
import "./bindings.ts";
import "./webassembly.ts";
import "./environment.ts";
import "./events.ts";
import "./timers.ts";
import "./scheduler.ts";
import "./encoding.ts";
import "./crypto.ts";
import "./url.ts";
import "./url-search-params.ts";
import "./urlpattern.ts";
import "./structured-clone.ts";
import "./headers.ts";
import "./blob.ts";
import "./form-data.ts";
import "./request.ts";
import "./response.ts";
import "./fetch.ts";
import "./encoding-streams.ts";
import "./compression.ts";
import "./cache.ts";
import "./event-source.ts";
import "./websocket.ts";
import "./html-rewriter.ts";
import { cancelBodyStream, sendBodyStream } from "./body-out.ts";
import { reportError } from "./console.ts";
import { hostAsync } from "./host-async.ts";
import type { Request } from "./request.ts";
import { settleBody, type WireRequest, type WireResponse, wireFromResponse, wireToRequest } from "./wire.ts";

/** What the prelude hands the dispatcher (dispatch.ts). */
export interface PreludeWire {
  /** The host's request as a Request. */
  toRequest(plain: WireRequest): Request;
  /** The handler's answer as plain data; throws TypeError "the handler returned <type>, not a Response" for anything else. */
  fromResponse(value: unknown): WireResponse;
  /** The handler's answer with a stream body read whole (wire.ts; the tests' harness). */
  settleBody(value: unknown): unknown;
  /** Sends a response's stream body to the host as it is read (body-out.ts). */
  sendBodyStream: typeof sendBodyStream;
  /** Stops one: the host says its client went away. */
  cancelBodyStream: typeof cancelBodyStream;
  /** Host work the isolate awaits (env.call, fetch). */
  hostAsync: typeof hostAsync;
  /** The prelude's reportError: logs "Uncaught …". */
  reportError(error: unknown): void;
}

const wire: PreludeWire = Object.freeze({
  toRequest: wireToRequest,
  fromResponse: wireFromResponse,
  settleBody,
  sendBodyStream,
  cancelBodyStream,
  hostAsync,
  reportError,
});
export default wire;
