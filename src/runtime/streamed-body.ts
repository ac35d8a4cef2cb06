/**
 * The host's half of a response body the module sends as it produces it (sandbox.ts,
 * StreamedBody; the isolate's half is isolate/body-out.ts). The dispatcher feeds it what the
 * isolate sends, already checked (push, end, fail); the gateway pipes it to the client's socket
 * or cancels it.
 *
 * Backpressure is one chunk deep: push() answers the isolate only once the chunk is written and
 * the sink has room (Node's `write` returned true, or `drain` came), and the isolate sends
 * nothing more until then. A chunk that comes before pipe() waits for it.
 *
 * Owns: the states of one streamed body. Must not import ivm/, gateway/.
 */
import type { BodySink, StreamedBody } from "./sandbox.ts";

type State = "open" | "ended" | "failed" | "cancelled";

/** The key under which the dispatcher hands a streamed head its body: a host symbol, so nothing the isolate sends can carry one. */
export const kStreamed: unique symbol = Symbol("lively.streamed");

export class HostStreamedBody implements StreamedBody {
  readonly streamed = true as const;
  private state: State = "open";
  private sink: BodySink | undefined;
  /** A chunk that came before pipe(): written then. */
  private held: { chunk: Uint8Array; answer: (more: boolean) => void } | undefined;
  /** The answer to the isolate for the last chunk, while the sink drains. */
  private draining: ((more: boolean) => void) | undefined;
  private failure: Error | undefined;
  /** Bytes handed to the sink so far. */
  bytes = 0;

  /** `onCancel` runs once when the receiver cancels: the dispatcher tells the isolate. */
  constructor(private readonly onCancel: () => void) {}

  get open(): boolean {
    return this.state === "open";
  }

  /** A chunk from the isolate; resolves true when it may send the next, false when it should stop. */
  push(chunk: Uint8Array): Promise<boolean> {
    if (this.state !== "open") return Promise.resolve(false);
    if (this.held || this.draining) {
      return Promise.reject(new TypeError("a response body chunk came before the previous one was answered"));
    }
    return new Promise((answer) => {
      if (this.sink) this.write(this.sink, chunk, answer);
      else this.held = { chunk, answer };
    });
  }

  /** The module's stream ended. */
  end(): void {
    if (this.state !== "open") return;
    this.state = "ended";
    this.release(false); // nothing is waiting unless the isolate broke the protocol
    this.sink?.end();
  }

  /** The stream errored, or a limit ended the request: the receiver's response is cut short. */
  fail(error: Error): void {
    if (this.state !== "open") return;
    this.state = "failed";
    this.failure = error;
    this.release(false);
    this.sink?.abort(error);
  }

  pipe(sink: BodySink): void {
    if (this.sink) throw new Error("a streamed body is piped once");
    this.sink = sink;
    const held = this.held;
    this.held = undefined;
    if (held && this.state === "open") this.write(sink, held.chunk, held.answer);
    if (this.state === "ended") sink.end();
    else if (this.state === "failed") sink.abort(this.failure ?? new Error("the response body failed"));
  }

  cancel(): void {
    if (this.state !== "open") return;
    this.state = "cancelled";
    this.release(false);
    this.onCancel();
  }

  private write(sink: BodySink, chunk: Uint8Array, answer: (more: boolean) => void): void {
    this.bytes += chunk.byteLength;
    if (sink.write(chunk)) {
      answer(true);
      return;
    }
    this.draining = answer;
    sink.onDrain(() => {
      if (this.draining !== answer) return;
      this.draining = undefined;
      answer(this.state === "open");
    });
  }

  /** Answers whatever the isolate is waiting on. */
  private release(more: boolean): void {
    const waiting = this.draining ?? this.held?.answer;
    this.draining = undefined;
    this.held = undefined;
    waiting?.(more);
  }
}
