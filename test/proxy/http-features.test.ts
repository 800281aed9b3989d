/**
 * HTTP listener features on raw sockets: HTTP/1.0, forwarding headers, pipelining, chunked
 * bodies with trailers, 100-continue, Upgrade tunnels, sticky sessions, the surge queue and
 * spillover, retries, and the load balancer's own 502/503/504.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { before, describe, it } from "node:test";
import { BackendHealth } from "../../src/proxy/health/state.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import { closeServer, fetchRaw, listen, portOf, waitFor } from "./helpers.js";
import {
  get,
  header,
  healthy,
  markUnhealthy,
  RawClient,
  type RawResponse,
  rawBackend,
  rawRequest,
  route,
  sharedPortBackends,
  sleep,
  startListener,
  type TestListener,
} from "./raw-client.js";

const cleanups = cleanupsAfterAll();

async function listenerFor(opts: Parameters<typeof startListener>[0]): Promise<TestListener> {
  const lb = await startListener(opts);
  cleanups.push(() => lb.close());
  return lb;
}

describe("HTTP/1.x features", () => {
  const NODE = "127.0.73.1";
  let app: Server;
  let lb: TestListener;

  before(async () => {
    app = createServer((req, res) => {
      const url = req.url ?? "";
      if (url === "/headers") {
        res.end(JSON.stringify(req.headers));
      } else if (url.startsWith("/slow/")) {
        setTimeout(() => res.end(`slow ${url.slice(6)}`), Number(url.slice(6)));
      } else if (url === "/stream") {
        res.write("one-");
        setTimeout(() => res.end("two"), 20);
      } else if (url === "/chunked" || url === "/continue") {
        const parts: Buffer[] = [];
        req.on("data", (c: Buffer) => parts.push(c));
        req.on("end", () => {
          const body = Buffer.concat(parts).toString();
          if (url === "/continue") {
            res.end(`continued ${body}`);
            return;
          }
          res.writeHead(200, { Trailer: "X-Resp-T", "X-Request-TE": req.headers["transfer-encoding"] ?? "" });
          res.write("got:");
          res.write(body);
          res.write(`|t=${req.trailers["x-t"] ?? ""}`);
          res.addTrailers({ "X-Resp-T": "done" });
          res.end();
        });
      } else {
        // Framed explicitly: node:http does not frame a 1.0 response by itself (it closes instead).
        res.setHeader("Content-Length", Buffer.byteLength(url));
        res.end(url);
      }
    });
    app.on("upgrade", (_req, socket, head: Buffer) => {
      socket.on("error", () => {});
      socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nwelcome");
      if (head.length > 0) socket.write(Buffer.concat([Buffer.from("echo:"), head]));
      socket.on("data", (d: Buffer) => socket.write(Buffer.concat([Buffer.from("echo:"), d])));
      socket.on("end", () => socket.end());
    });
    await listen(app, "127.0.0.1");
    cleanups.push(() => closeServer(app));
    lb = await listenerFor({ address: NODE, backends: [healthy("i-a")], instancePort: portOf(app) });
  });

  async function one(bytes: string): Promise<{ client: RawClient; r: RawResponse }> {
    const { client, responses } = await rawRequest(NODE, lb.port, bytes);
    cleanups.push(async () => client.destroy());
    return { client, r: responses[0] as RawResponse };
  }

  it("an HTTP/1.0 request without Host reaches the back end with one", async () => {
    const { client, r } = await one("GET /headers HTTP/1.0\r\n\r\n");
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body.toString()) as IncomingHttpHeaders;
    assert.ok(seen.host?.startsWith(NODE), `Host: ${seen.host}`);
    await client.waitClose(2000);
  });

  it("HTTP/1.0 keeps the connection only with Connection: keep-alive", async () => {
    const c = await RawClient.connect(NODE, lb.port);
    cleanups.push(async () => c.destroy());
    for (const path of ["/ka1", "/ka2"]) {
      c.write(`GET ${path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`);
      const r = await c.response();
      assert.equal(r.body.toString(), path);
      assert.equal(header(r, "connection")?.toLowerCase(), "keep-alive");
    }
    c.write("GET /last HTTP/1.0\r\n\r\n");
    const r = await c.response();
    assert.equal(r.body.toString(), "/last");
    assert.notEqual(header(r, "connection")?.toLowerCase(), "keep-alive");
    await c.waitClose(2000);
  });

  it("an HTTP/1.0 client never gets Transfer-Encoding: chunked (a streamed response is close-delimited)", async () => {
    const { client, r } = await one("GET /stream HTTP/1.0\r\n\r\n");
    assert.equal(r.status, 200);
    assert.equal(header(r, "transfer-encoding"), undefined, "HTTP/1.0 has no chunked coding (RFC 9112 §6.1)");
    assert.equal(r.body.toString(), "one-two");
    await client.waitClose(2000);
  });

  it("appends to X-Forwarded-For and sets X-Forwarded-Proto and -Port", async () => {
    const { r } = await one(
      get("/headers", "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 1\r\n"),
    );
    const seen = JSON.parse(r.body.toString()) as IncomingHttpHeaders;
    assert.equal(seen["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert.equal(seen["x-forwarded-proto"], "http");
    assert.equal(seen["x-forwarded-port"], String(lb.port));
  });

  it("answers three pipelined requests in one write in order", async () => {
    const { responses } = await rawRequest(NODE, lb.port, get("/slow/150") + get("/p2") + get("/p3"), 3);
    assert.deepEqual(
      responses.map((r) => r.body.toString()),
      ["slow 150", "/p2", "/p3"],
    );
  });

  it("passes chunked request and response bodies with trailers intact", async () => {
    const c = await RawClient.connect(NODE, lb.port);
    cleanups.push(async () => c.destroy());
    c.write(
      "POST /chunked HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhel",
    );
    await sleep(20);
    c.write("lo\r\n6\r\n world\r\n0\r\nX-T: yes\r\n\r\n");
    const r = await c.response();
    assert.equal(r.status, 200);
    assert.equal(r.chunked, true);
    assert.equal(header(r, "x-request-te"), "chunked");
    assert.equal(r.body.toString(), "got:hello world|t=yes");
    assert.deepEqual(r.trailers, [["X-Resp-T", "done"]]);
    c.write(get("/after-chunked"));
    assert.equal((await c.response()).body.toString(), "/after-chunked", "the connection goes on");
  });

  it("Expect: 100-continue gets the back end's 100, then the final response", async () => {
    const c = await RawClient.connect(NODE, lb.port);
    cleanups.push(async () => c.destroy());
    c.write("PUT /continue HTTP/1.1\r\nHost: lb.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    const interim = await c.response(3000);
    assert.equal(interim.status, 100);
    c.write("hello");
    const r = await c.response();
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "continued hello");
  });

  it("an Upgrade is tunnelled: the 101, then bytes both ways", async () => {
    const c = await RawClient.connect(NODE, lb.port);
    cleanups.push(async () => c.destroy());
    // Bytes sent right behind the head, before the 101, belong to the tunnel.
    c.write("GET /ws HTTP/1.1\r\nHost: lb.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly");
    const r = await c.response();
    assert.equal(r.status, 101);
    assert.equal(header(r, "upgrade"), "echo");
    assert.equal(header(r, "connection")?.toLowerCase(), "upgrade");
    assert.equal((await c.bytes(7)).toString(), "welcome");
    assert.equal((await c.bytes(10)).toString(), "echo:early");
    for (const msg of ["ping", "GET / HTTP/1.1\r\n\r\n"]) {
      c.write(msg);
      assert.equal((await c.bytes(5 + msg.length)).toString(), `echo:${msg}`);
    }
    c.end();
    await c.waitClose(2000);
  });
});

describe("sticky sessions", () => {
  const hosts = ["127.0.0.1", "127.0.0.2"];
  let port = 0;

  before(async () => {
    const servers = await sharedPortBackends(hosts, (i) => (req, res) => {
      if (req.url === "/login") res.setHeader("Set-Cookie", `SESSION=s${i}-abc; Path=/`);
      res.end(`s${i}`);
    });
    for (const s of servers) cleanups.push(() => closeServer(s));
    port = portOf(servers[0] as Server);
  });

  const cookieOf = (setCookie: string[] | undefined): string | undefined =>
    setCookie
      ?.find((c) => c.startsWith("AWSELB="))
      ?.split(";")[0]
      ?.slice(7);

  it("LB cookie: AWSELB with Max-Age sticks; an unhealthy instance is left and a new cookie issued", async () => {
    const health = hosts.map((h, i) => healthy(`i-${i}`, h));
    const lb = await listenerFor({
      address: "127.0.73.2",
      backends: health,
      instancePort: port,
      policy: { stickiness: { kind: "lb-cookie", maxAgeSeconds: 60 } },
    });
    const first = await fetchRaw(lb.address, lb.port, "/");
    const line = first.headers["set-cookie"]?.find((c) => c.startsWith("AWSELB="));
    assert.match(line ?? "", /^AWSELB=[0-9A-Za-z]+;PATH=\/;MAX-AGE=60$/);
    const token = cookieOf(first.headers["set-cookie"]) as string;
    const stuck = first.body.toString();
    for (let i = 0; i < 6; i++) {
      const r = await fetchRaw(lb.address, lb.port, "/", { headers: { Cookie: `AWSELB=${token}` } });
      assert.equal(r.body.toString(), stuck, `request ${i} sticks`);
    }
    markUnhealthy(health[stuck === "s0" ? 0 : 1] as BackendHealth);
    const moved = await fetchRaw(lb.address, lb.port, "/", { headers: { Cookie: `AWSELB=${token}` } });
    assert.equal(moved.status, 200);
    assert.notEqual(moved.body.toString(), stuck, "re-routed away from the unhealthy instance");
    const fresh = cookieOf(moved.headers["set-cookie"]);
    assert.ok(fresh !== undefined && fresh !== token, "a new AWSELB cookie names the new instance");
    for (let i = 0; i < 3; i++) {
      const r = await fetchRaw(lb.address, lb.port, "/", { headers: { Cookie: `AWSELB=${fresh}` } });
      assert.equal(r.body.toString(), moved.body.toString());
    }
  });

  it("app cookie: AWSELB is added to the application's SESSION cookie; both cookies stick", async () => {
    const lb = await listenerFor({
      address: "127.0.73.3",
      backends: hosts.map((h, i) => healthy(`i-${i}`, h)),
      instancePort: port,
      policy: { stickiness: { kind: "app-cookie", cookieName: "SESSION" } },
    });
    const plain = await fetchRaw(lb.address, lb.port, "/");
    assert.equal(cookieOf(plain.headers["set-cookie"]), undefined, "no AWSELB without the app's cookie");
    const login = await fetchRaw(lb.address, lb.port, "/login");
    const cookies = login.headers["set-cookie"] ?? [];
    const session = cookies.find((c) => c.startsWith("SESSION="))?.split(";")[0];
    assert.ok(session, "the application's cookie passes");
    assert.ok(
      cookies.some((c) => /^AWSELB=[0-9A-Za-z]+;PATH=\/$/.test(c)),
      `AWSELB added: ${cookies.join(" | ")}`,
    );
    const token = cookieOf(cookies) as string;
    const stuck = login.body.toString();
    for (let i = 0; i < 6; i++) {
      const r = await fetchRaw(lb.address, lb.port, "/", {
        headers: { Cookie: `${session}; AWSELB=${token}` },
      });
      assert.equal(r.body.toString(), stuck, `request ${i} sticks`);
    }
    const spread = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await fetchRaw(lb.address, lb.port, "/", { headers: { Cookie: `AWSELB=${token}` } });
      spread.add(r.body.toString());
    }
    assert.equal(spread.size, 2, "AWSELB alone does not stick under an app cookie policy");
  });
});

/** A back end holding each response 300 ms, behind one connection per origin and a surge capacity of 2. */
async function slowListener(address: string, urls: string[] = []): Promise<TestListener> {
  const slow = createServer((req, res) => {
    urls.push(req.url ?? "");
    req.resume();
    setTimeout(() => res.end("slow ok"), 300);
  });
  await listen(slow, "127.0.0.1");
  cleanups.push(() => closeServer(slow));
  const backends = [healthy("i-slow")];
  return listenerFor({ address, backends, instancePort: portOf(slow), maxConnections: 1, surgeCapacity: 2 });
}

