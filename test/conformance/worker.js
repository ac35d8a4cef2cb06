/**
 * The conformance module: the same file is deployed to a Lively node (`lively deploy`) and, as
 * the bundle Lively stored, served by workerd (test/conformance.test.ts). GET /?area=NAME runs
 * that area's cases one after another and answers [{ area, name, ok, error? }] as JSON. To add
 * an area, write cases/NAME.js (exporting `area` and `cases`, as cases/webcrypto.js does) and
 * list it in AREAS.
 */
import * as webcrypto from "./cases/webcrypto.js";

const AREAS = [webcrypto];

export async function runArea(module) {
  const results = [];
  for (const [name, run] of Object.entries(module.cases)) {
    try {
      await run();
      results.push({ area: module.area, name, ok: true });
    } catch (error) {
      results.push({ area: module.area, name, ok: false, error: `${error?.name}: ${error?.message}` });
    }
  }
  return results;
}

export default {
  async fetch(request) {
    const wanted = new URL(request.url).searchParams.get("area");
    if (!wanted) return Response.json(AREAS.map((module) => module.area));
    const module = AREAS.find((m) => m.area === wanted);
    if (!module) return Response.json({ error: `no area ${wanted}` }, { status: 404 });
    return Response.json(await runArea(module));
  },
};
