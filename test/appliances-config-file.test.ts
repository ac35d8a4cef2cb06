/**
 * Appliance config files (src/appliances/config-file/): TOML and YAML fixtures written to real
 * temp files, read back through loadApplianceFile; every refusal with its file and line.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type ApplianceFile, loadApplianceFile } from "../src/appliances/config-file/config-file.ts";
import { tomlKeyLines } from "../src/appliances/config-file/toml-lines.ts";
import { LivelyError } from "../src/errors.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const dir = tempDir("lively-appfile-");
let written = 0;

function write(name: string, text: string): string {
  const path = join(dir, `${written++}-${name}`);
  writeFileSync(path, text);
  return path;
}

async function load(name: string, text: string): Promise<ApplianceFile> {
  return loadApplianceFile(write(name, text));
}

/** The refusal of a file, asserting its code, its `file:line:` prefix and its details. */
async function refusal(name: string, text: string, line: number, key?: string, code = "bad_request"): Promise<string> {
  const path = write(name, text);
  try {
    await loadApplianceFile(path);
  } catch (error) {
    assert.ok(error instanceof LivelyError, String(error));
    assert.equal(error.code, code, error.message);
    assert.ok(error.message.startsWith(`${path}:${line}: `), `expected line ${line}: ${error.message}`);
    assert.deepEqual(error.details, { file: path, line, key });
    return error.message.slice(`${path}:${line}: `.length);
  }
  assert.fail(`accepted:\n${text}`);
}

const TOML_EXAMPLE = `[_]
restart = "permanent"
env = { LOG_LEVEL = "info" }
[web]
cmd = "node server.js"
env = { PORT = "8080" }
depends = ["db"]
[db]
cmd = "postgres -D /srv/pg"
["worker#vsn:~>2.0"]
extends = "web"
cmd = "node worker.js"
`;

const YAML_EXAMPLE = `_:
  restart: permanent
  env: { LOG_LEVEL: info }
web:
  cmd: node server.js
  env:
    PORT: 8080
  depends: [db]
db:
  cmd: postgres -D /srv/pg
worker#vsn:~>2.0:
  extends: web
  cmd: node worker.js
`;

