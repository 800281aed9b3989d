import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import dnsPacket from "dns-packet";
import { RCODE } from "../../src/dns/answer.js";
import { DnsResponder } from "../../src/dns/responder.js";
import { silentLogger } from "../../src/util/logger.js";

const DOMAIN = "elb.ballast.internal";
const WEB = `web-1234567890.us-east-1.${DOMAIN}`;
const EMPTY = `empty-1.us-east-1.${DOMAIN}`;
const BIG = `big-1.us-east-1.${DOMAIN}`;
const BROKEN = `broken-1.us-east-1.${DOMAIN}`;
const MANY = Array.from({ length: 60 }, (_, i) => `127.0.1.${i + 1}`);

const records: Record<string, readonly string[]> = {
  [WEB]: ["127.0.1.1", "127.0.1.2"],
  [EMPTY]: [],
  [BIG]: MANY,
};

async function resolve(name: string): Promise<readonly string[] | undefined> {
  if (name === BROKEN) throw new Error("store unavailable");
  return records[name];
}

/** The response code; dns-packet decodes it but its typings leave it out. */
function rcodeOf(p: dnsPacket.DecodedPacket): string {
  const code = (p.flags ?? 0) & 0xf;
  return Object.entries(RCODE).find(([, v]) => v === code)?.[0] ?? String(code);
}

function query(name: string, type: "A" | "AAAA" = "A", id = 4242): Buffer {
  return dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: "IN" }],
  });
}

function udpExchange(port: number, messages: readonly Buffer[], timeoutMs = 2000): Promise<Buffer> {
  const socket = createSocket("udp4");
  return new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no UDP answer")), timeoutMs);
    socket.on("message", (msg) => {
      clearTimeout(timer);
      resolve(msg);
    });
    socket.on("error", reject);
    for (const m of messages) socket.send(m, port, "127.0.0.1");
  }).finally(() => socket.close());
}

