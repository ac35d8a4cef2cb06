/**
 * Which modules hear events (node/module-events.ts) follows the node's channel index: a module
 * whose production head exports onEvent is called, and one whose head does not is not; a deploy
 * that moves production to a version with (or without) onEvent changes that at the next new
 * seq. The exports of a head are asked of the store once, not on every seq. A real store and
 * index; the call is the one seam (no isolates here).
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import type { LivelyEvent } from "../src/cluster/event-log.ts";
import { EventManager } from "../src/cluster/events.ts";
import { ChannelIndex } from "../src/code/channel-index.ts";
import { tag } from "../src/code/channels.ts";
import { deploy } from "../src/code/deploy.ts";
import { silentLogger } from "../src/log.ts";
import { deliverEventsToModules, productionHeads } from "../src/node/module-events.ts";
import type { Store } from "../src/store/store.ts";
import { describeEachBackend, openTestStore } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { compiled, validate } from "./helpers/validator.ts";

describeEachBackend("module events follow the channel index", (backend) => {
  let opened: Awaited<ReturnType<typeof openTestStore>>;
  let index: ChannelIndex;
  const events = new EventManager<LivelyEvent>({ log: silentLogger });
  const called: string[] = [];
  let reads = 0;
  let delivering: { stop(): void } | undefined;

  const publish = async (module: string, withOnEvent: boolean, channels?: string[]) => {
    const c = await compiled(
      `export default { fetch() { return new Response("ok") } }${withOnEvent ? "\nexport function onEvent() {}" : ""}`,
    );
    return (await deploy(opened.store, { module, ...c, message: "", actor: "tester", channels }, validate)).version;
  };
  let seq = 0;
  const event = (): LivelyEvent => ({ kind: "node.up", log: "nodes", seq: ++seq, at: new Date().toISOString(), node: "n", address: "a" });

  before(async () => {
    opened = await openTestStore(backend);
    await publish("quiet", false);
    await publish("loud", true);
    index = new ChannelIndex(opened.store, { log: silentLogger });
    await index.catchUp();
    // Counts the reads module events makes: it is given this store and nothing else reads through it.
    const counting: Store = Object.create(opened.store, {
      read: {
        value: <T>(fn: Parameters<Store["read"]>[0]) => {
          reads++;
          return opened.store.read(fn) as Promise<T>;
        },
      },
    });
    delivering = deliverEventsToModules({
      events,
      store: () => counting,
      appliedSeq: () => index.appliedSeq,
      heads: () => productionHeads(index),
      bindings: (module) => index.settings(module)?.kvBindings ?? {},
      call: async (module) => {
        called.push(module);
      },
      moduleLog: () => undefined,
      nodeId: () => "test",
      log: silentLogger,
    });
  });
  after(async () => {
    delivering?.stop();
    await opened.close();
  });

  it("calls the module whose production head exports onEvent, not the other", async () => {
    events.notify(event());
    await eventually("loud heard it", () => called.length === 1);
    assert.deepEqual(called, ["loud"]);
    assert.equal(reads, 1, "one read for the heads it had not seen");
    events.notify(event());
    await eventually("loud heard the second", () => called.length === 2);
    assert.equal(reads, 1, "no new seq, no read");
  });

  it("a deploy that moves production changes who hears, with one read of the new head", async () => {
    const quiet2 = await publish("quiet", true);
    await tag(opened.store, { module: "quiet", version: quiet2, channel: "production", actor: "tester" });
    const loud2 = await publish("loud", false);
    await tag(opened.store, { module: "loud", version: loud2, channel: "production", actor: "tester" });
    await index.catchUp();
    called.length = 0;
    events.notify(event());
    await eventually("quiet heard it", () => called.length === 1);
    assert.deepEqual(called, ["quiet"]);
    assert.equal(reads, 2);
  });
});
