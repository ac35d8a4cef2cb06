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
 * Memory: the instance's linear memory is not counted by the isolate's memory limit (measured:
 * isolated-vm counts the V8 heap and array buffers, not wasm memory), so it is capped here:
 * past MEMORY_CAP bytes, the transform in progress errors and every later one refuses to start.
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

/** The most linear memory lol-html may take in one isolate (its default settings cap nothing). */
const MEMORY_CAP = 128 * 1024 * 1024;

const isView = ArrayBuffer.isView;

function start(module: unknown, env: RewriterEnv) {
  const instantiate = (glueModule as unknown as { default: (env: object) => Glue }).default;
  const glue = instantiate({ TextEncoder: env.TextEncoder, TextDecoder: env.TextDecoder, Instance: env.Instance, module });
  const { Response, TransformStream, isResponse } = env;
  const memory = glue.__wasm.memory;
  let exhausted = false;
  const checkMemory = () => {
    if (memory.buffer.byteLength > MEMORY_CAP) exhausted = true;
    if (exhausted)
      throw new RangeError(
        "HTMLRewriter: lol-html's memory in this isolate passed " +
          MEMORY_CAP / 1048576 +
          " MiB; HTMLRewriter is unusable until the isolate is recycled",
      );
  };
  const handlersArg = (handlers: unknown, method: string): object => {
    if (typeof handlers !== "object" || handlers === null)
      throw new TypeError("Failed to execute '" + method + "' on 'HTMLRewriter': parameter 2 is not of type 'object'.");
    return handlers;
  };
  /** A rewriter of the glue's, with `sink` for its output and the handlers given. */
  const build = (sink: (chunk: Uint8Array) => void, elements: readonly [string, object][], documents: readonly object[]) => {
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
      // lol-html parses the selector when it is added: a bad one throws here, as on workerd, not in the stream.
      build(() => {}, [entry], []).free();
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
      let base: BaseRewriter | null = null;
      const stream = new TransformStream({
        start(controller: { enqueue(chunk: Uint8Array): void }) {
          base = build(
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
      const done = () => {
        const used = base;
        base = null;
        try {
          used?.free();
        } catch {
          // A handler's error leaves lol-html's rewriter borrowed (the Rust side unwound through the wasm
          // boundary): it cannot be freed, and what it holds stays in the linear memory (counted by MEMORY_CAP).
        }
      };
      body.pipeTo(stream.writable).then(done, done);
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
