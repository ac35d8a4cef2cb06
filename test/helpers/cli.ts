/** The lively CLI run in-process against a node (commands return their exit code; nothing is spawned). */
import { run } from "../../src/cli/main.ts";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for `--json` runs). */
  json(): any;
}

export interface CliTarget {
  url: string;
  token: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

export async function runCli(target: CliTarget, argv: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env: { LIVELY_URL: target.url, LIVELY_TOKEN: target.token, ...target.env, ...env },
    cwd: target.cwd ?? process.cwd(),
  });
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}
