/**
 * A tripwire for tests of fetch refusals: while it is set, a TCP connect in this process to an
 * address that is not loopback throws before the socket connects (and is recorded), whatever
 * the code under test does. It is written independently of src/code/address-ranges.ts on
 * purpose: if the code under test were broken, no packet could leave the machine anyway.
 *
 * It wraps net.Socket.prototype.connect (every net.connect, tls.connect and undici connection
 * goes through it): an IP host must be loopback, and for a host name the lookup's answer is
 * checked before the socket may use it.
 *
 *   const wire = setLoopbackTripwire();
 *   … tests …
 *   wire.remove(); assert.deepEqual(wire.violations, []);
 */
import { lookup as dnsLookup } from "node:dns";
import net from "node:net";

export interface Tripwire {
  /** Connects that were stopped, as "host" or "name -> address". */
  violations: string[];
  remove(): void;
}

function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === "::1" || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(address);
}

type AnyLookup = (hostname: string, options: Record<string, unknown>, callback: (...args: unknown[]) => void) => void;

export function setLoopbackTripwire(): Tripwire {
  const violations: string[] = [];
  const original = net.Socket.prototype.connect;
  const stop = (what: string): Error => {
    violations.push(what);
    return new Error(`loopback tripwire: a connect to ${what} was stopped (tests may only reach loopback)`);
  };
  const wrapLookup =
    (hostname: string, lookup: AnyLookup): AnyLookup =>
    (name, options, callback) =>
      lookup(name, options, (error: unknown, address: unknown, family: unknown) => {
        if (error) return callback(error);
        const list = Array.isArray(address) ? (address as { address: string }[]).map((a) => a.address) : [String(address)];
        const outside = list.filter((a) => !isLoopback(a));
        if (outside.length > 0) return callback(stop(`${hostname} -> ${outside.join(", ")}`));
        callback(null, address, family);
      });

  net.Socket.prototype.connect = function connect(this: net.Socket, ...args: unknown[]) {
    // net.connect hands over [options, callback] as one normalized array; a direct call passes them as arguments.
    const holder = Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
    const first = holder[0];
    if (first !== null && typeof first === "object" && !("path" in first && (first as { path?: unknown }).path)) {
      const options = first as { host?: string; lookup?: AnyLookup };
      const host = options.host ?? "localhost";
      if (net.isIP(host) !== 0) {
        if (!isLoopback(host)) throw stop(host);
      } else {
        holder[0] = { ...options, lookup: wrapLookup(host, options.lookup ?? (dnsLookup as unknown as AnyLookup)) };
      }
    } else if (typeof first === "number" || typeof first === "string") {
      const host = typeof holder[1] === "string" ? holder[1] : "localhost";
      if (net.isIP(host) !== 0 && !isLoopback(host)) throw stop(host);
      if (net.isIP(host) === 0 && host !== "localhost") throw stop(`${host} (a name, connected without a checked lookup)`);
    }
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof original;

  return {
    violations,
    remove() {
      net.Socket.prototype.connect = original;
    },
  };
}
