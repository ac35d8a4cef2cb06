/** Shared by the host fetch tests: a request to send, and the TypeError a refused or failed fetch rejects with. */
import assert from "node:assert/strict";
import type { HostFetchError, OutboundRequest } from "../../src/runtime/host-fetch.ts";

export const get = (url: string, more: Partial<OutboundRequest> = {}): OutboundRequest => ({
  method: "GET",
  url,
  headers: [],
  body: null,
  redirect: "follow",
  ...more,
});

/** The error `promise` rejects with, which must be a TypeError (what the isolate's fetch throws); fails if it resolves. */
export async function refusal(promise: Promise<unknown>): Promise<HostFetchError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TypeError, `a TypeError, got ${String(error)}`);
    return error as HostFetchError;
  }
  assert.fail("the fetch succeeded");
}
