// `npm start`: a node on the embedded SQLite default (./.lively), with the example module
// examples/hello deployed, and the URLs to open. Ctrl-C stops it. Run twice, it reuses
// the same data: the deploy then answers "unchanged".
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";

const bin = new URL("../bin/lively.js", import.meta.url).pathname;
const port = process.env.LIVELY_PORT ?? "8080";
const node = spawn(process.execPath, ["--no-node-snapshot", bin, "serve", "--port", port, "--json"], {
  stdio: ["ignore", "pipe", "inherit"],
  env: { LIVELY_LOG_LEVEL: "warn", ...process.env },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => node.kill(signal));
node.on("exit", (code) => process.exit(code ?? 0));

const lines = createInterface({ input: node.stdout });
lines.once("line", (line) => {
  const ready = JSON.parse(line);
  const env = { ...process.env, LIVELY_URL: ready.url };
  const deployed = spawnSync(
    process.execPath,
    ["--no-node-snapshot", bin, "deploy", "examples/hello", "--name", "hello", "--message", "the example"],
    {
      env,
      encoding: "utf8",
    },
  );
  process.stdout.write(deployed.stdout);
  if (deployed.status !== 0) process.stderr.write(deployed.stderr);
  console.log(`
Lively is running at ${ready.url}  (data: ./.lively, store: ${ready.store})

  health:          ${ready.url}/_lively/health
  try the CLI:     ./bin/lively.js ls
                   ./bin/lively.js versions hello
                   ./bin/lively.js cat hello
                   ./bin/lively.js history
  admin API:       curl -H "Authorization: Bearer $(cat .lively/admin.token)" ${ready.url}/_lively/api/v1/modules

Ctrl-C stops the node.`);
});