function frame(msg: Buffer): Buffer {
  const out = Buffer.alloc(2 + msg.length);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

/** Sends framed messages on one TCP connection; resolves with `expect` answers, or on close. */
function tcpExchange(
  port: number,
  payload: Buffer,
  expect: number,
  timeoutMs = 2000,
): Promise<{ answers: dnsPacket.DecodedPacket[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const answers: dnsPacket.DecodedPacket[] = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TCP: ${answers.length}/${expect} answers`));
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        answers.push(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (answers.length >= expect) {
        clearTimeout(timer);
        socket.end();
        resolve({ answers, closed: false });
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ answers, closed: true });
    });
    socket.on("error", () => {});
    socket.write(payload);
  });
}

describe("DnsResponder", () => {
  let responder: DnsResponder;
  let port: number;
  let resolver: Resolver;

  before(async () => {
    responder = new DnsResponder({
      host: "127.0.0.1",
      port: 0,
      domain: DOMAIN,
      resolve,
      logger: silentLogger,
      tcpIdleTimeoutMs: 500,
    });
    const ports = await responder.start();
    assert.equal(ports.udpPort, ports.tcpPort);
    port = ports.udpPort;
    resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
  });

  after(async () => {
    await responder.close();
  });

  test("A lookup through node's resolver gets the node addresses with TTL 60", async () => {
    const answers = await resolver.resolve4(WEB, { ttl: true });
    assert.deepEqual(answers, [
      { address: "127.0.1.1", ttl: 60 },
      { address: "127.0.1.2", ttl: 60 },
    ]);
  });

  test("names are case-insensitive, with or without the trailing dot", async () => {
    assert.deepEqual(await resolver.resolve4(`${WEB.toUpperCase()}.`), ["127.0.1.1", "127.0.1.2"]);
  });

  test("the answer is authoritative and echoes the question", async () => {
    const reply = dnsPacket.decode(await udpExchange(port, [query(WEB.toUpperCase())]));
    assert.equal(reply.id, 4242);
    assert.equal(reply.type, "response");
    assert.equal(rcodeOf(reply), "NOERROR");
    assert.ok((reply.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER);
    assert.equal(reply.questions?.[0]?.name, WEB.toUpperCase());
  });

  test("an unknown name under the domain is NXDOMAIN with the SOA in authority", async () => {
    await assert.rejects(resolver.resolve4(`nope.us-east-1.${DOMAIN}`), { code: "ENOTFOUND" });
    const reply = dnsPacket.decode(await udpExchange(port, [query(`nope.us-east-1.${DOMAIN}`)]));
    assert.equal(rcodeOf(reply), "NXDOMAIN");
    assert.ok((reply.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER);
    assert.equal(reply.authorities?.[0]?.type, "SOA");
    assert.equal(reply.authorities?.[0]?.name, DOMAIN);
  });

  test("a known name asked for AAAA, or with no nodes yet, is NODATA", async () => {
    await assert.rejects(resolver.resolve6(WEB), { code: "ENODATA" });
    await assert.rejects(resolver.resolve4(EMPTY), { code: "ENODATA" });
    const reply = dnsPacket.decode(await udpExchange(port, [query(WEB, "AAAA")]));
    assert.equal(rcodeOf(reply), "NOERROR");
    assert.equal(reply.answers?.length, 0);
    assert.equal(reply.authorities?.[0]?.type, "SOA");
  });

  test("a name outside the domain is REFUSED", async () => {
    await assert.rejects(resolver.resolve4("example.com"), { code: "EREFUSED" });
    await assert.rejects(resolver.resolve4(`evil${DOMAIN}`), { code: "EREFUSED" });
  });

  test("a failing resolve is SERVFAIL, and the responder keeps answering", async () => {
    const reply = dnsPacket.decode(await udpExchange(port, [query(BROKEN)]));
    assert.equal(rcodeOf(reply), "SERVFAIL");
    assert.deepEqual(await resolver.resolve4(WEB), ["127.0.1.1", "127.0.1.2"]);
  });

  test("a UDP answer over 512 bytes sets TC; the resolver retries over TCP and gets all of it", async () => {
    const raw = await udpExchange(port, [query(BIG)]);
    assert.ok(raw.length <= 512);
    const reply = dnsPacket.decode(raw);
    assert.ok((reply.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE);
    assert.equal(reply.answers?.length, 0);
    const all = await resolver.resolve4(BIG);
    assert.deepEqual([...all].sort(), [...MANY].sort());
  });

  test("a malformed UDP packet is dropped, and the next good query is answered", async () => {
    const reply = dnsPacket.decode(
      await udpExchange(port, [Buffer.from([1, 2, 3]), Buffer.alloc(40, 0xff), query(WEB, "A", 7)]),
    );
    assert.equal(reply.id, 7);
    assert.equal(reply.answers?.length, 2);
  });

  test("TCP: several framed queries on one connection, even split across writes", async () => {
    const payload = Buffer.concat([frame(query(WEB, "A", 1)), frame(query(`nope.${DOMAIN}`, "A", 2))]);
    const { answers } = await tcpExchange(port, payload, 2);
    assert.deepEqual(
      answers.map((a) => [a.id, rcodeOf(a), a.answers?.length]),
      [
        [1, "NOERROR", 2],
        [2, "NXDOMAIN", 0],
      ],
    );
  });

  test("TCP: a malformed message closes that connection only", async () => {
    const bad = Buffer.concat([frame(Buffer.from([0xde, 0xad])), frame(query(WEB))]);
    const { answers, closed } = await tcpExchange(port, bad, 1);
    assert.equal(closed, true);
    assert.equal(answers.length, 0);
    assert.deepEqual(await resolver.resolve4(WEB), ["127.0.1.1", "127.0.1.2"]);
  });

  test("TCP: an idle connection is closed", async () => {
    const { closed } = await tcpExchange(port, Buffer.alloc(0), 1, 3000);
    assert.equal(closed, true);
  });
});
