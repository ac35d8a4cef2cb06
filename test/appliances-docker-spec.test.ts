/**
 * The docker runner's pure parts, no engine needed: the spec's checks (bad fields refused by
 * name), the container options built from a spec, an appliance config turned into a spec, and
 * DOCKER_HOST parsing with the error when no engine answers. The runner against a real engine:
 * appliances-docker.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseApplianceConfig } from "../src/appliances/config.ts";
import { toRunExit } from "../src/appliances/docker/docker-runner.ts";
import { connectEngine, engineAddress } from "../src/appliances/docker/engine.ts";
import { containerOptions, type DockerSpec, dockerSpecOf, validateDockerSpec } from "../src/appliances/docker/spec.ts";

const IMAGE = "localhost/lively-busybox:1";

describe("appliances: docker spec and engine address", () => {
  it("refuses bad fields by name", () => {
    const refuses = (spec: unknown, field: string) =>
      assert.throws(
        () => validateDockerSpec(spec as DockerSpec),
        (error: Error & { details?: { field?: string } }) => {
          assert.equal(error.details?.field, field, error.message);
          return true;
        },
      );
    refuses({}, "image");
    refuses({ image: "has space" }, "image");
    refuses({ image: IMAGE, command: "" }, "command");
    refuses({ image: IMAGE, args: ["ok", 3] }, "args[1]");
    refuses({ image: IMAGE, env: { "A=B": "x" } }, 'env key "A=B"');
    refuses({ image: IMAGE, env: { LIVELY_APPLIANCE_RUN: "x" } }, "env.LIVELY_APPLIANCE_RUN");
    refuses({ image: IMAGE, ports: ["8080"] }, "ports[0]");
    refuses({ image: IMAGE, ports: ["8080:80", "70000:80"] }, "ports[1]");
    refuses({ image: IMAGE, ports: ["300.0.0.1:8080:80"] }, "ports[0]");
    refuses({ image: IMAGE, ports: ["8080:80", "8080:81/tcp"] }, "ports[1]");
    refuses({ image: IMAGE, namePrefix: "-x" }, "namePrefix");
    refuses({ image: IMAGE, stdin: "yes" }, "stdin");
    validateDockerSpec({ image: IMAGE, ports: ["8080:80", "8080:80/udp", "127.0.0.1:9090:90"] });
  });

  it("builds the container from the spec: command line, argv, ports and labels", () => {
    const context = { appliance: "web", runId: "m3x1-1" };
    const options = containerOptions(
      { image: IMAGE, command: "echo hi", ports: ["127.0.0.1:8080:80", "53:53/udp"], env: { A: "1" } },
      context,
    );
    assert.deepEqual(options.Cmd, ["sh", "-c", "echo hi"]);
    assert.deepEqual(options.Env, ["A=1"]);
    assert.deepEqual(options.Labels, { "lively.run": "web:m3x1-1", "lively.appliance": "web" });
    assert.equal(options.name, "lively-web-m3x1-1");
    assert.deepEqual(options.HostConfig.PortBindings, {
      "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }],
      "53/udp": [{ HostIp: "", HostPort: "53" }],
    });
    assert.deepEqual(containerOptions({ image: IMAGE, command: "node", args: ["server.js"] }, context).Cmd, ["node", "server.js"]);
    assert.deepEqual(containerOptions({ image: IMAGE, args: ["--port", "80"] }, context).Cmd, ["--port", "80"]);
    assert.equal(containerOptions({ image: IMAGE }, context).Cmd, undefined, "the image's own CMD");
    assert.deepEqual(toRunExit(137), { code: null, signal: "SIGKILL" });
    assert.deepEqual(toRunExit(3), { code: 3, signal: null });
  });

  it("turns an appliance config into a spec, with the runner's spec options", () => {
    const config = parseApplianceConfig({
      name: "web",
      runner: "docker",
      image: "nginx:1.27",
      cmd: "nginx -g 'daemon off;'",
      env: { A: "1" },
      ports: ["8080:80"],
      specOptions: { prefix: "edge", stdin: "false" },
    });
    assert.deepEqual(dockerSpecOf(config), {
      image: "nginx:1.27",
      command: "nginx -g 'daemon off;'",
      env: { A: "1" },
      ports: ["8080:80"],
      namePrefix: "edge",
      stdin: false,
    });
    const withOption = (specOptions: Record<string, string>) =>
      parseApplianceConfig({ name: "web", runner: "docker", image: "x", specOptions });
    assert.throws(
      () => dockerSpecOf(withOption({ vsn: "~>2.0" })),
      /specOptions.vsn is not an option of the docker runner \(it takes prefix, stdin\)/,
    );
    assert.throws(() => dockerSpecOf(withOption({ stdin: "maybe" })), /specOptions.stdin must be true or false/);
  });

  it("reads DOCKER_HOST, and says plainly when no engine answers", async () => {
    assert.equal(engineAddress("").socketPath, "/var/run/docker.sock");
    assert.deepEqual(engineAddress("tcp://10.0.0.5:2375", {}), {
      url: "tcp://10.0.0.5:2375",
      host: "10.0.0.5",
      port: 2375,
      protocol: "http",
    });
    assert.throws(() => engineAddress("ssh://me@host"), /DOCKER_HOST "ssh:\/\/me@host" is not supported: use unix:\/\/\/path/);
    assert.throws(() => engineAddress("unix://relative.sock"), /absolute socket path/);
    const nowhere = connectEngine(engineAddress("unix:///nonexistent/docker.sock"));
    await assert.rejects(nowhere.ping(), (error: Error & { code?: string }) => {
      assert.equal(error.code, "unavailable");
      assert.match(error.message, /^no Docker engine at unix:\/\/\/nonexistent\/docker.sock .*: start one, or set DOCKER_HOST$/);
      return true;
    });
  });
});
