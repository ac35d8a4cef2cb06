/**
 * Inside the isolate, loaded on first use: HTMLRewriter as workerd has it, on lol-html built to
 * WebAssembly (the `html-rewriter-wasm` package, Miniflare's; its glue bundled by
 * scripts/html-rewriter-glue.mjs). Bundled on its own (scripts/isolate-code.mjs, LAZY) and
 * loaded the first time module code reads the global (html-rewriter.ts).
 *
 * Why a package and not our own: HTML tokenizing to the spec, CSS selector matching and
 * streaming rewrites are lol-html, the very library workerd runs; a JS rewrite would be a second,
 * different parser. The .wasm (928 KB) is compiled once per process by the host
 * (web/html-rewriter-host.ts), and the compiled module is handed to each isolate that loads
 * this part (~0.2 ms: V8 shares the compiled code), which instantiates it (~1.5 ms).
 *
 * The script's value is `withModule(module)`: the host calls it with that module
 * (web/lazy-parts.ts); the prelude then calls `start(env)` with its own classes, taken before
 * module code ran (module code may have replaced the globals since).
 *
 * One instance per transform in flight: lol-html's async handlers work by Asyncify, which unwinds
 * the wasm stack into memory while the handler's promise is pending and rewinds it after. Two
 * transforms suspended at once in one instance share its shadow stack, and the one resumed
 * first frees the other's frames (measured: 24 concurrent rewrites with an async handler broke
 * every run). So a transform takes an idle instance, or instantiates one (~1.5 ms), and gives it
 * back when its body ends; one that failed or was cancelled may be suspended still, so its
 * instance is dropped, and with it whatever the failed rewriter held.
 *
 * Memory: the instances' linear memory is not counted by the isolate's memory limit (measured:
 * isolated-vm counts the V8 heap and array buffers, not wasm memory), so it is capped here:
 * past MEMORY_CAP bytes over the live instances, the transform that passed it errors (and its
 * instance is dropped) and new ones refuse to start until others finish.
 *
 * Must import nothing from this folder but types: this bundle runs apart from the prelude's modules.
 */
// The plugin turns the package's CommonJS glue into `module.exports = instantiate(env)`; its types describe the original.
import * as glueModule from "html-rewriter-wasm/dist/html_rewriter.js";

/** What the prelude hands `start`: its own classes. */
export interface RewriterEnv {
  TextEncoder: new () => unknown;
  TextDecoder: new (label?: string, options?: object) => unknown;
  /** WebAssembly.Instance, captured by the prelude: module code has no WebAssembly (webassembly.ts). */
  Instance: new (
    module: unknown,
    imports: object,
  ) => unknown;
  Response: new (body: unknown, init?: unknown) => ResponseLike;
  TransformStream: new (transformer: object) => { readable: unknown; writable: unknown };
  isResponse: (value: unknown) => boolean;
}
interface ResponseLike {
  readonly body: { pipeTo(writable: unknown): Promise<void> } | null;
  readonly headers: { delete(name: string): void };
}
interface BaseRewriter {
  on(selector: string, handlers: object): void;
  onDocument(handlers: object): void;
  write(chunk: Uint8Array): Promise<void>;
  end(): Promise<void>;
  free(): void;
}
interface Glue {
  HTMLRewriter: new (sink: (chunk: Uint8Array) => void) => BaseRewriter;
  __wasm: { memory: { buffer: ArrayBuffer } };
}

/** The most linear memory lol-html may take over one isolate's instances (its default settings cap nothing). */
const MEMORY_CAP = 128 * 1024 * 1024;
/** Idle instances kept for the next transforms: linear memory never shrinks, so extras are dropped. */
const IDLE_KEPT = 2;

const isView = ArrayBuffer.isView;

