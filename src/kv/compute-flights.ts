/**
 * Get-or-compute on one node (issue 10, part 3): however many callers on this node ask for one
 * key at once, one "flight" per key makes the attempts (compute.ts) for all of them, one at a
 * time (Go's singleflight, across the cluster through the lease): 1,000 local callers make one
 * lease attempt, and their waiting costs one store read per poll, not one per caller.
 *
 * - A caller joins its key's flight with a ticket. A local ticket brings the function (NodeKv.
 *   getOrCompute); a remote one (the HTTP protocol) computes in its own process and only wants
 *   the lease, within its `waitMs`.
 * - The flight attempts for the ticket at the head of the line (its options). `value` and
 *   `failed` settle every ticket. `lease` goes to the head: a local head's function runs here,
 *   the lease renewed every leaseMs/3, and its value (or failure) settles every ticket; a remote
 *   head is answered with the lease and the flight goes on waiting for its value.
 * - While someone else holds the lease, the flight polls the store with backoff (20 ms doubling to
 *   200 ms: well under the 1 s a failure is remembered) and wakes early on every invalidation of
 *   the key, from this node's writes or the KV change feed (kv/cache.ts `onInvalidate`). A
 *   lease that expires unrenewed is taken over by the next attempt.
 * - With staleWhileRevalidate, tickets whose window covers the kept expired value are settled
 *   with it at once, while one caller recomputes.
 * - A holder whose completion is refused (`fenced`: it lost the lease) goes back to waiting for
 *   the new holder's value: no caller computes twice.
 *
 * Owns the flights of a node (one per store: `flightsFor`). Imports errors.ts, kv/ and store/ only;
 * never pg, better-sqlite3, or a layer above kv/.
 */
import { hostname } from "node:os";
import { LivelyError, toError } from "../errors.ts";
import type { EntryRecord } from "../store/queries/kv.ts";
import type { Store } from "../store/store.ts";
import type { KvReadCache } from "./cache.ts";
import {
  type Attempt,
  attemptCompute,
  type ComputeOptions,
  completeLease,
  failLease,
  type ResolvedCompute,
  renewLease,
  type Stale,
  storableMessage,
} from "./compute.ts";

export type FlightOutcome =
  | { state: "value"; record: EntryRecord }
  | { state: "lease"; token: number; leaseMs: number; stale?: EntryRecord }
  | { state: "failed"; message: string; cause?: unknown }
  | { state: "pending" }
  | { state: "error"; error: unknown };

interface Ticket {
  options: ComputeOptions;
  resolved: ResolvedCompute;
  /** A local caller's function; absent for a remote caller. */
  compute?: () => unknown;
  /** A remote caller past its waitMs: answered `pending` after the attempt under way. */
  expired: boolean;
  settle(outcome: FlightOutcome): void;
}

interface Flight {
  bucket: string;
  key: string;
  /** In arrival order: the head's options make the attempt, and the head gets a lease. */
  tickets: Set<Ticket>;
  attempting: boolean;
  /** The expired value kept for stale reads, as the last attempt found it: later joiners whose window covers it get it at once. */
  stale?: Stale;
  /** When (monotonic ms) `stale` was read: a joiner's window is judged on the database's clock moved on by this much. */
  staleSeenAt: number;
  woken: boolean;
  wakeUp?: () => void;
}

const FIRST_POLL_MS = 20;
const MAX_POLL_MS = 200;

const flightId = (bucket: string, key: string) => `${bucket}\u0000${key}`;
const isFenced = (error: unknown) => error instanceof LivelyError && error.code === "fenced";

export interface FlightStats {
  /** Keys with callers waiting now. */
  flights: number;
  /** Attempts made (each one store read, and a write when the lease was free). */
  attempts: number;
  /** Functions run on this node. */
  computed: number;
}

export class ComputeFlights {
  private readonly flights = new Map<string, Flight>();
  private readonly counts = { attempts: 0, computed: 0 };

  constructor(
    private readonly store: Store,
    /** Written into the lease rows this node takes (who computes); never checked. */
    private readonly holder: string = `${hostname()}:${process.pid}`,
    private readonly cache?: KvReadCache,
  ) {
    // Held weakly: flights of a store that was replaced (the node's store restarted) are collected, and stop watching.
    const self = new WeakRef(this);
    const stop = cache?.onInvalidate((bucket, key) => {
      const flights = self.deref();
      if (flights) flights.wake(bucket, key);
      else stop?.();
    });
  }

