/**
 * A poller for one node: sequential GETs of one URL over one keep-alive connection (node:http
 * with an agent of one socket, cheaper per request than fetch), as fast as one at a time
 * allows, until stopped. It keeps the first sighting of each version named by the answer's
 * `x-lively-version: <module>@<n>`, timed on the wall clock when the answer's head arrives,
 * and every round trip, so the report can state its own resolution.
 */
import { Agent, request } from "node:http";
import { wallNow } from "./clock.ts";

export interface Sighting {
  version: number;
  /** wallNow() when the head of the first answer naming this version arrived. */
  at: number;
  /** The body of that answer, to check the version answered its own text. */
  body: string;
}

export interface PollerResult {
  /** First sightings, in the order seen. */
  sightings: Sighting[];
  /** Round trip of every GET (request written → body read), in ms. */
  rttMs: number[];
  requests: number;
  /** Non-200 answers, answers without the module's version header, and transport errors. */
  failures: number;
  lastFailure: string | undefined;
  /** Answers naming a version older than one already seen (a node must never go back). */
  backwards: number;
}

export interface Poller {
  result: PollerResult;
  /** Newest version seen so far (0: none yet). */
  latest(): number;
  stop(): Promise<PollerResult>;
}

const REQUEST_TIMEOUT_MS = 2000;

interface Answer {
  status: number;
  version: string | undefined;
  headAt: number;
  body: string;
}

function get(agent: Agent, url: URL): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = request(url, { agent, method: "GET" }, (res) => {
      const headAt = wallNow();
      const header = res.headers["x-lively-version"];
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => done({ status: res.statusCode ?? 0, version: Array.isArray(header) ? header[0] : header, headAt, body }));
      res.on("error", fail);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on("error", fail);
    req.end();
  });
}

/** `gapMs` > 0 waits that long between GETs: less load on the nodes, coarser sightings. */
export function startPoller(url: string, module: string, gapMs = 0): Poller {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const prefix = `${module}@`;
  const result: PollerResult = { sightings: [], rttMs: [], requests: 0, failures: 0, lastFailure: undefined, backwards: 0 };
  let latest = 0;
  let running = true;

  const loop = async () => {
    while (running) {
      const start = performance.now();
      let answer: Answer;
      try {
        answer = await get(agent, target);
      } catch (error) {
        result.failures++;
        result.lastFailure = (error as Error).message;
        // A refused or reset connection would otherwise spin a core.
        await new Promise((done) => setTimeout(done, 10));
        continue;
      }
      result.rttMs.push(performance.now() - start);
      result.requests++;
      if (gapMs > 0) await new Promise((done) => setTimeout(done, gapMs));
      if (answer.status !== 200 || !answer.version?.startsWith(prefix)) {
        result.failures++;
        result.lastFailure = `${answer.status} ${answer.version ?? "(no x-lively-version)"} ${answer.body.slice(0, 120)}`;
        continue;
      }
      const version = Number(answer.version.slice(prefix.length));
      if (version > latest) {
        latest = version;
        result.sightings.push({ version, at: answer.headAt, body: answer.body });
      } else if (version < latest) result.backwards++;
    }
  };
  const done = loop();

  return {
    result,
    latest: () => latest,
    stop: async () => {
      running = false;
      await done;
      agent.destroy();
      return result;
    },
  };
}
