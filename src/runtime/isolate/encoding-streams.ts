/**
 * Inside the isolate (see bindings.ts): TextEncoderStream and TextDecoderStream. Each is a
 * TransformStream (streams.ts, loaded when the first one is built) around the prelude's own
 * encoder and decoder (encoding.ts): a character split across chunks comes out whole, a
 * surrogate pair split between two strings too.
 */
import { def } from "./bindings.ts";
import { bytesOf, TextDecoder, utf8Encode } from "./encoding.ts";
import { streams } from "./streams.ts";

export type Transform = InstanceType<ReturnType<typeof streams>["TransformStream"]>;

/**
 * The Web IDL mixin of that name: a readable and a writable side over one TransformStream.
 * The base of this file's classes and compression.ts's; never a global.
 */
export class GenericTransformStream {
  #transform: Transform;
  constructor(transform: Transform) {
    this.#transform = transform;
  }
  get readable() {
    return this.#transform.readable;
  }
  get writable() {
    return this.#transform.writable;
  }
}

const REPLACEMENT = new Uint8Array([0xef, 0xbf, 0xbd]);
const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;

const encoderTransform = () => {
  // A high surrogate that ends a chunk waits for the low one that may start the next.
  let pendingHigh = "";
  return new (streams().TransformStream)<unknown, Uint8Array>({
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
};
class TextEncoderStream extends GenericTransformStream {
  constructor() {
    super(encoderTransform());
  }
  get encoding() {
    return "utf-8";
  }
  get [Symbol.toStringTag]() {
    return "TextEncoderStream";
  }
}

interface DecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}
const decoderTransform = (decoder: TextDecoder) =>
  new (streams().TransformStream)<unknown, string>({
    transform(chunk, controller) {
      const text = decoder.decode(bytesOf(chunk, "chunk"), { stream: true });
      if (text !== "") controller.enqueue(text);
    },
    flush(controller) {
      const text = decoder.decode();
      if (text !== "") controller.enqueue(text);
    },
  });
class TextDecoderStream extends GenericTransformStream {
  #decoder: TextDecoder;
  constructor(label: unknown = "utf-8", options: DecoderOptions | undefined = undefined) {
    const decoder = new TextDecoder(label, options);
    super(decoderTransform(decoder));
    this.#decoder = decoder;
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
  get [Symbol.toStringTag]() {
    return "TextDecoderStream";
  }
}
def("TextEncoderStream", TextEncoderStream);
def("TextDecoderStream", TextDecoderStream);
