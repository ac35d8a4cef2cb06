import { build } from "esbuild";
const src = `
const log = [];
const resource = (name) => ({ [Symbol.dispose]() { log.push("disposed " + name); } });
export function f() {
    {
      using a = resource("a");
      using b = resource("b");
      log.push("body");
    }
    return log;
}`;
const r = await build({ stdin: { contents: src, loader: "js" }, bundle: true, write: false, format: "esm", platform: "neutral", target: "node20.20.2" });
console.log(r.outputFiles[0].text);