describe("appliance config files", () => {
  for (const [name, text] of [
    ["apps.toml", TOML_EXAMPLE],
    ["apps.yaml", YAML_EXAMPLE],
    ["apps.yml", YAML_EXAMPLE],
  ]) {
    it(`reads ${name}: defaults under each, env merged key by key, extends, the spec suffix, the source line`, async () => {
      const path = write(name, text);
      const file = await loadApplianceFile(path);
      assert.deepEqual(file.defaults, { restart: "permanent", env: { LOG_LEVEL: "info" } });
      assert.deepEqual(
        file.appliances.map((app) => app.config),
        [
          { name: "web", restart: "permanent", cmd: "node server.js", env: { LOG_LEVEL: "info", PORT: "8080" }, depends: ["db"] },
          { name: "db", restart: "permanent", cmd: "postgres -D /srv/pg", env: { LOG_LEVEL: "info" } },
          {
            name: "worker",
            specOptions: { vsn: "~>2.0" },
            restart: "permanent",
            cmd: "node worker.js",
            env: { LOG_LEVEL: "info", PORT: "8080" },
            depends: ["db"],
          },
        ],
      );
      const lines = name.endsWith(".toml") ? [4, 8, 10] : [4, 9, 11];
      assert.deepEqual(
        file.appliances.map((app) => app.source),
        lines.map((line) => ({ file: path, line })),
      );
    });
  }

  it("resolves extends chains in order (the entry over its bases over `_`), and never runs a template", async () => {
    const file = await load(
      "chain.toml",
      `[_]
grace = 1
env = { A = "defaults", B = "defaults", C = "defaults" }
[".base"]
cmd = "base"
grace = 2
env = { B = "base", C = "base" }
depends = ["x", "y"]
hooks.crash = [{ shell = "echo base crash" }]
hooks.stop = [{ shell = "echo base stop" }]
[middle]
extends = ".base"
env = { C = "middle" }
depends = ["z"]
hooks.crash = [{ http = "https://example.com/hook" }]
[top]
extends = "middle"
cmd = "top"
`,
    );
    assert.deepEqual(
      file.appliances.map((app) => app.config.name),
      ["middle", "top"],
    );
    const [middle, top] = file.appliances.map((app) => app.config);
    assert.equal(middle.cmd, "base");
    assert.equal(middle.grace, 2);
    assert.deepEqual(middle.env, { A: "defaults", B: "base", C: "middle" });
    assert.deepEqual(middle.depends, ["z"], "a list is replaced whole, never appended");
    assert.deepEqual(middle.hooks, { crash: [{ http: "https://example.com/hook" }], stop: [{ shell: "echo base stop" }] });
    assert.equal(top.cmd, "top");
    assert.deepEqual(top.env, middle.env);
    assert.deepEqual(top.hooks, middle.hooks);
  });

  it("takes several spec options (a value may hold ':'), merged over specOptions and inherited", async () => {
    const file = await load(
      "spec.yaml",
      `.img#registry:localhost:5000:
  runner: docker
  image: busybox
"box#vsn:~>2.0, tag : stable":
  extends: .img
  specOptions: { tag: latest, arch: amd64 }
`,
    );
    assert.deepEqual(file.appliances[0].config.specOptions, { registry: "localhost:5000", tag: "stable", vsn: "~>2.0", arch: "amd64" });
    assert.equal(file.appliances[0].config.name, "box");
  });

  it("takes numbers and booleans as environment text, and an empty file as no appliances", async () => {
    const file = await load("env.toml", `[web]\ncmd = "x"\nenv.PORT = 8080\nenv.DEBUG = true\n`);
    assert.deepEqual(file.appliances[0].config.env, { PORT: "8080", DEBUG: "true" });
    assert.deepEqual(await load("empty.yaml", "# nothing yet\n"), { appliances: [], defaults: {} });
    assert.deepEqual(await load("empty.toml", ""), { appliances: [], defaults: {} });
  });

  it("leaves dependencies on appliances outside the file to the manager", async () => {
    const file = await load("deps.toml", `[web]\ncmd = "x"\ndepends = ["db-elsewhere"]\n`);
    assert.deepEqual(file.appliances[0].config.depends, ["db-elsewhere"]);
  });

  it("refuses unknown keys with their name and line, at the top and nested, in TOML", async () => {
    assert.equal(
      await refusal("apps.toml", `[_]\nrestart = "permanent"\n\n[web]\ncmd = "x"\n\ncolour = "red"\n`, 7, "colour"),
      'unknown key "colour" in [web]',
    );
    assert.equal(
      await refusal("apps.toml", `[web]\ncmd = "x"\nreadiness = { kind = "tcp", port = 80, colour = 1 }\n`, 3, "colour"),
      'unknown key "colour" in [web] readiness',
    );
    assert.equal(
      await refusal("apps.toml", `[web]\ncmd = "x"\n[web.readiness]\nkind = "tcp"\nport = 80\n\ncolour = 1\n`, 7, "colour"),
      'unknown key "colour" in [web] readiness',
    );
    assert.equal(
      await refusal("apps.toml", `web.cmd = "x"\nweb.settings.graceMs = 1\nweb.settings.colourMs = 1\n`, 3, "colourMs"),
      'unknown key "colourMs" in [web] settings',
    );
    assert.equal(
      await refusal(
        "apps.toml",
        `[a]\ncmd = "x"\n[[a.hooks.crash]]\nhttp = "https://x.example"\n[[a.hooks.crash]]\nshell = "y"\ncolour = 2\n`,
        7,
        "colour",
      ),
      'unknown key "colour" in [a] hooks.crash.1',
    );
    assert.equal(
      await refusal(
        "apps.toml",
        `[a]\ncmd = "x"\nhooks.crash = [\n  { http = "https://x.example" },\n  { shell = "y", colour = 1 },\n]\n`,
        5,
        "colour",
      ),
      'unknown key "colour" in [a] hooks.crash.1',
    );
    assert.equal(await refusal("apps.toml", `[_]\ncolour = 1\n`, 2, "colour"), 'unknown key "colour" in [_]');
    assert.match(await refusal("apps.toml", `[web]\nname = "other"\ncmd = "x"\n`, 2, "name"), /the entry's key is the name/);
  });

  it("refuses unknown keys with their name and line in YAML", async () => {
    assert.equal(
      await refusal("apps.yaml", `web:\n  cmd: x\n  env:\n    A: b\n  colour: red\n`, 5, "colour"),
      'unknown key "colour" in [web]',
    );
    assert.equal(
      await refusal("apps.yaml", `web:\n  cmd: x\n  readiness:\n    kind: tcp\n    port: 80\n    colour: 1\n`, 6, "colour"),
      'unknown key "colour" in [web] readiness',
    );
    assert.equal(
      await refusal(
        "apps.yml",
        `web:\n  cmd: x\n  hooks:\n    crash:\n      - http: https://x.example\n      - shell: y\n        colour: 1\n`,
        7,
        "colour",
      ),
      'unknown key "colour" in [web] hooks.crash.1',
    );
  });

  it("refuses bad values at the line of the key that holds them", async () => {
    assert.match(await refusal("apps.toml", `[web]\ncmd = "x"\n\ngrace = "ten"\n`, 4, "grace"), /^\[web\] grace: .*number/);
    assert.match(await refusal("apps.yaml", `web:\n  cmd: x\n  restart: sometimes\n`, 3, "restart"), /^\[web\] restart: /);
    assert.match(
      await refusal("apps.toml", `[web]\ncmd = "x"\n[web.readiness]\nkind = "tcp"\nport = "80"\n`, 5, "readiness.port"),
      /readiness\.port/,
    );
    assert.match(await refusal("apps.toml", `[web]\ncmd = "x"\nenv."BAD NAME" = "y"\n`, 3, "env.BAD NAME"), /env\.BAD NAME/);
  });

  it("refuses a runner's missing or foreign field, at the line that set it, also when `_` set it", async () => {
    assert.match(
      await refusal("apps.toml", `[_]\nimage = "busybox"\n[web]\ncmd = "x"\n`, 2, "image"),
      /shell runner does not take "image" \(set in \[_\]\)/,
    );
    assert.match(await refusal("apps.toml", `[web]\nrestart = "permanent"\n`, 1, "cmd"), /shell runner needs "cmd"/);
    assert.match(await refusal("apps.yaml", `web:\n  cmd: x\n  depends: [web]\n`, 3, "depends"), /depends on itself/);
  });

  it("refuses two entries with the same name once the spec suffix is stripped, naming both", async () => {
    assert.equal(
      await refusal("apps.toml", `[web]\ncmd = "x"\n\n["web#vsn:2"]\ncmd = "y"\n`, 4, "web#vsn:2"),
      '[web#vsn:2] names "web" again: [web] at line 1 already does',
    );
    assert.match(await refusal("apps.yaml", `web:\n  cmd: x\nweb#vsn:2:\n  cmd: y\n`, 3, "web#vsn:2"), /\[web\] at line 1/);
  });

  it("refuses a missing base and a cycle, naming both ends", async () => {
    assert.equal(
      await refusal("apps.toml", `[worker]\ncmd = "x"\nextends = "nope"\n`, 3, "extends"),
      '[worker] extends "nope", which this file does not define',
    );
    assert.equal(
      await refusal("apps.toml", `[a]\ncmd = "x"\nextends = "b"\n[b]\nextends = "c"\n[c]\nextends = "a"\n`, 7, "extends"),
      '[c] extends "a", which leads back to "c": a cycle (a → b → c → a)',
    );
    assert.match(await refusal("apps.yaml", `.t:\n  extends: .t\n`, 2, "extends"), /a cycle \(\.t → \.t\)/);
    assert.match(await refusal("apps.toml", `[_]\nextends = "web"\n`, 2, "extends"), /\[_\] cannot extend/);
  });

  it("refuses bad specs and names, and a top-level value that is not a table", async () => {
    assert.match(await refusal("apps.toml", `["web#"]\ncmd = "x"\n`, 1, "web#"), /empty spec suffix/);
    assert.match(await refusal("apps.toml", `["web#vsn"]\ncmd = "x"\n`, 1, "web#vsn"), /not key:value/);
    assert.match(await refusal("apps.toml", `["web#a:1,a:2"]\ncmd = "x"\n`, 1, "web#a:1,a:2"), /given twice/);
    assert.match(await refusal("apps.yaml", `"-web":\n  cmd: x\n`, 1, "-web"), /not an appliance name/);
    assert.match(
      await refusal("apps.toml", `[web]\ncmd = "x"\n[db]\ncmd = "y"\n\nrestart = ["permanent"]\n[x]\n`, 6, "restart"),
      /restart/,
    );
    assert.match(await refusal("apps.yaml", `web: node server.js\n`, 1, "web"), /must be a table of options, not a string/);
    assert.match(await refusal("apps.yaml", `- web\n`, 1), /table of appliances/);
  });

  it("refuses syntax errors with the parser's line", async () => {
    assert.match(await refusal("apps.toml", `[web]\ncmd = "x"\ngrace = \n`, 3), /^TOML syntax: /);
    assert.match(await refusal("apps.toml", `[web]\ncmd = "x"\n[web]\ncmd = "y"\n`, 3), /^TOML syntax: /);
    assert.match(await refusal("apps.yaml", `web:\n  cmd: x\n  cmd: y\n`, 3), /^YAML syntax: Map keys must be unique/);
    assert.match(await refusal("apps.yaml", `web:\n  cmd: x\n  env: ]\n`, 3), /^YAML syntax: /);
  });

  it("refuses other extensions naming the ones it takes, a missing file, and a file over 1 MiB", async () => {
    await assert.rejects(loadApplianceFile(write("apps.json", "{}")), (error: LivelyError) => {
      assert.equal(error.code, "bad_request");
      assert.match(error.message, /\.toml, \.yaml, \.yml/);
      return true;
    });
    await assert.rejects(loadApplianceFile(join(dir, "missing.toml")), { code: "not_found" });
    await assert.rejects(loadApplianceFile(write("big.toml", `# ${"x".repeat(1024 * 1024)}\n`)), (error: LivelyError) => {
      assert.equal(error.code, "too_large");
      assert.match(error.message, /1 MiB/);
      return true;
    });
  });
});

describe("the config file examples of docs/appliances.md", () => {
  it("give the same appliances in TOML and YAML, with env merged as the page says", async () => {
    const page = readFileSync(new URL("../docs/appliances.md", import.meta.url), "utf8");
    const section = page.slice(page.indexOf("## Config files"), page.indexOf("## Hooks"));
    const block = (lang: string) =>
      section.match(new RegExp("```" + lang + "\\n([\\s\\S]*?)```"))?.[1] ?? assert.fail(`no ${lang} example`);
    const toml = await load("doc.toml", block("toml"));
    const yaml = await load("doc.yaml", block("yaml"));
    assert.deepEqual(
      toml.appliances.map((app) => app.config),
      yaml.appliances.map((app) => app.config),
    );
    assert.deepEqual(
      toml.appliances.map((app) => app.config.name),
      ["web", "db", "worker"],
    );
    const worker = toml.appliances[2].config;
    assert.deepEqual(worker.env, { LOG_LEVEL: "info", NODE_ENV: "production", PORT: "8080" });
    assert.deepEqual(worker.specOptions, { vsn: "~>2.0" });
    assert.deepEqual(worker.hooks, { crash: [{ http: "https://alerts.example.com/hook" }] });
  });
});

describe("TOML key lines", () => {
  it("finds headers, arrays of tables, dotted and quoted keys, inline tables, array elements and skips strings", () => {
    const lines = tomlKeyLines(`# a comment [not.a.table]
title = """
[fake]
x = 1
"""
[web]
env = { PORT = "80", "Q.K" = 'v' }
a.b . c = 1
list = [
  "one", # "two" = 2
  { k = 1 },
]
[[web.hooks.crash]]
shell = "echo ] [x]"
[[web.hooks.crash]]
http = "https://x"
["quoted \\"key\\""]
'lit.key' = 2
`);
    const at = (...path: (string | number)[]) => lines.get(JSON.stringify(path));
    assert.equal(at("title"), 2);
    assert.equal(at("fake"), undefined);
    assert.equal(at("web"), 6);
    assert.equal(at("web", "env", "PORT"), 7);
    assert.equal(at("web", "env", "Q.K"), 7);
    assert.equal(at("web", "a", "b", "c"), 8);
    assert.equal(at("web", "list", 0), 10);
    assert.equal(at("web", "list", 1, "k"), 11);
    assert.equal(at("web", "hooks", "crash", 0, "shell"), 14);
    assert.equal(at("web", "hooks", "crash", 1), 15);
    assert.equal(at("web", "hooks", "crash", 1, "http"), 16);
    assert.equal(at('quoted "key"', "lit.key"), 18);
  });
});
