import assert from "node:assert/strict";
import { request } from "node:http";
import { connect, createServer as createNetServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
import {
  backend,
  closeServer,
  type EchoBackend,
  echoBackends,
  fastHealthCheck,
  fetchRaw,
  freePort,
  httpListener,
  lbSpec,
  listen,
  portOf,
  waitFor,
} from "./helpers.js";

const NODE = "127.0.9.1";

describe("HTTP listener", () => {
  const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
  let backends: EchoBackend[] = [];
  let port = 0;

  before(async () => {
    backends = await echoBackends(["127.0.0.1", "127.0.0.2"]);
    const bp = backends[0]?.port ?? 0;
    port = await freePort(NODE);
    await runtime.apply(
      resolved([
        {
          address: NODE,
          spec: lbSpec(
            "web",
            [httpListener(port, bp)],
            [backend("i-a", "127.0.0.1"), backend("i-b", "127.0.0.2")],
            fastHealthCheck(`HTTP:${bp}/health`),
          ),
        },
      ]),
    );
    await waitFor("both back ends InService", () => runtime.health().every((h) => h.state === "InService"));
  });

  after(async () => {
    await runtime.close();
    for (const b of backends) await closeServer(b.server);
  });

  it("round robin reaches both back ends", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await fetchRaw(NODE, port, "/");
      assert.equal(r.status, 200);
      seen.add(r.body.toString());
    }
    assert.deepEqual([...seen].sort(), ["b0", "b1"]);
  });

  it("appends to X-Forwarded-For and sets X-Forwarded-Proto and -Port", async () => {
    const before = backends.map((b) => b.hits);
    await fetchRaw(NODE, port, "/", {
      headers: { "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "1" },
    });
    const hit = backends.find((b, i) => b.hits !== before[i]);
    assert.ok(hit);
    assert.equal(hit.lastHeaders["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert.equal(hit.lastHeaders["x-forwarded-proto"], "http");
    assert.equal(hit.lastHeaders["x-forwarded-port"], String(port));
  });

  it("sets X-Forwarded-For to the client address when the client sent none", async () => {
    const before = backends.map((b) => b.hits);
    await fetchRaw(NODE, port, "/");
    const hit = backends.find((b, i) => b.hits !== before[i]);
    assert.equal(hit?.lastHeaders["x-forwarded-for"], "127.0.0.1");
  });

  it("strips hop-by-hop fields both ways, including those Connection names", async () => {
    const before = backends.map((b) => b.hits);
    const r = await fetchRaw(NODE, port, "/", {
      headers: {
        Connection: "keep-alive, X-Client-Hop",
        "X-Client-Hop": "1",
        TE: "trailers",
        "X-Kept": "yes",
      },
    });
    const hit = backends.find((b, i) => b.hits !== before[i]);
    assert.ok(hit);
    assert.equal(hit.lastHeaders["x-client-hop"], undefined);
    assert.equal(hit.lastHeaders.te, undefined);
    assert.equal(hit.lastHeaders["x-kept"], "yes");
    assert.equal(
      r.headers["x-hop"],
      undefined,
      "a field the back end's Connection named must not reach the client",
    );
    assert.ok(r.headers["x-backend"]);
  });

  it("streams a 5 MB request body and a 5 MB response body", async () => {
    const size = 5 * 1024 * 1024;
    const body = Buffer.alloc(size, 0x62);
    const up = await fetchRaw(NODE, port, "/echo", {
      method: "POST",
      headers: { "content-length": String(size) },
      body,
    });
    assert.equal(up.status, 200);
    assert.equal(up.body.length, size);
    assert.ok(up.body.equals(body));
    const down = await fetchRaw(NODE, port, `/big/${size}`);
    assert.equal(down.status, 200);
    assert.equal(down.body.length, size);
  });

  it("streams a chunked upload", async () => {
    const chunks = Array.from({ length: 20 }, (_, i) => Buffer.alloc(10_000, 0x41 + i));
    const r = await fetchRaw(NODE, port, "/echo", { method: "PUT", body: chunks });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-request-te"], "chunked");
    assert.ok(r.body.equals(Buffer.concat(chunks)));
  });

  it("regression: a client that disconnects mid-response does not wedge the pool", async () => {
    const size = 32 * 1024 * 1024;
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: NODE, port, path: `/big/${size}`, agent: false });
        req.on("error", () => resolve());
        req.on("response", (res) => {
          // Read one chunk, stop reading (so the proxy hits backpressure), then vanish.
          res.once("data", () => {
            res.pause();
            setTimeout(() => {
              req.destroy();
              resolve();
            }, 50);
          });
        });
        req.on("close", () => resolve());
        setTimeout(() => reject(new Error("no response")), 5000).unref();
        req.end();
      });
    }
    for (let i = 0; i < 4; i++) {
      const r = await fetchRaw(NODE, port, "/");
      assert.equal(r.status, 200);
    }
  });

  it("counts requests and back-end status codes", () => {
    const m = runtime.metrics.snapshot().web;
    assert.ok(m);
    assert.ok(m.RequestCount >= 10);
    assert.ok(m.HTTPCode_Backend_2XX >= 10);
  });
});

