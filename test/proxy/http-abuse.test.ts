/**
 * Hostile and broken clients against an HTTP listener on raw sockets: request smuggling,
 * slowloris, oversize and malformed heads, half-closes and clients that vanish. The listener
 * must answer as Classic ELB does, close what it must, and keep serving everyone else.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { roundRobin } from "../../src/proxy/balancer/round-robin.js";
import { HttpListener } from "../../src/proxy/http/listener.js";
import { LoadBalancerMetrics } from "../../src/proxy/metrics.js";
import { PoolRegistry } from "../../src/proxy/pools.js";
import { silentLogger } from "../../src/util/logger.js";
import { selfSignedCert } from "../support/certs.js";
import { closeServer, freePort, listen, portOf, sendBytes, waitFor } from "./helpers.js";
import {
  get,
  header,
  healthy,
  RawClient,
  rawRequest,
  sleep,
  startListener,
  type TestListener,
} from "./raw-client.js";

const NODE = "127.0.71.1";
const IDLE_MS = 1000;

describe("HTTP listener under abuse", () => {
  const seen: string[] = [];
  let backend: Server;
  let lb: TestListener;
  /** 4xx responses the load balancer answered in this suite. */
  let answered4xx = 0;

  before(async () => {
    backend = createServer((req, res) => {
      seen.push(req.url ?? "");
      if (req.url?.startsWith("/big/")) {
        const size = Number(req.url.slice(5));
        res.writeHead(200, { "content-length": String(size) });
        sendBytes(res, size);
        return;
      }
      let n = 0;
      req.on("data", (c: Buffer) => {
        n += c.length;
      });
      req.on("end", () => res.end(`ok ${req.method} ${n}`));
      req.on("error", () => {});
    });
    await listen(backend, "127.0.0.1");
    lb = await startListener({
      address: NODE,
      backends: [healthy("i-a")],
      instancePort: portOf(backend),
      idleTimeoutMs: IDLE_MS,
    });
  });

  after(async () => {
    await lb.close();
    await closeServer(backend);
  });

  /** Sends `bytes` on a new connection: one of `statuses` comes back, then the connection closes. */
  async function refused(bytes: string, statuses: readonly number[]): Promise<number> {
    const { client, responses } = await rawRequest(NODE, lb.port, bytes);
    try {
      const r = responses[0];
      assert.ok(r);
      assert.ok(statuses.includes(r.status), `status ${r.status}, expected one of ${statuses.join("/")}`);
      answered4xx++;
      assert.equal(header(r, "connection")?.toLowerCase(), "close");
      await client.waitClose(2000);
      assert.equal(client.pending.length, 0, "nothing follows the refusal");
      return r.status;
    } finally {
      client.destroy();
    }
  }

  it("CL + TE smuggling is refused with 400; the smuggled GET /admin never reaches the back end", async () => {
    const before = seen.length;
    await refused(
      "POST / HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "0\r\n\r\nGET /admin HTTP/1.1\r\nHost: lb.test\r\n\r\n",
      [400],
    );
    await sleep(100);
    assert.deepEqual(seen.slice(before), [], "nothing of the smuggling request reaches the back end");
  });

  it("Transfer-Encoding: xchunked is refused with 400", async () => {
    await refused("POST / HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", [400]);
  });

  it("two differing Content-Length headers are refused with 400", async () => {
    await refused(
      "POST / HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
      [400],
    );
  });

  it("whitespace between a header name and its colon is refused with 400", async () => {
    await refused("POST / HTTP/1.1\r\nHost: lb.test\r\nContent-Length : 5\r\n\r\nhello", [400]);
  });

  it("slowloris: a head dripped one byte every 200 ms gets 408 after about the idle timeout", async () => {
    const c = await RawClient.connect(NODE, lb.port);
    const text = `GET / HTTP/1.1\r\nHost: lb.test\r\nX-Slow: ${"s".repeat(40)}`;
    let i = 0;
    const t0 = performance.now();
    const drip = setInterval(() => {
      if (i < text.length && !c.ended) c.write(text.charAt(i++));
    }, 200);
    try {
      const r = await c.response(4000);
      const ms = performance.now() - t0;
      assert.equal(r.status, 408);
      answered4xx++;
      assert.ok(ms >= IDLE_MS * 0.8 && ms < IDLE_MS + 4000, `408 after ${Math.round(ms)} ms`);
      await c.waitClose(2000);
      assert.ok(i < text.length, "the head was never finished");
    } finally {
      clearInterval(drip);
      c.destroy();
    }
  });

  it("a silent connection with a partial head gets 408 and is closed", async () => {
    const c = await RawClient.connect(NODE, lb.port);
    try {
      const t0 = performance.now();
      c.write("GET / HTTP/1.1\r\nHost: lb.test\r\n");
      const r = await c.response(4000);
      const ms = performance.now() - t0;
      assert.equal(r.status, 408);
      answered4xx++;
      assert.ok(ms >= IDLE_MS * 0.7 && ms < IDLE_MS + 4000, `408 after ${Math.round(ms)} ms`);
      await c.waitClose(2000);
    } finally {
      c.destroy();
    }
  });

  it("a silent keep-alive connection, and one that never sends, are closed without a response", async () => {
    const { client, responses } = await rawRequest(NODE, lb.port, get("/"));
    const mute = await RawClient.connect(NODE, lb.port);
    try {
      assert.equal(responses[0]?.status, 200);
      const ms = await client.waitClose(IDLE_MS + 2000);
      assert.ok(ms >= IDLE_MS * 0.7 && ms < IDLE_MS + 4000, `closed after ${Math.round(ms)} ms`);
      assert.equal(client.pending.length, 0, "no response is sent to an idle connection");
      await mute.waitClose(IDLE_MS + 2000);
      assert.equal(mute.pending.length, 0);
    } finally {
      client.destroy();
      mute.destroy();
    }
  });

  it("a head over 16 KiB gets 431", async () => {
    let pad = "";
    for (let i = 0; i < 20; i++) pad += `X-Pad-${i}: ${"p".repeat(1000)}\r\n`;
    await refused(`GET / HTTP/1.1\r\nHost: lb.test\r\n${pad}\r\n`, [431]);
  });

  it("a 10 KiB request target gets 414 or 431", async () => {
    await refused(get(`/${"t".repeat(10 * 1024)}`), [414, 431]);
  });

  it("a method longer than 127 characters gets 405", async () => {
    await refused(`${"M".repeat(130)} / HTTP/1.1\r\nHost: lb.test\r\n\r\n`, [405]);
  });

  it("invalid method characters, a garbage request line and HTTP/2.0 get 400", async () => {
    await refused("G(T / HTTP/1.1\r\nHost: lb.test\r\n\r\n", [400]);
    await refused("HELLO THERE\r\n\r\n", [400]);
    await refused("GET / HTTP/2.0\r\nHost: lb.test\r\n\r\n", [400]);
  });

  it("CONNECT gets 405: a load balancer is not a forward proxy", async () => {
    await refused("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", [405]);
    assert.ok(!seen.some((u) => u.includes("example.com")));
  });

  it("a head dribbled in 5-byte packets is served once its empty line arrives", async () => {
    const c = await RawClient.connect(NODE, lb.port);
    try {
      let head = "GET /dribbled HTTP/1.1\r\nHost: lb.test\r\n";
      for (let i = 0; i < 200; i++) head += `X-${i}: v\r\n`;
      head += "\r\n";
      for (let i = 0; i < head.length; i += 5) {
        c.write(head.slice(i, i + 5));
        if (i % 250 === 0) await sleep(1);
      }
      const r = await c.response(5000);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), "ok GET 0");
    } finally {
      c.destroy();
    }
  });

  it("a client that half-closes after its request still gets the whole response, then the close", async () => {
    const size = 300_000;
    const c = await RawClient.connect(NODE, lb.port);
    try {
      c.write(get(`/big/${size}`));
      c.end();
      const r = await c.response(5000);
      assert.equal(r.status, 200);
      assert.equal(r.body.length, size);
      await c.waitClose(2000);
    } finally {
      c.destroy();
    }
  });

  it("pipelined requests followed by a half-close are all answered, then the connection closes", async () => {
    const c = await RawClient.connect(NODE, lb.port);
    try {
      c.write(get("/pipe/1") + get("/pipe/2") + get("/pipe/3"));
      c.end();
      const bodies: string[] = [];
      for (let i = 0; i < 3; i++) bodies.push((await c.response(3000)).body.toString());
      assert.deepEqual(bodies, ["ok GET 0", "ok GET 0", "ok GET 0"]);
      assert.deepEqual(
        seen.filter((u) => u.startsWith("/pipe/")),
        ["/pipe/1", "/pipe/2", "/pipe/3"],
      );
      await c.waitClose(2000);
    } finally {
      c.destroy();
    }
  });

  it("a client gone mid-request-body does not stop the listener", async () => {
    const c = await RawClient.connect(NODE, lb.port);
    c.write(`POST /upload HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 100000\r\n\r\n${"u".repeat(1000)}`);
    await waitFor("the back end got the request", () => seen.includes("/upload"), 3000);
    const errors5xx = lb.metrics.elb5xx;
    c.destroy();
    // The body can never be completed: the exchange ends now, not at the back end's idle timeout.
    await waitFor("the exchange ended", () => lb.listener.inFlight === 0, IDLE_MS / 2);
    assert.equal(lb.metrics.elb5xx, errors5xx, "a vanished client is not a 5xx of the load balancer");
    const { client, responses } = await rawRequest(NODE, lb.port, get("/after-body"));
    client.destroy();
    assert.equal(responses[0]?.status, 200);
  });

  it("a client gone mid-response does not stop the listener", async () => {
    const c = await RawClient.connect(NODE, lb.port);
    c.write(get(`/big/${32 * 1024 * 1024}`));
    await c.bytes(1024, 3000);
    assert.equal(lb.listener.inFlight, 1, "the response is still streaming when the client goes");
    c.destroy();
    await waitFor("the exchange ended", () => lb.listener.inFlight === 0, 3000);
    const { client, responses } = await rawRequest(NODE, lb.port, get("/after-response"));
    client.destroy();
    assert.equal(responses[0]?.status, 200);
  });

  it("after all that: still serving, nothing in flight, back-end connections bounded, 4xx counted", async () => {
    const { client, responses } = await rawRequest(NODE, lb.port, get("/final"));
    client.destroy();
    assert.equal(responses[0]?.status, 200);
    assert.equal(responses[0]?.body.toString(), "ok GET 0");
    await waitFor("nothing in flight", () => lb.listener.inFlight === 0, 2000);
    const conns = await new Promise<number>((resolve, reject) =>
      backend.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );
    assert.ok(conns <= 3, `${conns} back-end connections open`);
    assert.ok(!seen.includes("/admin"));
    assert.equal(lb.metrics.elb4xx, answered4xx, "HTTPCode_ELB_4XX counts every 4xx the listener answered");
  });
});

describe("HTTPS listener and a client stuck before the TLS handshake", () => {
  it("close() cuts it at the end of the grace instead of waiting for the handshake timeout", async () => {
    const address = "127.0.71.9";
    const pem = selfSignedCert("stuck.test", { days: 2 });
    const listener = new HttpListener({
      address,
      port: await freePort(address),
      metrics: new LoadBalancerMetrics(),
      pools: new PoolRegistry(),
      balancer: roundRobin,
      log: silentLogger,
      tls: { context: { cert: pem.cert, key: pem.key }, identity: "stuck" },
    });
    assert.ok(await listener.listen());
    const silent = connect(listener.port, address);
    silent.on("error", () => {});
    await once(silent, "connect");
    await sleep(50);
    const t0 = performance.now();
    await Promise.race([
      listener.close(300),
      sleep(3000).then(() => assert.fail("close() still waiting after 3 s")),
    ]);
    assert.ok(performance.now() - t0 < 3000);
    await waitFor("the stuck client cut", () => silent.destroyed || silent.readableEnded, 2000);
    silent.destroy();
  });
});
