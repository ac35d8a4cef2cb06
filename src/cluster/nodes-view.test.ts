/** The status rules of `lively nodes`, on plain rows: up / down / left, lag, convergence. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NodeRecord } from "../store/queries/nodes.ts";
import { nodesView } from "./nodes-view.ts";

const NOW = Date.UTC(2026, 11, 1, 10, 0, 0);

function row(id: string, fields: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    address: `http://${id}:8080`,
    livelyVersion: "0.1.0",
    startedAt: NOW - 60_000,
    heartbeatAt: NOW - 500,
    appliedSeq: 42,
    state: "up",
    loaded: [],
    ...fields,
  };
}

describe("nodes view", () => {
  it("shows each row with DESIGN.md's fields first, times as ISO, ages from the database's clock", () => {
    const view = nodesView({ seq: 42, nowMs: NOW, nodes: [row("a", { loaded: [{ module: "hello", version: 3 }] })] });
    const [a] = view.nodes;
    assert.deepEqual(Object.keys(a ?? {}).slice(0, 5), ["id", "address", "status", "appliedSeq", "lag"]);
    assert.deepEqual(a, {
      id: "a",
      address: "http://a:8080",
      status: "up",
      appliedSeq: 42,
      lag: 0,
      livelyVersion: "0.1.0",
      startedAt: "2026-12-01T09:59:00.000Z",
      lastHeartbeat: "2026-12-01T09:59:59.500Z",
      heartbeatAgeMs: 500,
      loaded: [{ module: "hello", version: 3 }],
    });
    assert.equal(view.seq, 42);
    assert.equal(view.converged, true);
  });

  it("is down once the heartbeat is older than the interval, not at it; left whatever its heartbeat", () => {
    const view = nodesView(
      {
        seq: 10,
        nowMs: NOW,
        nodes: [
          row("at-limit", { heartbeatAt: NOW - 10_000 }),
          row("past", { heartbeatAt: NOW - 10_001 }),
          row("left", { state: "left", heartbeatAt: NOW }),
          row("left-long-ago", { state: "left", heartbeatAt: NOW - 3_000_000 }),
        ],
      },
      {},
    );
    assert.deepEqual(
      view.nodes.map((n) => [n.id, n.status]),
      [
        ["at-limit", "up"],
        ["past", "down"],
        ["left", "left"],
        ["left-long-ago", "left"],
      ],
    );
    const custom = nodesView({ seq: 10, nowMs: NOW, nodes: [row("a", { heartbeatAt: NOW - 3_000 })] }, { downAfterMs: 2_000 });
    assert.equal(custom.nodes[0]?.status, "down");
  });

  it("lag is seq minus applied, never negative; a heartbeat 'from the future' has age 0", () => {
    const view = nodesView({
      seq: 50,
      nowMs: NOW,
      nodes: [row("behind", { appliedSeq: 45 }), row("ahead", { appliedSeq: 51, heartbeatAt: NOW + 200 })],
    });
    assert.deepEqual(
      view.nodes.map((n) => [n.id, n.lag, n.heartbeatAgeMs]),
      [
        ["behind", 5, 500],
        ["ahead", 0, 0],
      ],
    );
    assert.equal(view.converged, false, "an up node is behind");
  });

  it("converged: every up node at seq; down and left nodes do not hold it back; no up node is not converged", () => {
    const nodes = [
      row("a"),
      row("b"),
      row("gone", { appliedSeq: 3, heartbeatAt: NOW - 60_000 }),
      row("stopped", { appliedSeq: 7, state: "left" }),
    ];
    assert.equal(nodesView({ seq: 42, nowMs: NOW, nodes }).converged, true);
    assert.equal(nodesView({ seq: 43, nowMs: NOW, nodes }).converged, false);
    assert.equal(nodesView({ seq: 0, nowMs: NOW, nodes: [] }).converged, false);
    assert.equal(nodesView({ seq: 42, nowMs: NOW, nodes: nodes.slice(2) }).converged, false);
  });
});
