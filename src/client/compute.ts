/**
 * `get(key, fn)` over HTTP: get-or-compute under the cluster's lease (the protocol in
 * docs/api.md, "get-or-compute"). The node answers one of four states:
 *
 * - `value`: someone computed it already: return it.
 * - `lease`: this caller computes. `fn` runs here, in the caller's process; the lease is renewed
 *   every leaseMs/3 while it runs, then the value is handed in with `complete` (or the error
 *   with `fail`, which every waiter then sees). A lease lost meanwhile (a renewal or the
 *   completion answers 409 `fenced`: the caller paused or was cut off past its lease, and a
 *   newer holder took over) throws: nothing this caller computed is written.
 *   With `stale` (stale-while-revalidate), the expired value is answered at once and `fn` runs
 *   behind it.
 * - `pending`: still computing elsewhere after the node's wait: ask again.
 * - `failed`: a computation failed under 1 s ago: throw its message (`compute_failed`).
 */
import { LivelyClientError, toError } from "./errors.ts";
import type { Http } from "./http.ts";
import { decodeEntry, encodeValue, type JsonValue, type KvEntry } from "./values.ts";

export interface ComputeOptions {
  /** Whole seconds the computed value lives (as put's ttl). */
  ttl?: number;
  /** Seconds past the TTL an old value is still answered at once while one caller recomputes. */
  staleWhileRevalidate?: number;
  /** The lease's length (1000-60000 ms, default the node's 10000); renewed every leaseMs/3. */
  leaseMs?: number;
  /** JSON stored with the computed value. */
  metadata?: JsonValue;
}

type ComputeAnswer =
  | { state: "value"; entry: KvEntry<unknown> }
  | { state: "lease"; token: string; leaseMs: number; stale?: KvEntry<unknown> }
  | { state: "failed"; error: { message: string } }
  | { state: "pending" };

function fenced(bucket: string, key: string, error: LivelyClientError): LivelyClientError {
  return new LivelyClientError(
    "fenced",
    `lost the lease on key ${JSON.stringify(key)} in bucket '${bucket}' while computing it (paused or cut off past the lease; a newer caller took over): nothing was written`,
    error.status,
    error.details,
    { cause: error },
  );
}

const isFenced = (error: unknown): error is LivelyClientError =>
  error instanceof LivelyClientError && (error.code === "fenced" || (error.status === 409 && error.code !== "conflict"));

export async function getOrCompute<T>(
  http: Http,
  bucket: string,
  key: string,
  compute: () => T | Promise<T>,
  options: ComputeOptions = {},
): Promise<T> {
  const base = `/kv/${encodeURIComponent(bucket)}/compute`;
  for (;;) {
    const answer = await http.request<ComputeAnswer>("POST", base, {
      key,
      ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
      ...(options.staleWhileRevalidate === undefined ? {} : { staleWhileRevalidate: options.staleWhileRevalidate }),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    });
    switch (answer.state) {
      case "value":
        return decodeEntry<T>(answer.entry).value;
      case "pending":
        continue;
      case "failed":
        throw new LivelyClientError("compute_failed", answer.error.message, 200, { bucket, key });
      case "lease":
        if (answer.stale) {
          // Stale-while-revalidate: answer the expired value now and recompute behind it. A
          // failure or a lost lease there reaches the next callers, not this one.
          computeUnderLease(http, base, bucket, key, answer, compute, options).catch(() => undefined);
          return decodeEntry<T>(answer.stale).value;
        }
        return await computeUnderLease(http, base, bucket, key, answer, compute, options);
      default:
        throw new LivelyClientError("internal", `the node answered an unknown compute state ${JSON.stringify(answer)}`);
    }
  }
}

async function computeUnderLease<T>(
  http: Http,
  base: string,
  bucket: string,
  key: string,
  lease: { token: string; leaseMs: number },
  compute: () => T | Promise<T>,
  options: ComputeOptions,
): Promise<T> {
  const { token } = lease;
  let lost: LivelyClientError | undefined;
  let renewing: Promise<void> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = (leaseMs: number) => {
    timer = setTimeout(
      () => {
        renewing = http.request<{ leaseMs: number }>("POST", `${base}/renew`, { key, token }).then(
          (renewed) => {
            if (timer !== undefined) schedule(renewed.leaseMs);
          },
          (error: unknown) => {
            // Fenced: stop renewing, and refuse to hand in the value. Anything else (a blip):
            // try again at the next beat; the node fences us if the lease runs out meanwhile.
            if (isFenced(error)) lost = fenced(bucket, key, error);
            else if (timer !== undefined) schedule(leaseMs);
          },
        );
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    );
    // A pending renewal must not keep a process alive on its own.
    (timer as { unref?: () => void }).unref?.();
  };
  schedule(lease.leaseMs);

  let value: T;
  let encoded: ReturnType<typeof encodeValue>;
  try {
    value = await compute();
    encoded = encodeValue(value);
  } catch (thrown) {
    const error = toError(thrown);
    stop();
    await renewing;
    if (!lost) {
      // Every waiter sees the message; a fenced `fail` changes nothing for us: we throw anyway.
      await http.request("POST", `${base}/fail`, { key, token, message: error.message }).catch(() => undefined);
    }
    throw error;
  }
  stop();
  await renewing;
  if (lost) throw lost;
  try {
    await http.request("POST", `${base}/complete`, {
      key,
      token,
      ...encoded,
      ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    });
  } catch (error) {
    if (isFenced(error)) throw fenced(bucket, key, error);
    throw error;
  }
  return value;

  function stop() {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  }
}
