/**
 * Inside the isolate (see bindings.ts): TextEncoderStream and TextDecoderStream. Each is a
 * TransformStream (streams.ts, loaded when the first one is built) around the prelude's own
 * encoder and decoder (encoding.ts): a character split across chunks comes out whole, a
 * surrogate pair split between two strings too.
 */
import { def } from "./bindings.ts";
import { bytesOf, TextDecoder, utf8Encode } from "./encoding.ts";
import { streams } from "./streams.ts";

type Transform = InstanceType<ReturnType<typeof streams>["TransformStream"]>;

const REPLACEMENT = new Uint8Array([0xef, 0xbf, 0xbd]);
const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;

class TextEncoderStream {
  #transform: Transform;
  constructor() {
    // A high surrogate that ends a chunk waits for the low one that may start the next.
    let pendingHigh = "";
    this.#transform = new (streams().TransformStream)<unknown, Uint8Array>({
      transform(chunk, controller) {
        let text = pendingHigh + String(chunk);
        pendingHigh = "";
        if (text.length > 0 && isHighSurrogate(text.charCodeAt(text.length - 1))) {
          pendingHigh = text.slice(-1);
          text = text.slice(0, -1);
        }
        if (text.length > 0) controller.enqueue(utf8Encode(text));
      },
      flush(controller) {
        if (pendingHigh !== "") controller.enqueue(REPLACEMENT.slice());
      },
    });
  }
  get encoding() {
    return "utf-8";
  }
  get readable() {
    return this.#transform.readable;
  }
  get writable() {
    return this.#transform.writable;
  }
  get [Symbol.toStringTag]() {
    return "TextEncoderStream";
  }
}

interface DecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}
class TextDecoderStream {
  #decoder: TextDecoder;
  #transform: Transform;
  constructor(label: unknown = "utf-8", options: DecoderOptions | undefined = undefined) {
    const decoder = new TextDecoder(label, options);
    this.#decoder = decoder;
    this.#transform = new (streams().TransformStream)<unknown, string>({
      transform(chunk, controller) {
        const text = decoder.decode(bytesOf(chunk, "chunk"), { stream: true });
        if (text !== "") controller.enqueue(text);
      },
      flush(controller) {
        const text = decoder.decode();
        if (text !== "") controller.enqueue(text);
      },
    });
  }
  get encoding() {
    return this.#decoder.encoding;
  }
  get fatal() {
    return this.#decoder.fatal;
  }
  get ignoreBOM() {
    return this.#decoder.ignoreBOM;
  }
  get readable() {
    return this.#transform.readable;
  }
  get writable() {
    return this.#transform.writable;
  }
  get [Symbol.toStringTag]() {
    return "TextDecoderStream";
  }
}
def("TextEncoderStream", TextEncoderStream);
def("TextDecoderStream", TextDecoderStream);