describe("surge queue and spillover", () => {
  it("one connection per origin, surge capacity 2: 1 in flight, 2 queued, 2 spill over with 503", async () => {
    const lb = await slowListener("127.0.73.4");
    const clients = await Promise.all(
      Array.from({ length: 5 }, () => RawClient.connect(lb.address, lb.port)),
    );
    for (const c of clients) cleanups.push(async () => c.destroy());
    const done: number[] = [];
    const pending = clients.map(async (c, i) => {
      c.write(get(`/surge/${i}`));
      const r = await c.response(5000);
      done.push(r.status);
    });
    await waitFor("two requests in the surge queue", () => lb.metrics.surgeQueueLength === 2, 1000);
    await Promise.all(pending);
    assert.deepEqual([...done].sort(), [200, 200, 200, 503, 503]);
    assert.deepEqual(done.slice(0, 2), [503, 503], "spillover is answered at once, before any 200");
    assert.equal(lb.metrics.spilloverCount, 2);
    assert.equal(lb.metrics.elb5xx, 2);
    assert.equal(lb.metrics.surgeQueueLength, 0);
  });

  it("a connection answered 503 by spillover goes on to serve its next request", async () => {
    const lb = await slowListener("127.0.73.8");
    const busy = await Promise.all(Array.from({ length: 3 }, () => RawClient.connect(lb.address, lb.port)));
    for (const c of busy) cleanups.push(async () => c.destroy());
    const held = busy.map(async (c, i) => {
      c.write(get(`/hold/${i}`));
      return (await c.response(5000)).status;
    });
    await waitFor("two requests in the surge queue", () => lb.metrics.surgeQueueLength === 2, 1000);
    const c = await RawClient.connect(lb.address, lb.port);
    cleanups.push(async () => c.destroy());
    c.write(get("/spilled"));
    assert.equal((await c.response(3000)).status, 503);
    assert.deepEqual(await Promise.all(held), [200, 200, 200]);
    c.write(get("/after"));
    assert.equal((await c.response(3000)).status, 200, "the same keep-alive connection serves again");
  });

  it("a queued request's body pauses its client past 256 KiB and arrives whole once a connection frees", async () => {
    const sizes: string[] = [];
    const app = createServer((req, res) => {
      let n = 0;
      req.on("data", (c: Buffer) => {
        n += c.length;
      });
      req.on("end", () => {
        sizes.push(`${req.url} ${n}`);
        setTimeout(() => res.end(`${req.url} ${n}`), req.url === "/hold" ? 300 : 0);
      });
    });
    await listen(app, "127.0.0.1");
    cleanups.push(() => closeServer(app));
    const lb = await listenerFor({
      address: "127.0.73.9",
      backends: [healthy("i-upload")],
      instancePort: portOf(app),
      maxConnections: 1,
      surgeCapacity: 2,
    });
    const holder = await RawClient.connect(lb.address, lb.port);
    const uploader = await RawClient.connect(lb.address, lb.port);
    cleanups.push(async () => holder.destroy());
    cleanups.push(async () => uploader.destroy());
    holder.write(get("/hold"));
    await waitFor("the only back-end connection busy", () => sizes.length === 1, 1000);
    const size = 16 * 1024 * 1024;
    uploader.write(`POST /upload HTTP/1.1\r\nHost: lb\r\nContent-Length: ${size}\r\n\r\n`);
    uploader.write(Buffer.alloc(size, 0x61));
    await waitFor("the upload in the surge queue", () => lb.metrics.surgeQueueLength === 1, 1000);
    await sleep(100);
    // Paused, the proxy leaves most of 16 MiB in the kernel's buffers and the client's own.
    assert.ok(uploader.socket.writableLength > 0, "the client is paused while its request waits");
    assert.equal((await holder.response(3000)).body.toString(), "/hold 0");
    const r = await uploader.response(10_000);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), `/upload ${size}`, "the queued bytes and the rest arrive, in full");
    assert.equal(lb.metrics.surgeQueueLength, 0);
  });

  it("a queued request whose client resets leaves the surge queue and never reaches the back end", async () => {
    const urls: string[] = [];
    const lb = await slowListener("127.0.73.6", urls);
    const clients: RawClient[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await RawClient.connect(lb.address, lb.port);
      cleanups.push(async () => c.destroy());
      c.write(get(`/q/${i}`));
      clients.push(c);
      await sleep(20);
    }
    await waitFor("two queued", () => lb.metrics.surgeQueueLength === 2, 1000);
    clients[2]?.socket.resetAndDestroy();
    await waitFor("one left in the queue", () => lb.metrics.surgeQueueLength === 1, 1000);
    for (const c of clients.slice(0, 2)) assert.equal((await c.response(3000)).status, 200);
    await waitFor("nothing in flight", () => lb.listener.inFlight === 0, 1000);
    assert.deepEqual(urls, ["/q/0", "/q/1"]);
    assert.equal(lb.metrics.surgeQueueLength, 0);
  });
});

