/**
 * `GET /` on a node, when no route claims `/`: a small page instead of a 404, so the first URL
 * a newcomer opens says what is there. A browser gets HTML, a client that asks for
 * `application/json` gets the same as JSON. It shows only what a public caller may see: the
 * node's status and seq (as `/_lively/health` does without a token), and the modules whose
 * `production` channel is public, each with its link; an operator who would rather not show
 * module names turns the list off (`lively serve --no-list-modules`).
 *
 * Owns: the index answer. Must not import api/, cli/, runtime/.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ChannelIndex } from "../code/channel-index.ts";
import { DEFAULT_CHANNEL } from "../code/names.ts";
import { LivelyError } from "../errors.ts";

export interface IndexPageOptions {
  index: Pick<ChannelIndex, "moduleNames" | "settings">;
  /** Whether to list the modules (default true). */
  listModules: boolean;
  /** The node's status as the open health check says it. */
  health(): Promise<{ status: string; seq: number }>;
}

export interface IndexAnswer {
  status: string;
  seq: number;
  /** Absent when the operator turned the list off. */
  modules?: { name: string; url: string }[];
  health: string;
  docs: string;
}

const DOCS = "README.md and docs/ in the Lively package; lively --help on the command line";

/** The modules a public caller can reach at `/<module>/`: their production channel is not private. */
export function publicModules(index: IndexPageOptions["index"]): string[] {
  return index
    .moduleNames()
    .filter((module) => !index.settings(module)?.privateChannels.includes(DEFAULT_CHANNEL))
    .sort();
}

export async function indexAnswer(options: IndexPageOptions): Promise<IndexAnswer> {
  const { status, seq } = await options.health();
  const modules = options.listModules ? publicModules(options.index).map((name) => ({ name, url: `/${name}/` })) : undefined;
  return { status, seq, ...(modules ? { modules } : {}), health: "/_lively/health", docs: DOCS };
}

/** Module names are [a-z0-9-] already; escaping anyway keeps this page safe if that ever widens. */
const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

export function indexHtml(answer: IndexAnswer): string {
  const list =
    answer.modules === undefined
      ? "<p>This node does not list its modules.</p>"
      : answer.modules.length === 0
        ? "<p>No module is deployed yet: <code>lively deploy FILE --name NAME</code>.</p>"
        : `<ul>${answer.modules.map((m) => `<li><a href="${escapeHtml(m.url)}">${escapeHtml(m.name)}</a></li>`).join("")}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Lively</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}code{font-size:.9em}</style>
</head><body>
<h1>Lively</h1>
<p>This node is <strong>${escapeHtml(answer.status)}</strong> (history seq ${answer.seq}): <a href="${answer.health}">${answer.health}</a>.</p>
<h2>Modules</h2>
${list}
<p>Each module answers at <code>/&lt;module&gt;/</code>; pick a channel with <code>?lively-channel=beta</code>.
The admin API is under <code>/_lively/api/v1/</code> and needs a token. Docs: ${escapeHtml(answer.docs)}.</p>
</body></html>
`;
}

/** Answers GET and HEAD of `/`; anything else is `bad_request`. */
export async function serveIndex(request: IncomingMessage, response: ServerResponse, options: IndexPageOptions): Promise<void> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    throw new LivelyError("bad_request", `/ answers GET and HEAD only, not ${request.method}; modules answer at /<module>/`);
  }
  const answer = await indexAnswer(options);
  const json = /\bapplication\/json\b/.test(request.headers.accept ?? "") && !/\btext\/html\b/.test(request.headers.accept ?? "");
  const body = json ? JSON.stringify(answer) : indexHtml(answer);
  response.writeHead(200, {
    "content-type": json ? "application/json" : "text/html; charset=utf-8",
    "cache-control": "no-store",
    vary: "accept",
  });
  response.end(request.method === "HEAD" ? undefined : body);
}
