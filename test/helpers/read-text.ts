/**
 * Reads a streamed response's body as text as it arrives (server-sent events, NDJSON follows),
 * handing each decoded piece to `onText`, until the body ends or close() aborts it. Shared by
 * test/helpers/event-stream.ts and the log follow in test/logs.test.ts.
 */
export function readText(response: Response, controller: AbortController, onText: (text: string) => void) {
  let ended = false;
  const reading = (async () => {
    if (!response.body) return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        onText(decoder.decode(value, { stream: true }));
      }
    } catch {
      // aborted by the test
    }
    ended = true;
  })();
  return {
    get ended() {
      return ended;
    },
    async close() {
      controller.abort();
      await reading;
    },
  };
}
