/**
 * Outbound fetch cannot reach the platform's network. In order, in one file:
 *   1. the address classifier on a corpus of every refused form and public examples;
 *   2. IP literals refused through the host fetch and through the guarded Agent by itself;
 *   3. names that resolve there, with a DNS server of the test's own on 127.0.0.1.
 * Steps 2 and 3 run only once step 1 has passed, and under a tripwire that stops any connect
 * to a non-loopback address before it happens: this machine must never send a packet to
 * 10.x or 169.254.x, even if the code under test were broken.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fetch as undiciFetch } from "undici";
import { type DnsServer, resolverLookup, startDnsServer } from "../../../test/helpers/dns-server.ts";
import { get, refusal } from "../../../test/helpers/host-fetch.ts";
import { setLoopbackTripwire, type Tripwire } from "../../../test/helpers/loopback-only.ts";
import { AddressPolicy, classifyAddress, parseIp, parseRange } from "../../code/address-ranges.ts";
import { createHostFetch } from "../host-fetch.ts";
import { createGuardedAgent } from "./guarded-agent.ts";

/** Every form the issue names, and more; each must be refused with no range allowed. */
const REFUSED: [string, RegExp][] = [
  ["127.0.0.1", /loopback/],
  ["127.255.255.254", /loopback/],
  ["0.0.0.0", /unspecified/],
  ["0.1.2.3", /unspecified/],
  ["10.0.0.1", /private/],
  ["10.255.255.255", /private/],
  ["172.16.0.1", /private/],
  ["172.31.255.255", /private/],
  ["192.168.1.1", /private/],
  ["100.64.0.1", /carrier-grade NAT/],
  ["100.127.255.255", /carrier-grade NAT/],
  ["169.254.0.1", /link-local/],
  ["169.254.169.254", /cloud metadata/],
  ["168.63.129.16", /cloud metadata/],
  ["100.100.100.200", /cloud metadata/],
  ["192.0.0.192", /cloud metadata/],
  ["224.0.0.1", /multicast/],
  ["239.255.255.255", /multicast/],
  ["255.255.255.255", /broadcast/],
  ["240.0.0.1", /reserved/],
  ["192.0.2.1", /documentation/],
  ["198.51.100.7", /documentation/],
  ["203.0.113.9", /documentation/],
  ["198.18.0.1", /benchmarking/],
  ["192.88.99.1", /6to4 relay/],
  ["::1", /loopback/],
  ["[::1]", /loopback/],
  ["0:0:0:0:0:0:0:1", /loopback/],
  ["0000::0001", /loopback/],
  ["::", /unspecified/],
  ["::ffff:127.0.0.1", /IPv4-mapped form of 127\.0\.0\.1, a loopback/],
  ["::ffff:7f00:1", /IPv4-mapped form of 127\.0\.0\.1, a loopback/],
  ["::FFFF:7F00:0001", /IPv4-mapped form of 127\.0\.0\.1/],
  ["::ffff:10.0.0.1", /IPv4-mapped form of 10\.0\.0\.1, a private/],
  ["::ffff:a9fe:a9fe", /IPv4-mapped form of 169\.254\.169\.254, a cloud metadata/],
  ["::ffff:0.0.0.0", /IPv4-mapped form of 0\.0\.0\.0/],
  ["::127.0.0.1", /IPv4-compatible/],
  ["::7f00:1", /IPv4-compatible/],
  ["::a00:1", /IPv4-compatible/],
  ["::ffff:0:7f00:1", /reserved IPv6/],
  ["64:ff9b::7f00:1", /NAT64 form of 127\.0\.0\.1, a loopback/],
  ["64:ff9b::127.0.0.1", /NAT64 form of 127\.0\.0\.1/],
  ["64:ff9b::10.0.0.1", /NAT64 form of 10\.0\.0\.1, a private/],
  ["64:ff9b::a9fe:a9fe", /NAT64 form of 169\.254\.169\.254, a cloud metadata/],
  ["64:ff9b:1::1", /local-use NAT64/],
  ["2002:7f00:1::1", /6to4 form of 127\.0\.0\.1/],
  ["2002:a00:1::", /6to4 form of 10\.0\.0\.1/],
  ["fe80::1", /link-local/],
  ["fe80::1%eth0", /link-local/],
  ["febf:ffff::1", /link-local/],
  ["fec0::1", /site-local/],
  ["fc00::1", /unique-local/],
  ["fd00::1", /unique-local/],
  ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", /unique-local/],
  ["fd00:ec2::254", /cloud metadata/],
  ["ff02::1", /multicast/],
  ["ff05::1:3", /multicast/],
  ["2001:db8::1", /documentation/],
  ["3fff::1", /documentation/],
  ["2001::1", /IETF protocol assignment/],
  ["2001:0:4136:e378:8000:63bf:3fff:fdd2", /IETF protocol assignment/],
  ["100::1", /discard-only/],
  ["5f00::1", /reserved IPv6/],
  ["4000::1", /reserved IPv6/],
  ["e000::1", /reserved IPv6/],
];

