/**
 * Inside the isolate (see bindings.ts): performance (now, timeOrigin), navigator and self.
 */
import { def } from "./bindings.ts";

const timeOrigin = Date.now();
def("performance", { timeOrigin, now: () => Date.now() - timeOrigin, toJSON: () => ({ timeOrigin }) });
def("navigator", { userAgent: "Lively", language: "en-US", languages: ["en-US"], hardwareConcurrency: 1 });
def("self", globalThis);
