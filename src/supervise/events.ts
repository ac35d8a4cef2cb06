/**
 * A typed event emitter small enough to read: `on` returns its own unsubscribe, and a
 * listener that throws is reported, never allowed to break the emitter's caller.
 */
export class Events<Payloads extends object> {
  private readonly listeners: { [E in keyof Payloads]?: Set<(payload: Payloads[E]) => void> } = {};

  constructor(private readonly onListenerError: (event: keyof Payloads, error: unknown) => void) {}

  on<E extends keyof Payloads>(event: E, listener: (payload: Payloads[E]) => void): () => void {
    let set = this.listeners[event];
    if (!set) {
      set = new Set();
      this.listeners[event] = set;
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<E extends keyof Payloads>(event: E, payload: Payloads[E]): void {
    for (const listener of [...(this.listeners[event] ?? [])]) {
      try {
        listener(payload);
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
  }
}