/** Public unicast: may be connected to (nothing here connects; these are only classified). */
const PUBLIC = [
  "93.184.216.34",
  "8.8.8.8",
  "1.1.1.1",
  "223.255.255.255",
  "172.15.255.255",
  "172.32.0.1",
  "100.63.255.255",
  "100.128.0.1",
  "169.253.255.255",
  "169.255.0.1",
  "192.167.255.255",
  "192.169.0.1",
  "9.255.255.255",
  "11.0.0.0",
  "2606:2800::1",
  "2606:2800:220:1:248:1893:25c8:1946",
  "2001:4860:4860::8888",
  "2a00:1450:4001:80b::200e",
  "::ffff:93.184.216.34",
  "::ffff:5db8:d822",
  "64:ff9b::5db8:d822",
  "2002:5db8:d822::1",
];

const NOT_IPS = [
  "",
  "example.com",
  "localhost",
  "1.2.3",
  "1.2.3.4.5",
  "256.1.1.1",
  "01.2.3.4",
  "1.2.3.-4",
  "::1::",
  "gggg::1",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7",
  ":::",
  "[::1",
  "0x7f.1",
];

let classifierPassed = 0;
const CLASSIFIER_TESTS = 3;

describe("1. the address classifier", () => {
  it("refuses every loopback, private, link-local, unique-local, metadata, multicast and reserved form", () => {
    for (const [address, why] of REFUSED) {
      const refusal = AddressPolicy.STRICT.refusal(address);
      assert.ok(refusal !== undefined, `${address} must be refused`);
      assert.match(refusal, why, address);
    }
    classifierPassed++;
  });

  it("allows public unicast, IPv4 and IPv6, also through IPv4-mapped, NAT64 and 6to4 forms", () => {
    for (const address of PUBLIC) {
      assert.ok(parseIp(address), `${address} parses`);
      assert.equal(classifyAddress(parseIp(address)!), undefined, address);
      assert.equal(AddressPolicy.STRICT.refusal(address), undefined, address);
    }
    classifierPassed++;
  });

  it("refuses what is not an IP address, and allowed ranges lift only their own addresses", () => {
    for (const text of NOT_IPS) assert.match(AddressPolicy.STRICT.refusal(text) ?? "", /is not an IP address/, JSON.stringify(text));
    const policy = new AddressPolicy([parseRange("10.20.0.0/16"), parseRange("fd12::/16")]);
    assert.equal(policy.refusal("10.20.3.4"), undefined);
    assert.equal(policy.refusal("::ffff:10.20.3.4"), undefined, "the mapped form of an allowed address");
    assert.equal(policy.refusal("64:ff9b::10.20.3.4"), undefined, "the NAT64 form of an allowed address");
    assert.equal(policy.refusal("fd12::1"), undefined);
    assert.match(policy.refusal("10.21.0.1") ?? "", /private/);
    assert.match(policy.refusal("127.0.0.1") ?? "", /loopback/);
    assert.match(policy.refusal("169.254.169.254") ?? "", /metadata/);
    assert.match(policy.refusal("fd13::1") ?? "", /unique-local/);
    classifierPassed++;
  });
});

interface Upstream {
  port: number;
  seen: string[];
  server: Server;
}

async function listen(host: string, handler?: (url: string) => [number, Record<string, string>]): Promise<Upstream> {
  const seen: string[] = [];
  const server = createServer((request, response) => {
    seen.push(`${request.method} ${request.url}`);
    const [status, headers] = handler?.(request.url ?? "/") ?? [200, {}];
    response.writeHead(status, headers).end(`hello from ${host}`);
  });
  await new Promise<void>((done) => server.listen(0, host, done));
  return { port: (server.address() as AddressInfo).port, seen, server };
}

