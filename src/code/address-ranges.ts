/**
 * Which IP addresses a module's outbound `fetch` may connect to. The fetch allowlist
 * (fetch-allow.ts) says which *names* a module may ask for; this file says which *addresses*
 * the node will connect to at all, whatever the name resolved to. Everything that is not a
 * public unicast address is refused: the node's own machine, the networks it sits in, and the
 * cloud's metadata service must not be reachable through a module.
 *
 * Refused (BLOCKED below, most specific first so a refusal names the narrowest reason):
 *   loopback 127.0.0.0/8 ::1, unspecified 0.0.0.0/8 ::, private 10/8 172.16/12 192.168/16,
 *   shared (CGNAT) 100.64/10, link-local 169.254/16 fe80::/10, unique-local fc00::/7,
 *   multicast, broadcast, documentation, benchmarking and reserved ranges, every IPv6 address
 *   outside global unicast 2000::/3, and the metadata addresses (169.254.169.254,
 *   fd00:ec2::254, …). An IPv4 address inside an IPv6 form (IPv4-mapped ::ffff:a.b.c.d,
 *   NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by the IPv4 address it carries; the
 *   deprecated IPv4-compatible form ::a.b.c.d is refused outright.
 *
 * An operator can lift the ban for ranges of the platform's own choosing (`lively network
 * allow 10.20.0.0/16`, admin scope; network.ts): an AddressPolicy carries those ranges.
 *
 *   parseRange("10.20.0.0/16").text                          -> "10.20.0.0/16"
 *   AddressPolicy.STRICT.refusal("93.184.216.34")            -> undefined (may connect)
 *   AddressPolicy.STRICT.refusal("::ffff:7f00:1")            -> "::ffff:7f00:1 is an IPv4-mapped form of 127.0.0.1, a loopback address (127.0.0.0/8)"
 *   new AddressPolicy([parseRange("127.0.0.0/8")]).refusal("127.0.0.1") -> undefined
 *
 * Owns: parsing addresses and ranges, the table of refused ranges, the verdict. Imports errors.ts only.
 */
import { LivelyError } from "../errors.ts";

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  /** The address as a 32-bit (IPv4) or 128-bit (IPv6) number. */
  value: bigint;
}

export interface IpRange {
  family: IpFamily;
  /** The first address of the range (bits past the prefix are zero). */
  base: bigint;
  prefix: number;
  /** Canonical CIDR text: `10.20.0.0/16`, `fd00::/8`. */
  text: string;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };
const IPV4_PART = /^(?:0|[1-9]\d{0,2})$/;
const HEX_GROUP = /^[0-9a-f]{1,4}$/i;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!IPV4_PART.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

