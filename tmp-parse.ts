import { validateArtifact } from "./src/runtime/ivm/validate-artifact.ts";
for (const code of ["const r = /(?i:a)b/;\nexport default { fetch() { return new Response(String(r)) } }", "const r = 1;\nexport function f() { using x = null; return 1 }", "export const r = /(?<a>x)|(?<a>y)/;", "class A { @dec m() {} }\nexport const a = 1;"]) {
  try { await validateArtifact(code); console.log("ok"); } catch (e: any) { console.log(JSON.stringify(e.message), e.details); }
}