const LOOPBACK_2 = new AddressPolicy([parseRange("127.0.0.2/32")]);

describe("2 and 3. refusals through the host fetch", () => {
  let wire: Tripwire;
  let v4: Upstream;
  let v6: Upstream;
  let second: Upstream;
  let dns: DnsServer;
  let redirectTo = "";

  before(async () => {
    // Nothing below may run unless every classifier test passed: no packet is risked on a broken classifier.
    assert.equal(classifierPassed, CLASSIFIER_TESTS, "the classifier tests failed: the refusal tests do not run");
    wire = setLoopbackTripwire();
    v4 = await listen("127.0.0.1");
    v6 = await listen("::1");
    second = await listen("127.0.0.2", (url) => (url.startsWith("/redirect") ? [302, { location: redirectTo }] : [200, {}]));
    dns = await startDnsServer({
      "internal.test": ["10.0.0.1"],
      "meta.test": ["169.254.169.254", "fd00:ec2::254"],
      "loop.test": ["127.0.0.1", "::1"],
      "mixed.test": ["10.0.0.1", "127.0.0.2"],
      "second.test": ["127.0.0.2"],
    });
  });
  after(async () => {
    wire?.remove();
    for (const upstream of [v4, v6, second]) upstream?.server.close();
    await dns?.close();
  });

  const hostFetch = (policy = AddressPolicy.STRICT) =>
    createHostFetch({ isAllowed: () => true, addresses: () => policy, lookup: resolverLookup(dns.address) });

  it("refuses 127.0.0.1 and [::1] as literals: the servers there see nothing", async () => {
    const loop = await refusal(hostFetch()(get(`http://127.0.0.1:${v4.port}/_lively/health`)));
    assert.equal(loop.reason, "blocked-address");
    assert.equal(
      loop.message,
      `fetch to http://127.0.0.1:${v4.port}/_lively/health is refused: 127.0.0.1 is a loopback address (127.0.0.0/8); an operator can allow an address range with \`lively network allow RANGE\``,
    );
    const six = await refusal(hostFetch()(get(`http://[::1]:${v6.port}/`)));
    assert.equal(six.reason, "blocked-address");
    assert.match(six.message, /::1 is a loopback address \(::1\/128\)/);
    const mapped = await refusal(hostFetch()(get(`http://[::ffff:127.0.0.1]:${v4.port}/`)));
    assert.match(mapped.message, /IPv4-mapped form of 127\.0\.0\.1/);
    assert.deepEqual([v4.seen, v6.seen], [[], []]);
  });

  it("refuses 10.0.0.1 and 169.254.169.254 as literals before any socket exists", async () => {
    for (const [url, why] of [
      ["http://10.0.0.1/", /10\.0\.0\.1 is a private address \(10\.0\.0\.0\/8\)/],
      ["http://169.254.169.254/latest/meta-data/", /169\.254\.169\.254 is a cloud metadata address/],
      ["https://[fd00:ec2::254]/latest/api/token", /fd00:ec2::254 is a cloud metadata address \(AWS\)/],
      ["http://0x7f.1/", /127\.0\.0\.1 is a loopback address/],
      ["http://2130706433/", /127\.0\.0\.1 is a loopback address/],
    ] as const) {
      const error = await refusal(hostFetch()(get(url)));
      assert.equal(error.reason, "blocked-address", url);
      assert.match(error.message, why);
    }
    assert.deepEqual(wire.violations, [], "nothing tried to connect outside loopback");
  });

  it("the guarded Agent refuses literals on its own (defence in depth below host fetch's own check)", async () => {
    const dispatcher = createGuardedAgent({ refusal: (a) => AddressPolicy.STRICT.refusal(a), lookup: resolverLookup(dns.address) });
    for (const url of ["http://10.0.0.1/", "http://169.254.169.254/", `http://127.0.0.1:${v4.port}/`, `http://[::1]:${v6.port}/`]) {
      const failed = await undiciFetch(url, { dispatcher }).then(
        () => assert.fail(`${url} was fetched`),
        (error: Error) => error,
      );
      assert.match(String((failed.cause as Error)?.message), /is a (private|cloud metadata|loopback) address/, url);
    }
    await dispatcher.close();
    assert.deepEqual([v4.seen, v6.seen, wire.violations], [[], [], []]);
  });

  it("re-checks the peer the socket reached, and drops it when refused", async () => {
    let asked = 0;
    // Permits the first question (the lookup's) and refuses the second (the connected socket's peer).
    const dispatcher = createGuardedAgent({
      refusal: (address) => (asked++ === 0 ? undefined : `${address} refused after connecting`),
      lookup: resolverLookup(dns.address),
    });
    const failed = await undiciFetch(`http://second.test:${second.port}/`, { dispatcher }).then(
      () => assert.fail("fetched"),
      (error: Error) => error,
    );
    assert.match(String((failed.cause as Error)?.message), /127\.0\.0\.2 refused after connecting/);
    assert.deepEqual(second.seen, [], "no request was written on the refused socket");
    await dispatcher.close();
  });

  it("refuses names that resolve to private, metadata and loopback addresses", async () => {
    const internal = await refusal(hostFetch()(get("http://internal.test/admin")));
    assert.equal(internal.reason, "blocked-address");
    assert.equal(
      internal.message,
      "fetch to http://internal.test/admin is refused: internal.test resolves only to addresses fetch may not reach: 10.0.0.1 is a private address (10.0.0.0/8); an operator can allow an address range with `lively network allow RANGE`",
    );
    const meta = await refusal(hostFetch()(get("http://meta.test/latest/meta-data/")));
    assert.match(meta.message, /169\.254\.169\.254 is a cloud metadata address/);
    const loop = await refusal(hostFetch()(get(`http://loop.test:${v4.port}/`)));
    assert.match(loop.message, /127\.0\.0\.1 is a loopback address/);
    assert.match(loop.message, /::1 is a loopback address/);
    assert.ok(dns.asked.includes("internal.test A"), "the names were resolved by the test's DNS server");
    assert.deepEqual([v4.seen, v6.seen, wire.violations], [[], [], []]);
  });

  it("an allowed range lets a name through, and only to the allowed address among those it resolves to", async () => {
    const response = await hostFetch(LOOPBACK_2)(get(`http://mixed.test:${second.port}/hi`));
    assert.equal(response.status, 200);
    assert.equal(new TextDecoder().decode(response.body), "hello from 127.0.0.2");
    assert.deepEqual(second.seen, ["GET /hi"]);
    const v4Only = await hostFetch(new AddressPolicy([parseRange("127.0.0.0/8")]))(get(`http://loop.test:${v4.port}/`));
    assert.equal(new TextDecoder().decode(v4Only.body), "hello from 127.0.0.1", "::1 stays refused; 127.0.0.1 is allowed");
    assert.deepEqual(wire.violations, []);
  });

  it("checks every redirect hop: to a literal or a name outside the allowed range, refused", async () => {
    redirectTo = `http://127.0.0.1:${v4.port}/secret`;
    const toLiteral = await refusal(hostFetch(LOOPBACK_2)(get(`http://127.0.0.2:${second.port}/redirect`)));
    assert.equal(toLiteral.reason, "blocked-address");
    assert.match(
      toLiteral.message,
      new RegExp(`fetch to http://127\\.0\\.0\\.1:${v4.port}/secret is refused: 127\\.0\\.0\\.1 is a loopback`),
    );
    redirectTo = `http://internal.test:${v4.port}/secret`;
    const toName = await refusal(hostFetch(LOOPBACK_2)(get(`http://127.0.0.2:${second.port}/redirect`)));
    assert.match(toName.message, /internal\.test resolves only to addresses fetch may not reach: 10\.0\.0\.1/);
    redirectTo = `http://[::1]:${v6.port}/`;
    const toSix = await refusal(hostFetch(LOOPBACK_2)(get(`http://127.0.0.2:${second.port}/redirect`)));
    assert.match(toSix.message, /::1 is a loopback address/);
    assert.equal(second.seen.filter((s) => s === "GET /redirect").length, 3, "the allowed first hop was sent each time");
    assert.deepEqual([v4.seen.filter((s) => s.includes("/secret")), v6.seen, wire.violations], [[], [], []]);
  });
});
