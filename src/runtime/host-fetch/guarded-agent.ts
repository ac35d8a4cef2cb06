/**
 * The HTTP client that outbound fetch runs through: an undici Agent whose connections can only
 * reach addresses the platform's address policy permits (code/address-ranges.ts).
 *
 * The check sits where the address is chosen, so there is no gap between checking and
 * connecting (no DNS rebinding): a host name is resolved once, by the `lookup` handed to
 * net/tls.connect, and that lookup returns only permitted addresses; the socket connects to
 * exactly what it returned. An IP literal never reaches a lookup (net connects to it as is),
 * so the connector judges it before a socket exists. After connecting, the peer the socket
 * actually reached is judged once more and the socket dropped if it is refused: defence in
 * depth, should a future Node take another path to an address.
 *
 * Owns: the connect-time address guard. Imports host-fetch/errors.ts, node:dns, node:net and undici.
 */
import { lookup as dnsLookup } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { Agent, buildConnector } from "undici";
import { FetchRefused } from "./errors.ts";

export interface ResolvedAddress {
  address: string;
  /** 4 or 6. */
  family: number;
}

/** Every address a host name resolves to. */
export type LookupAll = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), every address, as fetch would use it. */
export const systemLookup: LookupAll = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

/** Appended to an address refusal: the only way past it. */
export const ADDRESS_HINT = "an operator can allow an address range with `lively network allow RANGE`";

/** Why the host must not connect to an address; undefined when it may. */
export type AddressRefusal = (address: string) => string | undefined;

/**
 * A connection refused for its address. `detail` says which address and why, without a URL:
 * host-fetch.ts puts it in a message about the hop.
 */
export class AddressRefused extends FetchRefused {
  constructor(readonly detail: string) {
    super("blocked-address", detail);
  }
}

const MAX_NAMED = 3;

function refusedAll(hostname: string, refusals: readonly string[]): AddressRefused {
  const unique = [...new Set(refusals)];
  const named = unique.slice(0, MAX_NAMED).join("; ");
  const more = unique.length > MAX_NAMED ? ` (and ${unique.length - MAX_NAMED} more)` : "";
  return new AddressRefused(`${hostname} resolves only to addresses fetch may not reach: ${named}${more}`);
}

function wantedFamily(family: unknown): number {
  if (family === 4 || family === "IPv4") return 4;
  if (family === 6 || family === "IPv6") return 6;
  return 0;
}

/** A `lookup` for net/tls.connect that hands back only the addresses `refusal` permits. */
export function guardedLookup(lookup: LookupAll, refusal: AddressRefusal): LookupFunction {
  return (hostname, options, callback) => {
    const family = wantedFamily(options.family);
    lookup(hostname).then(
      (resolved) => {
        const refusals: string[] = [];
        const usable = resolved.filter((entry) => {
          if (family !== 0 && entry.family !== family) return false;
          const why = refusal(entry.address);
          if (why !== undefined) refusals.push(why);
          return why === undefined;
        });
        if (usable.length === 0) {
          if (refusals.length > 0) callback(refusedAll(hostname, refusals), "", 0);
          else callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
          return;
        }
        // net asks for every address (all: true) when it tries families in turn (autoSelectFamily).
        if (options.all) (callback as unknown as (error: null, addresses: ResolvedAddress[]) => void)(null, usable);
        else callback(null, (usable[0] as ResolvedAddress).address, (usable[0] as ResolvedAddress).family);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, "", 0),
    );
  };
}

export interface GuardedAgentOptions {
  refusal: AddressRefusal;
  lookup: LookupAll;
}

/** An Agent whose every connection goes to a permitted address, or is never opened. */
export function createGuardedAgent(options: GuardedAgentOptions): Agent {
  const connectVia = buildConnector({ lookup: guardedLookup(options.lookup, options.refusal) });
  const connect: buildConnector.connector = (target, callback) => {
    if (isIP(target.hostname) !== 0) {
      const why = options.refusal(target.hostname);
      if (why !== undefined) {
        callback(new AddressRefused(why), null);
        return;
      }
    }
    connectVia(target, (error, socket) => {
      if (error !== null) {
        callback(error, null);
        return;
      }
      const remote = socket.remoteAddress;
      const why = remote === undefined ? `the connection to ${target.hostname} has no peer address` : options.refusal(remote);
      if (why !== undefined) {
        socket.destroy();
        callback(new AddressRefused(why), null);
        return;
      }
      callback(null, socket);
    });
  };
  return new Agent({ connect });
}