function start(module: unknown, env: RewriterEnv) {
  const instantiate = (glueModule as unknown as { default: (env: object) => Glue }).default;
  const { Response, TransformStream, isResponse } = env;
  const idle: Glue[] = [];
  /** Every instance not dropped: idle, or held by a transform. */
  const live = new Set<Glue>();
  const liveBytes = () => {
    let bytes = 0;
    for (const glue of live) bytes += glue.__wasm.memory.buffer.byteLength;
    return bytes;
  };
  const checkMemory = () => {
    if (liveBytes() > MEMORY_CAP)
      throw new RangeError(
        "HTMLRewriter: lol-html's memory in this isolate passed " +
          MEMORY_CAP / 1048576 +
          " MiB; transforms in progress must finish before another starts",
      );
  };
  const acquire = (): Glue => {
    const reused = idle.pop();
    if (reused !== undefined) return reused;
    const glue = instantiate({ TextEncoder: env.TextEncoder, TextDecoder: env.TextDecoder, Instance: env.Instance, module });
    live.add(glue);
    return glue;
  };
  /** A healthy instance goes back to the idle list (up to IDLE_KEPT); any other is dropped. */
  const release = (glue: Glue, healthy: boolean) => {
    if (healthy && idle.length < IDLE_KEPT) idle.push(glue);
    else live.delete(glue);
  };
  const handlersArg = (handlers: unknown, method: string): object => {
    if (typeof handlers !== "object" || handlers === null)
      throw new TypeError("Failed to execute '" + method + "' on 'HTMLRewriter': parameter 2 is not of type 'object'.");
    return handlers;
  };
  /** A rewriter of `glue`'s, with `sink` for its output and the handlers given. */
  const build = (glue: Glue, sink: (chunk: Uint8Array) => void, elements: readonly [string, object][], documents: readonly object[]) => {
    const base = new glue.HTMLRewriter(sink);
    try {
      for (const [selector, handlers] of elements) base.on(selector, handlers);
      for (const handlers of documents) base.onDocument(handlers);
    } catch (error) {
      base.free();
      throw error;
    }
    return base;
  };

  class HTMLRewriter {
    #elements: [string, object][] = [];
    #documents: object[] = [];

    on(selector: unknown, handlers: unknown): this {
      const entry: [string, object] = [String(selector), handlersArg(handlers, "on")];
      // lol-html parses the selector when it is added: a bad one throws here, as on workerd, not in the
      // stream. A call that never suspends is safe on any instance, even one a transform holds.
      const glue = acquire();
      try {
        build(glue, () => {}, [entry], []).free();
      } finally {
        release(glue, true);
      }
      this.#elements.push(entry);
      return this;
    }

    onDocument(handlers: unknown): this {
      this.#documents.push(handlersArg(handlers, "onDocument"));
      return this;
    }

    transform(response: unknown): ResponseLike {
      if (!isResponse(response))
        throw new TypeError("Failed to execute 'transform' on 'HTMLRewriter': parameter 1 is not of type 'Response'.");
      const source = response as ResponseLike;
      const body = source.body;
      if (body === null) return new Response(null, source);
      checkMemory();
      const elements = this.#elements.slice();
      const documents = this.#documents.slice();
      const glue = acquire();
      let base: BaseRewriter | null = null;
      const stream = new TransformStream({
        start(controller: { enqueue(chunk: Uint8Array): void }) {
          base = build(
            glue,
            (chunk) => {
              if (chunk.byteLength > 0) controller.enqueue(chunk);
            },
            elements,
            documents,
          );
        },
        async transform(chunk: unknown) {
          if (!isView(chunk) && !(chunk instanceof ArrayBuffer))
            throw new TypeError(
              "This TransformStream is being used as a byte stream, but received a value that is not an ArrayBuffer or ArrayBufferView",
            );
          const bytes =
            chunk instanceof ArrayBuffer ? new Uint8Array(chunk) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          await (base as BaseRewriter).write(bytes);
          checkMemory();
        },
        async flush() {
          await (base as BaseRewriter).end();
          checkMemory();
        },
      });
      const done = (healthy: boolean) => {
        const used = base;
        base = null;
        if (healthy) {
          try {
            used?.free();
          } catch {
            healthy = false;
          }
        }
        // Not freed when it failed: a handler's error leaves lol-html's rewriter borrowed (the Rust side
        // unwound through the wasm boundary), and a cancelled one may be suspended still. Dropping the
        // instance drops all of it.
        release(glue, healthy);
      };
      body.pipeTo(stream.writable).then(
        () => done(true),
        () => done(false),
      );
      const out = new Response(stream.readable, source);
      out.headers.delete("content-length");
      return out;
    }

    get [Symbol.toStringTag]() {
      return "HTMLRewriter";
    }
  }
  return HTMLRewriter;
}

/** Called by the host with the compiled lol-html module; the prelude calls `start` with its classes. */
const withModule = (module: unknown) => ({ start: (env: RewriterEnv) => start(module, env) });
export type HtmlRewriterPart = ReturnType<typeof withModule>;
export default withModule;
