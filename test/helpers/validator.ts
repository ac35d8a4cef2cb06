/** The real artifact validator (a throwaway isolate), as the node wires it. */

import { compileSource } from "../../src/code/compile.ts";
import type { ArtifactValidator } from "../../src/code/deploy.ts";
import { validateArtifact } from "../../src/runtime/ivm/validate-artifact.ts";

export const validate: ArtifactValidator = (artifact, sourceMap) => validateArtifact(artifact, {}, sourceMap);

/** What the API does with a --code string: compile, then hand to deploy(). */
export async function compiled(code: string) {
  return compileSource(code);
}
