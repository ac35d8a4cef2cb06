/**
 * The conformance module: the same file is deployed to a Lively node (`lively deploy`) and, as
 * the bundle Lively stored, served by workerd (test/conformance.test.ts). GET /?area=NAME runs
 * that area's cases one after another and answers [{ area, name, ok, error? }] as JSON. To add
 * an area, write cases/NAME.js (exporting `area` and `cases`, as cases/webcrypto.js does) and
 * list it in FILES; several files may make up one area.
 */

import * as blobFormData from "./cases/blob-formdata.js";
import * as cache from "./cases/cache.js";
import * as compression from "./cases/compression.js";
import * as encodingStreams from "./cases/encoding-streams.js";
import * as eventsource from "./cases/eventsource.js";
import * as fetchBodies from "./cases/fetch-bodies.js";
import * as htmlrewriter from "./cases/htmlrewriter.js";
import * as streamBodies from "./cases/stream-bodies.js";
import * as streams from "./cases/streams.js";
import * as streamsBytes from "./cases/streams-bytes.js";
import * as streamsPipes from "./cases/streams-pipes.js";
import * as streamsWritable from "./cases/streams-writable.js";
import * as urlpattern from "./cases/urlpattern.js";
import * as webcrypto from "./cases/webcrypto.js";
import * as webcryptoChecks from "./cases/webcrypto-checks.js";
import * as websocket from "./cases/websocket.js";

/** Case files; several may share an area. */
const FILES = [
  webcrypto,
  webcryptoChecks,
  streams,
  streamsBytes,
  streamsWritable,
  streamsPipes,
  encodingStreams,
  compression,
  streamBodies,
  blobFormData,
  fetchBodies,
  urlpattern,
  cache,
  websocket,
  eventsource,
  htmlrewriter,
];

/** Far above what any case needs; an area must still finish inside the node's wall-time limit. */
const CASE_TIMEOUT_MS = 3000;

export async function runArea(area) {
  const results = [];
  for (const file of FILES.filter((f) => f.area === area)) {
    for (const [name, run] of Object.entries(file.cases)) {
      try {
        // A case whose promise never settles fails on its own instead of taking the whole area
        // (workerd answers 500 for a request whose promises can never settle).
        let timer;
        const timeout = new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no result after ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
        });
        await Promise.race([run(), timeout]).finally(() => clearTimeout(timer));
        results.push({ area, name, ok: true });
      } catch (error) {
        results.push({ area, name, ok: false, error: `${error?.name}: ${error?.message}` });
      }
    }
  }
  return results;
}

export default {
  async fetch(request) {
    const wanted = new URL(request.url).searchParams.get("area");
    const areas = [...new Set(FILES.map((f) => f.area))];
    if (!wanted) return Response.json(areas);
    if (!areas.includes(wanted)) return Response.json({ error: `no area ${wanted}` }, { status: 404 });
    return Response.json(await runArea(wanted));
  },
};
