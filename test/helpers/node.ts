/** A real node on a loopback port for a test file, and a small HTTP client for its API. */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../src/log.ts";
import { type NodeOptions, type RunningNode, startNode } from "../../src/node/node.ts";
import type { SandboxLimits } from "../../src/runtime/sandbox.ts";
import type { TestBackend } from "./backends.ts";
import { tempDir } from "./temp-dir.ts";

export interface TestNode {
  node: RunningNode;
  url: string;
  dataDir: string;
  adminToken: string;
  api(
    method: string,
    path: string,
    options?: { body?: unknown; raw?: string; token?: string | null; contentType?: string },
  ): Promise<{ status: number; body: any }>;
  /** Deploy `code` as a new version of `module` through the admin API (asserting it worked). */
  deploy(module: string, code: string, channels?: string[]): Promise<{ version: number; seq: number }>;
  close(): Promise<void>;
}

export async function startTestNode(
  backend: TestBackend,
  options: { maxSourceBytes?: number; sandboxLimits?: SandboxLimits; maxBodyBytes?: number; node?: Partial<NodeOptions> } = {},
): Promise<TestNode> {
  const { db, cleanup } = await backend.createDb();
  const dataDir = tempDir("lively-node-");
  const node = await startNode({
    db,
    dataDir,
    port: 0,
    nodeId: "test-node",
    log: silentLogger,
    limits: options.maxSourceBytes ? { maxSourceBytes: options.maxSourceBytes } : undefined,
    sandboxLimits: options.sandboxLimits,
    maxBodyBytes: options.maxBodyBytes,
    ...options.node,
  });
  const adminToken = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
  const api: TestNode["api"] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = {};
    const token = opts.token === undefined ? adminToken : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers["content-type"] = opts.contentType ?? "application/json";
    const response = await fetch(`${node.url}/_lively/api/v1${path}`, { method, headers, body });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    node,
    url: node.url,
    dataDir,
    adminToken,
    api,
    async deploy(module, code, channels) {
      const response = await api("POST", `/modules/${module}/versions`, { body: { code, channels } });
      if (response.status !== 201 && response.status !== 200)
        throw new Error(`deploy ${module}: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body as { version: number; seq: number };
    },
    async close() {
      await node.close();
      await cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
