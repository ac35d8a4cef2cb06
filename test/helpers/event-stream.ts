/**
 * An SSE client for `GET /_lively/api/v1/events` in tests: the parsed events and notices as they
 * arrive, the raw text, the last id seen. Shared by the event tests (events, appliances' events).
 */
import type { LivelyEvent } from "../../src/cluster/event-log.ts";
import { readText } from "./read-text.ts";

export type Streamed = LivelyEvent & { id: string };

/** An SSE client: parsed blocks as they arrive. */
export async function openStream(url: string, token: string, query = "", lastEventId?: string) {
  const controller = new AbortController();
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
  const response = await fetch(`${url}/_lively/api/v1/events${query}`, { headers, signal: controller.signal });
  const events: Streamed[] = [];
  const notices: { event: string; data: Record<string, unknown> }[] = [];
  let text = "";
  let lastId: string | undefined;
  let buffer = "";
  const reading = readText(response.status === 200 ? response : new Response(null), controller, (chunk) => {
    text += chunk;
    buffer += chunk;
    for (let i = buffer.indexOf("\n\n"); i >= 0; i = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      let type = "message";
      let data: string | undefined;
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) lastId = line.slice(4);
        if (line.startsWith("event: ")) type = line.slice(7);
        if (line.startsWith("data: ")) data = line.slice(6);
      }
      if (data === undefined) continue;
      if (type === "message") events.push(JSON.parse(data));
      else notices.push({ event: type, data: JSON.parse(data) });
    }
  });
  return {
    response,
    events,
    notices,
    get text() {
      return text;
    },
    get lastId() {
      return lastId;
    },
    get ended() {
      return reading.ended;
    },
    close: () => reading.close(),
  };
}