describe("HTTP listener errors", () => {
  const NODE2 = "127.0.9.2";
  const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
  const garbage = createNetServer((s) => {
    s.on("data", () => s.end("NOT HTTP AT ALL\r\n\r\n"));
    s.on("error", () => {});
  });
  // Health checks answer 200 on every address; only 127.0.0.1 serves the instance port.
  const health = createNetServer((s) => {
    s.on("error", () => {});
    s.resume();
    s.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  let app: EchoBackend[] = [];
  let healthPort = 0;
  let emptyPort = 0;
  let retryPort = 0;
  let deadPort = 0;
  let badPort = 0;

  before(async () => {
    await listen(health, "0.0.0.0");
    healthPort = portOf(health);
    await listen(garbage, "127.0.0.1");
    app = await echoBackends(["127.0.0.1"]);
    const appPort = app[0]?.port ?? 0;
    const hc = fastHealthCheck(`HTTP:${healthPort}/`);
    [emptyPort, retryPort, deadPort, badPort] = [
      await freePort(NODE2),
      await freePort(NODE2),
      await freePort(NODE2),
      await freePort(NODE2),
    ];
    await runtime.apply(
      resolved([
        { address: NODE2, spec: lbSpec("empty", [httpListener(emptyPort, appPort)], [], hc) },
        {
          address: NODE2,
          spec: lbSpec(
            "retry",
            [httpListener(retryPort, appPort)],
            [backend("i-dead", "127.0.0.3"), backend("i-live", "127.0.0.1")],
            hc,
          ),
        },
        {
          address: NODE2,
          spec: lbSpec("dead", [httpListener(deadPort, appPort)], [backend("i-dead", "127.0.0.3")], hc),
        },
        {
          address: NODE2,
          spec: lbSpec("bad", [httpListener(badPort, portOf(garbage))], [backend("i-bad", "127.0.0.1")], hc),
        },
      ]),
    );
    await waitFor(
      "back ends InService",
      () => runtime.health().length === 4 && runtime.health().every((h) => h.state === "InService"),
    );
  });

  after(async () => {
    await runtime.close();
    await closeServer(health);
    await closeServer(garbage);
    for (const b of app) await closeServer(b.server);
  });

  it("answers 503 when the load balancer has no InService back end", async () => {
    const r = await fetchRaw(NODE2, emptyPort, "/");
    assert.equal(r.status, 503);
    assert.ok(r.body.length > 0 && r.body.length < 200);
  });

  it("retries a refused connection once on another back end", async () => {
    for (let i = 0; i < 4; i++) {
      const r = await fetchRaw(NODE2, retryPort, "/");
      assert.equal(r.status, 200);
    }
    assert.ok((runtime.metrics.snapshot().retry?.BackendConnectionErrors ?? 0) >= 1);
  });

  it("answers 503 when the only back end refuses connections", async () => {
    const r = await fetchRaw(NODE2, deadPort, "/");
    assert.equal(r.status, 503);
    assert.equal(runtime.metrics.snapshot().dead?.HTTPCode_ELB_5XX, 1);
  });

  it("answers 502 when the back end sends a malformed response", async () => {
    const r = await fetchRaw(NODE2, badPort, "/");
    assert.equal(r.status, 502);
  });

  it("keeps serving after raw clients send garbage", async () => {
    const s = connect(badPort, NODE2);
    s.on("error", () => {});
    s.resume();
    s.end("BROKEN\r\n\r\n");
    await new Promise((r) => s.on("close", r));
    const r = await fetchRaw(NODE2, emptyPort, "/");
    assert.equal(r.status, 503);
  });
});
