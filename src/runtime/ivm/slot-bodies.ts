/**
 * The bodies that flow while a request holds its dispatcher slot (dispatcher.ts): a response the
 * module sends as it produces it (host work "body": head, chunks, end or error, checked by
 * body-handler.ts) and a request body the module reads as it arrives (host work "requestBody").
 * The dispatcher owns the slots; this file only reads and updates a slot's record through
 * SlotAccess, so the rules of a slot's life stay in one place.
 */
import { LivelyError } from "../../errors.ts";
import { HostStreamedBody, kStreamed } from "../streamed-body.ts";
import type { BodyMessage } from "./body-handler.ts";
import type { Pending } from "./dispatcher-options.ts";
import type { IvmReference } from "./isolated-vm.ts";
import { newErrorId } from "./limit-errors.ts";

/** What SlotBodies needs of its dispatcher. */
export interface SlotAccess {
  /** The record in `slot` (any generation), or undefined. */
  at(slot: number): Pending | undefined;
  /** The isolate is gone (a limit, or unloaded). */
  dead(): boolean;
  /** The isolate answered a request (a streamed response's head): its CPU marks move. */
  progressed(): void;
  /** Free an abandoned slot whose late answer came. */
  freeAbandoned(slot: number): void;
  /** The request is over: its slot goes back. */
  release(slot: number): void;
  /** The isolate's cancelBody(slot, gen) entry (dispatch.ts). */
  cancelBody?: IvmReference;
  /** A line for the module's log. */
  log(text: string): void;
  /** "module@version", for messages. */
  tag(): string;
}

export class SlotBodies {
  constructor(private readonly slots: SlotAccess) {}

  /**
   * A streamed response's message: the head answers the request with a HostStreamedBody, chunks
   * go into it, the end or an error closes it. Answers the isolate true to go on, false to stop.
   * A message for a request no longer here (answered 504, ended by a limit, its client gone)
   * answers false.
   */
  body(message: BodyMessage): Promise<boolean> {
    const pending = this.slots.at(message.s);
    if (this.slots.dead() || !pending || pending.gen !== message.g) return Promise.resolve(false);
    if (pending.abandoned) {
      // The late head of a request already answered 504: its slot is free now.
      if (message.kind === "head") this.slots.freeAbandoned(message.s);
      return Promise.resolve(false);
    }
    if (message.kind === "head") {
      // The head is the request's answer; the chunks after it are not: the CPU the stream
      // costs counts toward the request's limit like its handler's.
      this.slots.progressed();
      if (pending.answered) return Promise.reject(new TypeError("response body: a second head for one request"));
      const stream = new HostStreamedBody(() => this.cancelled(message.s, pending));
      pending.answered = true;
      pending.waiting = message.w > 0;
      pending.stream = stream;
      pending.resolve({ status: message.status, headers: message.headers, body: null, w: message.w, [kStreamed]: stream });
      return Promise.resolve(true);
    }
    const stream = pending.stream;
    if (!stream) return Promise.reject(new TypeError("response body: no streamed response is open for this request"));
    if (message.kind === "chunk") return stream.push(message.bytes);
    if (message.kind === "end") stream.end();
    else {
      const errorId = newErrorId();
      this.slots.log(`[error ${errorId}] the response body stream failed after the response began: ${message.message}`);
      stream.fail(new LivelyError("module_error", `${this.slots.tag()}'s response body stream failed (error id ${errorId})`, { errorId }));
    }
    this.done(message.s, pending);
    return Promise.resolve(true);
  }

  /**
   * The next chunk of request (slot, gen)'s body, still arriving. Time spent waiting for the
   * client is not the module's: the request's wall deadline moves on by it (as when a short
   * body was read before the module ran), and the deadline is not checked meanwhile.
   */
  requestBody(slot: number, gen: number): Promise<Uint8Array | null> {
    const pending = this.slots.at(slot);
    if (this.slots.dead() || !pending || pending.gen !== gen || pending.abandoned || !pending.requestBody) {
      return Promise.reject(new TypeError("the request's body can no longer be read: the request has ended"));
    }
    const since = performance.now();
    pending.clientWaitSince = since;
    return pending.requestBody.read().finally(() => {
      pending.clientWaitSince = undefined;
      pending.deadline += performance.now() - since;
    });
  }

  /** A limit ended the request while its body streamed: the response is cut short, the isolate's stream cancelled. */
  cutShort(slot: number, pending: Pending, error: LivelyError): void {
    if (!pending.stream) return;
    pending.stream.fail(error);
    this.cancelInIsolate(slot, pending.gen);
  }

  /** The receiver cancelled a streamed body (its client went away): the isolate's stream is cancelled too. */
  private cancelled(slot: number, pending: Pending): void {
    if (this.slots.at(slot) !== pending) return;
    this.cancelInIsolate(slot, pending.gen);
    this.done(slot, pending);
  }

  private cancelInIsolate(slot: number, gen: number): void {
    if (this.slots.dead()) return;
    try {
      this.slots.cancelBody?.applyIgnored(undefined, [slot, gen]);
    } catch {
      // The isolate is gone: nothing is reading.
    }
  }

  private done(slot: number, pending: Pending): void {
    pending.stream = undefined;
    if (!pending.waiting && this.slots.at(slot) === pending) this.slots.release(slot);
  }
}