  /** Run `fn` unless the key has a value or someone else computes it; settles `value`, `failed` or `error`. */
  compute(bucket: string, key: string, fn: () => unknown, options: ComputeOptions, resolved: ResolvedCompute): Promise<FlightOutcome> {
    return new Promise((settle) => this.join(bucket, key, { options, resolved, compute: fn, expired: false, settle }));
  }

  /** For a caller that computes elsewhere: `value`, `lease`, `failed`, or `pending` after `waitMs` (or an abort). */
  request(
    bucket: string,
    key: string,
    options: ComputeOptions,
    resolved: ResolvedCompute,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<FlightOutcome> {
    return new Promise((settle) => {
      let timer: NodeJS.Timeout | undefined;
      const ticket: Ticket = {
        options,
        resolved,
        expired: false,
        settle: (outcome) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", leave);
          settle(outcome);
        },
      };
      const flight = this.join(bucket, key, ticket);
      const leave = () => {
        if (!flight.tickets.delete(ticket)) return;
        ticket.settle({ state: "pending" });
        if (flight.tickets.size === 0) this.wakeFlight(flight);
      };
      const expire = () => {
        if (!flight.tickets.has(ticket)) return;
        if (flight.attempting) ticket.expired = true;
        else leave();
      };
      if (!flight.tickets.has(ticket)) return; // answered at once (a stale value)
      signal?.addEventListener("abort", leave, { once: true });
      timer = setTimeout(expire, waitMs);
    });
  }

  /** Something changed the key (or the bucket: key null): its flight attempts again now. */
  wake(bucket: string, key: string | null): void {
    if (key !== null) {
      const flight = this.flights.get(flightId(bucket, key));
      if (flight) this.wakeFlight(flight);
      return;
    }
    for (const flight of this.flights.values()) if (flight.bucket === bucket) this.wakeFlight(flight);
  }

  stats(): FlightStats {
    return { flights: this.flights.size, ...this.counts };
  }

  private join(bucket: string, key: string, ticket: Ticket): Flight {
    const id = flightId(bucket, key);
    const existing = this.flights.get(id);
    if (existing) {
      if (!this.settleStaleTicket(ticket, existing.stale, performance.now() - existing.staleSeenAt)) existing.tickets.add(ticket);
      return existing;
    }
    const flight: Flight = { bucket, key, tickets: new Set([ticket]), attempting: false, staleSeenAt: 0, woken: false };
    this.flights.set(id, flight);
    this.run(flight)
      .catch((error: unknown) => this.settleAll(flight, { state: "error", error }))
      .finally(() => {
        if (this.flights.get(id) === flight) this.flights.delete(id);
      });
    return flight;
  }

  private async run(flight: Flight): Promise<void> {
    const { bucket, key } = flight;
    let delay = FIRST_POLL_MS;
    let waitedOn: number | undefined;
    while (flight.tickets.size > 0) {
      const head = flight.tickets.values().next().value as Ticket;
      flight.woken = false;
      flight.attempting = true;
      let attempt: Attempt;
      try {
        this.counts.attempts++;
        const holder = head.compute ? this.holder : `${this.holder} for an HTTP caller`;
        attempt = await attemptCompute(this.store, { ...head.resolved, bucket, key, holder, waitedOn });
      } catch (error) {
        this.settleAll(flight, { state: "error", error });
        return;
      } finally {
        flight.attempting = false;
      }
      if (attempt.state === "value" || attempt.state === "failed") {
        this.settleAll(flight, attempt.state === "value" ? attempt : { state: "failed", message: attempt.message });
        return;
      }
      waitedOn = attempt.token;
      if (attempt.state === "lease") {
        // The head may have left during the attempt (a remote caller that hung up): the next in line takes it.
        const taker = flight.tickets.values().next().value as Ticket | undefined;
        if (!taker) return; // nobody wants it any more: it expires unrenewed, and the next caller takes it over
        if (!taker.compute) {
          flight.tickets.delete(taker);
          taker.settle({ state: "lease", token: attempt.token, leaseMs: attempt.leaseMs, stale: attempt.stale?.record });
          this.settleStale(flight, attempt.stale);
          this.settleExpired(flight);
          delay = FIRST_POLL_MS;
          if (flight.tickets.size > 0) await this.rest(flight, delay);
          continue;
        }
        const fn = taker.compute;
        this.settleStale(flight, attempt.stale);
        const outcome = await this.computeHere(bucket, key, fn, taker.options, attempt.token);
        if (outcome) {
          this.settleAll(flight, outcome);
          return;
        }
        delay = FIRST_POLL_MS; // fenced: another caller holds the lease now; wait for its value
        continue;
      }
      this.settleStale(flight, attempt.stale);
      this.settleExpired(flight);
      if (flight.tickets.size === 0) return;
      await this.rest(flight, delay);
      delay = Math.min(delay * 2, MAX_POLL_MS);
    }
  }

