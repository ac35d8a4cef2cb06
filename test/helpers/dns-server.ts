/**
 * A tiny DNS server on 127.0.0.1 for tests: answers A and AAAA questions for the names it is
 * given, NXDOMAIN for any other name, and nothing else (no recursion, no forwarding: it never
 * sends a packet anywhere but back to the asker). With `resolverLookup` a test resolves names
 * through it, the way the node's fetch resolves them with dns.lookup.
 *
 *   const dns = await startDnsServer({ "internal.test": ["10.0.0.1"], "loop.test": ["127.0.0.1", "::1"] });
 *   const lookup = resolverLookup(dns.address);   // hostFetch({ …, lookup })
 */

import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { isIPv4, isIPv6 } from "node:net";
import type { LookupAll, ResolvedAddress } from "../../src/runtime/host-fetch.ts";

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;

export interface DnsServer {
  /** "127.0.0.1:port", for Resolver.setServers. */
  address: string;
  /** Questions asked, as "name TYPE". */
  asked: string[];
  close(): Promise<void>;
}

/** The question's name and where the question ends; undefined for anything malformed or compressed. */
function readQuestion(packet: Buffer): { name: string; end: number; type: number } | undefined {
  let offset = 12;
  const labels: string[] = [];
  while (offset < packet.length) {
    const length = packet[offset] as number;
    if (length === 0) break;
    if (length > 63 || offset + 1 + length > packet.length) return undefined;
    labels.push(packet.subarray(offset + 1, offset + 1 + length).toString("latin1"));
    offset += 1 + length;
  }
  if (offset + 5 > packet.length) return undefined;
  return { name: labels.join(".").toLowerCase(), end: offset + 5, type: packet.readUInt16BE(offset + 1) };
}

function ipv6Bytes(address: string): Buffer {
  const [head = "", tail = ""] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = address.includes("::") ? [...left, ...new Array(8 - left.length - right.length).fill("0"), ...right] : left;
  const bytes = Buffer.alloc(16);
  for (const [i, group] of groups.entries()) bytes.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  return bytes;
}

function answer(query: Buffer, records: Record<string, readonly string[]>): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined;
  const question = readQuestion(query);
  if (!question) return undefined;
  const known = records[question.name];
  const rdatas = (known ?? [])
    .filter((address) => (question.type === TYPE_A ? isIPv4(address) : question.type === TYPE_AAAA ? isIPv6(address) : false))
    .map((address) => (question.type === TYPE_A ? Buffer.from(address.split(".").map(Number)) : ipv6Bytes(address)));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2); // response, recursion desired+available; NXDOMAIN when unknown
  header.writeUInt16BE(1, 4); // one question
  header.writeUInt16BE(rdatas.length, 6);
  const answers = rdatas.map((rdata) => {
    const record = Buffer.alloc(12);
    record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    record.writeUInt16BE(question.type, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(60, 6);
    record.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([record, rdata]);
  });
  return Buffer.concat([header, query.subarray(12, question.end), ...answers]);
}

export async function startDnsServer(records: Record<string, readonly string[]>): Promise<DnsServer> {
  const socket = createSocket("udp4");
  const asked: string[] = [];
  socket.on("message", (query, from) => {
    const question = readQuestion(query);
    if (question) asked.push(`${question.name} ${question.type === TYPE_AAAA ? "AAAA" : question.type === TYPE_A ? "A" : question.type}`);
    const reply = answer(query, records);
    if (reply && from.address === "127.0.0.1") socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((done) => socket.bind(0, "127.0.0.1", done));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    asked,
    close: () => new Promise<void>((done) => socket.close(() => done())),
  };
}

/** A LookupAll that asks only the given server (A and AAAA), as dns.lookup would give them. */
export function resolverLookup(server: string): LookupAll {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([server]);
  const none = (error: unknown) => {
    const code = (error as { code?: string }).code;
    if (code === "ENODATA" || code === "ENOTFOUND") return [] as string[];
    throw error;
  };
  return async (hostname) => {
    const [v4, v6] = await Promise.all([resolver.resolve4(hostname).catch(none), resolver.resolve6(hostname).catch(none)]);
    const found: ResolvedAddress[] = [...v4.map((address) => ({ address, family: 4 })), ...v6.map((address) => ({ address, family: 6 }))];
    if (found.length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return found;
  };
}