/** 16-bit groups of one side of a `::` (an IPv4 tail counts as two groups); undefined: malformed. */
function groupsOf(side: string, mayEndInIpv4: boolean): number[] | undefined {
  if (side === "") return [];
  const parts = side.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (mayEndInIpv4 && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (HEX_GROUP.test(part)) {
      groups.push(Number.parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

function parseIpv6(raw: string): bigint | undefined {
  const text = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
  const zone = text.indexOf("%"); // fe80::1%eth0 from a socket: the zone does not change the class
  const address = zone === -1 ? text : text.slice(0, zone);
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const head = groupsOf(halves[0] as string, false);
    const tail = groupsOf(halves[1] as string, true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = groupsOf(address, true);
    if (all?.length !== 8) return undefined;
    groups = all;
  }
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/** An IPv4 (dotted decimal) or IPv6 address, also in brackets; undefined when it is neither. */
export function parseIp(text: string): IpAddress | undefined {
  if (typeof text !== "string" || text.length > 64) return undefined;
  if (!text.includes(":")) {
    const v4 = parseIpv4(text);
    return v4 === undefined ? undefined : { family: 4, value: v4 };
  }
  const v6 = parseIpv6(text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join(".");
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => Number((ip.value >> shift) & 0xffffn));
  // RFC 5952: the longest run of two or more zero groups (the first of equals) becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

function mask(family: IpFamily, prefix: number): bigint {
  const bits = BITS[family];
  return ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
}

export function rangeContains(range: IpRange, ip: IpAddress): boolean {
  return range.family === ip.family && (ip.value & mask(range.family, range.prefix)) === range.base;
}

function bad(text: string, why: string): LivelyError {
  return new LivelyError("bad_request", `invalid address range ${JSON.stringify(text.slice(0, 60))}: ${why}`, { field: "range" });
}

/** A CIDR range (`10.20.0.0/16`, `fd00::/8`) or one address (a /32 or /128); throws `bad_request`. */
export function parseRange(text: string): IpRange {
  if (typeof text !== "string" || text === "") throw bad(String(text), "write a range like 10.20.0.0/16 or fd00::/8");
  if (text.length > 64) throw bad(text, "longer than 64 characters");
  const slash = text.indexOf("/");
  const ip = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (!ip) throw bad(text, "the address must be an IPv4 address (four numbers 0-255, like 10.20.0.0) or an IPv6 address");
  const bits = BITS[ip.family];
  const prefixText = slash === -1 ? String(bits) : text.slice(slash + 1);
  if (!/^(?:0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
    throw bad(text, `the prefix length after '/' must be a number from 0 to ${bits}`);
  }
  const prefix = Number(prefixText);
  const base = ip.value & mask(ip.family, prefix);
  const canonical = `${formatIp({ family: ip.family, value: base })}/${prefix}`;
  if (base !== ip.value) throw bad(text, `it has bits set past the /${prefix} prefix; did you mean ${canonical}?`);
  return { family: ip.family, base, prefix, text: canonical };
}

interface Blocked {
  range: IpRange;
  /** What the range is, as a noun phrase: "a loopback address". */
  what: string;
  /** An IPv6 form that carries an IPv4 address: judge that address instead. */
  embeds?: { label: string; extract(value: bigint): bigint };
}

const block = (range: string, what: string, embeds?: Blocked["embeds"]): Blocked => ({ range: parseRange(range), what, embeds });
const low32 = (value: bigint) => value & 0xffffffffn;

/** Most specific first: the first match names the reason. */
const BLOCKED: readonly Blocked[] = [
  // IPv4
  block("169.254.169.254/32", "a cloud metadata address"),
  block("168.63.129.16/32", "a cloud metadata address (Azure WireServer)"),
  block("100.100.100.200/32", "a cloud metadata address (Alibaba Cloud)"),
  block("192.0.0.192/32", "a cloud metadata address (Oracle Cloud)"),
  block("0.0.0.0/8", "an unspecified address ('this network')"),
  block("10.0.0.0/8", "a private address"),
  block("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
  block("127.0.0.0/8", "a loopback address"),
  block("169.254.0.0/16", "a link-local address"),
  block("172.16.0.0/12", "a private address"),
  block("192.0.0.0/24", "an IETF protocol assignment"),
  block("192.0.2.0/24", "a documentation address"),
  block("192.88.99.0/24", "a 6to4 relay address"),
  block("192.168.0.0/16", "a private address"),
  block("198.18.0.0/15", "a benchmarking address"),
  block("198.51.100.0/24", "a documentation address"),
  block("203.0.113.0/24", "a documentation address"),
  block("224.0.0.0/4", "a multicast address"),
  block("255.255.255.255/32", "the broadcast address"),
  block("240.0.0.0/4", "a reserved address"),
  // IPv6
  block("::/128", "an unspecified address"),
  block("::1/128", "a loopback address"),
  block("fd00:ec2::254/128", "a cloud metadata address (AWS)"),
  block("::ffff:0:0/96", "", { label: "an IPv4-mapped form", extract: low32 }),
  block("64:ff9b::/96", "", { label: "a NAT64 form", extract: low32 }),
  block("2002::/16", "", { label: "a 6to4 form", extract: (value) => (value >> 80n) & 0xffffffffn }),
  block("::/96", "a deprecated IPv4-compatible address"),
  block("64:ff9b:1::/48", "a local-use NAT64 address"),
  block("100::/64", "a discard-only address"),
  block("2001:db8::/32", "a documentation address"),
  block("2001::/23", "an IETF protocol assignment (Teredo, benchmarking, ORCHID)"),
  block("3fff::/20", "a documentation address"),
  block("fc00::/7", "a unique-local address"),
  block("fe80::/10", "a link-local address"),
  block("fec0::/10", "a site-local address"),
  block("ff00::/8", "a multicast address"),
];
const GLOBAL_UNICAST = parseRange("2000::/3");

export interface AddressClass {
  /** The refused range that matched, canonical. */
  range: string;
  what: string;
  /** For an IPv6 form carrying an IPv4 address: that address and the form. */
  embedded?: { address: string; form: string };
}

/** Why an address is not public (the narrowest refused range), or undefined when it is public unicast. */
export function classifyAddress(ip: IpAddress): AddressClass | undefined {
  for (const entry of BLOCKED) {
    if (!rangeContains(entry.range, ip)) continue;
    if (!entry.embeds) return { range: entry.range.text, what: entry.what };
    const v4: IpAddress = { family: 4, value: entry.embeds.extract(ip.value) };
    const inner = classifyAddress(v4);
    if (!inner) return undefined; // a public IPv4 address, reached through IPv6
    return { ...inner, embedded: { address: formatIp(v4), form: entry.embeds.label } };
  }
  if (ip.family === 6 && !rangeContains(GLOBAL_UNICAST, ip)) return { range: "outside 2000::/3", what: "a reserved IPv6 address" };
  return undefined;
}

/** The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4), for matching allowed ranges. */
function embeddedIpv4(ip: IpAddress): IpAddress | undefined {
  for (const entry of BLOCKED) {
    if (entry.embeds && rangeContains(entry.range, ip)) return { family: 4, value: entry.embeds.extract(ip.value) };
  }
  return undefined;
}

/** The addresses a node's fetch may connect to: public ones, and the ranges an operator allowed. */
export class AddressPolicy {
  /** Nothing allowed beyond public addresses. */
  static readonly STRICT = new AddressPolicy([]);

  constructor(readonly allowed: readonly IpRange[]) {}

  /** Why the node must not connect to `address`; undefined when it may. Anything not an IP address is refused. */
  refusal(address: string): string | undefined {
    const ip = parseIp(address);
    if (!ip) return `${JSON.stringify(String(address).slice(0, 64))} is not an IP address`;
    const found = classifyAddress(ip);
    if (!found) return undefined;
    const inner = embeddedIpv4(ip);
    if (this.allowed.some((range) => rangeContains(range, ip) || (inner !== undefined && rangeContains(range, inner)))) return undefined;
    const shown = formatIp(ip);
    const what = `${found.what} (${found.range})`;
    return found.embedded ? `${shown} is ${found.embedded.form} of ${found.embedded.address}, ${what}` : `${shown} is ${what}`;
  }

  /** The same ranges: the same policy (so a node keeps its connections when nothing changed). */
  sameAs(other: AddressPolicy): boolean {
    return this.allowed.length === other.allowed.length && this.allowed.every((range, i) => range.text === other.allowed[i]?.text);
  }
}