  /**
   * Run the function under the lease `token`, renewing it, and store its value (or its failure).
   * Undefined when the lease was lost to a newer holder (nothing written).
   */
  private async computeHere(
    bucket: string,
    key: string,
    fn: () => unknown,
    options: ComputeOptions,
    token: number,
  ): Promise<FlightOutcome | undefined> {
    this.counts.computed++;
    // A failed renewal changes nothing here: a lost lease shows as `fenced` at the completion.
    const renewal = setInterval(
      () => void renewLease(this.store, { bucket, key, token }).catch(() => undefined),
      Math.floor((options.leaseMs ?? 10_000) / 3),
    );
    let value: unknown;
    try {
      value = await fn();
    } catch (thrown) {
      clearInterval(renewal);
      return this.failHere(bucket, key, token, toError(thrown).message, thrown);
    } finally {
      clearInterval(renewal);
    }
    try {
      const written = await completeLease(this.store, { bucket, key, token, value, metadata: options.metadata });
      return { state: "value", record: written.record };
    } catch (thrown) {
      if (isFenced(thrown)) return undefined;
      // A value that cannot be stored (not JSON, over 25 MiB) fails like a throw: every waiter hears why.
      if (thrown instanceof LivelyError && (thrown.code === "bad_request" || thrown.code === "too_large")) {
        return this.failHere(bucket, key, token, thrown.message, thrown);
      }
      return { state: "error", error: thrown };
    } finally {
      this.cache?.invalidate(bucket, key);
    }
  }

  private async failHere(bucket: string, key: string, token: number, message: string, cause: unknown): Promise<FlightOutcome | undefined> {
    try {
      await failLease(this.store, { bucket, key, token, message: storableMessage(message) });
    } catch (failing) {
      if (isFenced(failing)) return undefined;
      // The database is away: callers here still hear the failure; elsewhere they take over after the lease.
    }
    return { state: "failed", message, cause };
  }

  private settleAll(flight: Flight, outcome: FlightOutcome): void {
    const tickets = [...flight.tickets];
    flight.tickets.clear();
    for (const ticket of tickets) ticket.settle(outcome);
  }

  /** Tickets whose staleWhileRevalidate window covers the kept expired value get it now. */
  private settleStale(flight: Flight, stale: Stale | undefined): void {
    flight.stale = stale;
    flight.staleSeenAt = performance.now();
    for (const ticket of flight.tickets) if (this.settleStaleTicket(ticket, stale, 0)) flight.tickets.delete(ticket);
  }

  /** Settle `ticket` with the stale value if its window covers it, `elapsedMs` after it was read; true when it did. */
  private settleStaleTicket(ticket: Ticket, stale: Stale | undefined, elapsedMs: number): boolean {
    const window = ticket.resolved.staleMs;
    if (!stale || stale.record.expiresAt === null || window === null) return false;
    if (stale.record.expiresAt + window <= stale.dbNow + elapsedMs) return false;
    ticket.settle({ state: "value", record: stale.record });
    return true;
  }

  private settleExpired(flight: Flight): void {
    for (const ticket of flight.tickets) {
      if (!ticket.expired) continue;
      flight.tickets.delete(ticket);
      ticket.settle({ state: "pending" });
    }
  }

  private wakeFlight(flight: Flight): void {
    flight.woken = true;
    flight.wakeUp?.();
  }

  private rest(flight: Flight, ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (flight.woken || flight.tickets.size === 0) return resolve();
      const done = () => {
        clearTimeout(timer);
        flight.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      flight.wakeUp = done;
    });
  }
}

const perStore = new WeakMap<Store, ComputeFlights>();

/** The flights of the node that owns `store`: every NodeKv on it shares them, so its callers coalesce. */
export function flightsFor(store: Store, cache?: KvReadCache, holder?: string): ComputeFlights {
  let flights = perStore.get(store);
  if (!flights) {
    flights = new ComputeFlights(store, holder, cache);
    perStore.set(store, flights);
  }
  return flights;
}