describe("back-end failures", () => {
  const NODE = "127.0.73.5";
  let lb: TestListener;
  let live: Server;

  before(async () => {
    live = createServer((req, res) => {
      req.resume();
      res.end("live");
    });
    await listen(live, "127.0.0.1");
    cleanups.push(() => closeServer(live));
    lb = await listenerFor({ address: NODE, backends: [], instancePort: 1, idleTimeoutMs: 1000 });
  });

  /** Routes to a raw back end that does `onConnection`, and returns the response to a GET. */
  async function through(onConnection: Parameters<typeof rawBackend>[0]): Promise<RawResponse> {
    const b = await rawBackend(onConnection);
    cleanups.push(b.close);
    route(lb.listener, [healthy("i-raw")], b.port);
    const { client, responses } = await rawRequest(NODE, lb.port, get("/"));
    client.destroy();
    return responses[0] as RawResponse;
  }

  it("a refused connection is retried on the other back end: every request succeeds", async () => {
    route(lb.listener, [healthy("i-dead", "127.0.0.3"), healthy("i-live", "127.0.0.1")], portOf(live));
    for (let i = 0; i < 6; i++) {
      const { client, responses } = await rawRequest(NODE, lb.port, get(`/retry/${i}`));
      client.destroy();
      assert.equal(responses[0]?.status, 200, `request ${i}`);
      assert.equal(responses[0]?.body.toString(), "live");
    }
    assert.ok(lb.metrics.backendConnectionErrors > 0);
  });

  it("502 for a response that is not HTTP", async () => {
    const r = await through((s) => s.once("data", () => s.end("NOT HTTP AT ALL\r\n\r\n")));
    assert.equal(r.status, 502);
  });

  it("502 for a 101 to a request that asked for no upgrade", async () => {
    const r = await through((s) =>
      s.once("data", () =>
        s.end("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"),
      ),
    );
    assert.equal(r.status, 502);
  });

  it("a response split anywhere across reads arrives whole", async () => {
    const response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello";
    const r = await through((s) =>
      s.once("data", async () => {
        for (const ch of response) {
          s.write(ch);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }),
    );
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "hello");
  });

  it("502 for a response framed both by Content-Length and by chunks", async () => {
    const r = await through((s) =>
      s.once("data", () =>
        s.end(
          "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ),
      ),
    );
    assert.equal(r.status, 502);
  });

  it("502 when the back end closes inside its response head", async () => {
    const r = await through((s) => s.once("data", () => s.end("HTTP/1.1 200 OK\r\nContent-Le")));
    assert.equal(r.status, 502);
  });

  it("504 when the back end closes the connection before responding", async () => {
    const r = await through((s) => s.once("data", () => s.destroy()));
    assert.equal(r.status, 504);
  });

  it("504 when the back end stays silent past the idle timeout", async () => {
    const t0 = performance.now();
    const r = await through((s) => s.resume());
    const ms = performance.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(ms > 700 && ms < 6000, `504 after ${Math.round(ms)} ms`);
  });

  it("503 when no back end is InService", async () => {
    route(lb.listener, [new BackendHealth("i-new", "127.0.0.1")], portOf(live));
    const { client, responses } = await rawRequest(NODE, lb.port, get("/"));
    client.destroy();
    assert.equal(responses[0]?.status, 503);
  });
});
