/**
 * Inside the isolate, loaded on first use: URLPattern, from the `urlpattern-polyfill` package
 * (its `./urlpattern` entry, which defines no global). Bundled on its own like streams-lib.ts
 * (scripts/isolate-code.mjs, LAZY) and loaded the first time module code reads the global
 * (urlpattern.ts).
 *
 * Why a package and not our own: URLPattern's matching is the spec's tokenizer, parser and
 * regular-expression compiler, and the polyfill is the one the spec's own tests are run
 * against (it carries WPT's urlpatterntestdata); ~18 KB minified, too big for every isolate's
 * prelude (DESIGN.md: cold start), small as a lazy part. It needs nothing of the host: plain
 * JS over the isolate's own URL (canonicalizing a component sets it on a `new URL`, which the
 * prelude's URL does through its host parser), RegExp with the `u` flag, Set and TypeError.
 *
 * Must import nothing from this folder: this bundle runs apart from the prelude's modules.
 */
import { URLPattern } from "urlpattern-polyfill/urlpattern";

const part = { URLPattern };
export type UrlPatternPart = typeof part;
export default part;
