/**
 * What must hold in a store whatever happened to the writers: the history is gap-free
 * from 1; every version is whole (its artifact matches its sha256, it has its publish row);
 * version numbers are contiguous per module; every channel points at a stored version.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { listChannels } from "../../src/store/queries/channels.ts";
import { listHistory } from "../../src/store/queries/history.ts";
import { listModules } from "../../src/store/queries/modules.ts";
import { currentSeq } from "../../src/store/queries/seq.ts";
import { getVersion, listVersions } from "../../src/store/queries/versions.ts";
import type { Store } from "../../src/store/store.ts";

export async function assertStoreIsWhole(store: Store): Promise<{ seq: number; versions: number }> {
  return store.read(async (db) => {
    const seq = await currentSeq(db);
    const history = await listHistory(db, { since: 0, limit: 1_000_000 });
    assert.deepEqual(
      history.map((h) => h.seq),
      Array.from({ length: seq }, (_, i) => i + 1),
      "history is gap-free up to the counter",
    );
    let versions = 0;
    for (const module of await listModules(db, { includeDeleted: true })) {
      const metas = await listVersions(db, module.name);
      assert.deepEqual(
        metas.map((v) => v.version),
        Array.from({ length: metas.length }, (_, i) => i + 1),
        `${module.name}: contiguous versions`,
      );
      assert.equal(module.latestVersion, metas.length, `${module.name}: latest_version matches`);
      for (const meta of metas) {
        const full = await getVersion(db, module.name, meta.version);
        assert.ok(full, "version readable");
        assert.equal(createHash("sha256").update(full.artifact).digest("hex"), meta.sha256, "artifact is whole");
        const publish = history.find((h) => h.seq === meta.seq);
        assert.equal(publish?.action, "publish");
        assert.equal(publish?.to, meta.version);
        versions++;
      }
      for (const channel of await listChannels(db, module.name)) {
        assert.ok(
          metas.some((v) => v.version === channel.version),
          `${module.name}/${channel.channel} points at a stored version`,
        );
      }
    }
    return { seq, versions };
  });
}
