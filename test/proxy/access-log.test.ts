import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { DEFAULT_ATTRIBUTES } from "../../src/model/attributes.js";
import type { NodeSource } from "../../src/model/resolve-node.js";
import type { Listener } from "../../src/model/types.js";
import { fileTime } from "../../src/proxy/access-log.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
import { selfSignedCert } from "../support/certs.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import {
  backend,
  closeServer,
  echoBackends,
  fastHealthCheck,
  fetchRaw,
  freePort,
  httpListener,
  lbSpec,
  listen,
  portOf,
  tcpListener,
  waitFor,
} from "./helpers.js";

const cleanups = cleanupsAfterAll();

/** The 15 space-separated fields of a Classic ELB access-log line (two of them quoted). */
const LINE =
  /^(\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" (\S+) (\S+)$/;

function withAccessLog(spec: NodeSource, enabled: boolean, emitInterval = 5): NodeSource {
  return { ...spec, attributes: { ...DEFAULT_ATTRIBUTES, accessLog: { enabled, emitInterval } } };
}

async function setup(node: string, backendHost: string) {
  const dir = await mkdtemp(join(tmpdir(), "ballast-access-log-"));
  const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a", accessLogDir: dir });
  const [b] = await echoBackends([backendHost]);
  assert.ok(b);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await runtime.close();
  };
  cleanups.push(async () => {
    await close();
    await closeServer(b.server);
    await rm(dir, { recursive: true, force: true });
  });
  const port = await freePort(node);
  const spec = lbSpec(
    "logs",
    [httpListener(port, b.port)],
    [backend("i-1", backendHost)],
    fastHealthCheck(`HTTP:${b.port}/health`),
  );
  return { dir, runtime, port, spec, close };
}

describe("access logs", () => {
  it("one Classic ELB line per request, in a file named as ELB names it, flushed on close", async () => {
    const node = "127.0.18.10";
    const { dir, runtime, port, spec, close } = await setup(node, "127.0.18.11");
    const emptyPort = await freePort(node);
    const empty = withAccessLog(
      lbSpec("empty", [httpListener(emptyPort, 1)], [], fastHealthCheck("TCP:1")),
      true,
    );
    const before = Date.now();
    await runtime.apply(
      resolved([
        { address: node, spec: withAccessLog(spec, true) },
        { address: node, spec: empty },
      ]),
    );
    await waitFor("InService", () => runtime.health().some((h) => h.state === "InService"));

    const get = await fetchRaw(node, port, "/path?q=1", { headers: { "User-Agent": "test-agent/1.0" } });
    assert.equal(get.status, 200);
    const post = await fetchRaw(node, port, "/echo", { method: "POST", body: Buffer.from("hello") });
    assert.equal(post.body.toString(), "hello");
    const none = await fetchRaw(node, emptyPort, "/");
    assert.equal(none.status, 503);
    await close();

    const files = await readdir(join(dir, "logs"));
    assert.equal(files.length, 1);
    const name = files[0] ?? "";
    const m =
      /^000000000000_elasticloadbalancing_us-east-1_logs_(\d{8}T\d{4}Z)_127\.0\.18\.10_[0-9a-f]{8}\.log$/.exec(
        name,
      );
    assert.ok(m, name);
    // The interval's start: a multiple of 5 minutes, at or before the first request.
    const start = Math.floor(before / 300_000) * 300_000;
    assert.ok(
      m[1] === fileTime(start) || m[1] === fileTime(start + 300_000),
      `${m[1]} vs ${fileTime(start)}`,
    );
    assert.equal(Number(m[1]?.slice(11, 13)) % 5, 0);

    const lines = (await readFile(join(dir, "logs", name), "utf8")).trimEnd().split("\n");
    assert.equal(lines.length, 2);
    const [g, p] = lines.map((l) => LINE.exec(l));
    assert.ok(g && p, lines.join("\n"));
    assert.ok(Math.abs(Date.parse(g[1] ?? "") - Date.now()) < 60_000, g[1]);
    assert.match(g[1] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(g[2], "logs");
    assert.match(g[3] ?? "", /^127\.0\.0\.1:\d+$/);
    assert.match(g[4] ?? "", /^127\.0\.18\.11:\d+$/);
    assert.match(g[6] ?? "", /^\d+\.\d{6}$/);
    assert.deepEqual(g.slice(8, 12), ["200", "200", "0", "2"]); // the back end answers "b0"
    assert.equal(g[12], `GET http://${node}:${port}/path?q=1 HTTP/1.1`);
    assert.equal(g[13], "test-agent/1.0");
    assert.deepEqual(g.slice(14), ["-", "-"]);
    assert.deepEqual(p.slice(8, 12), ["200", "200", "5", "5"]);
    assert.equal(p[13], "-");

    const emptyFiles = await readdir(join(dir, "empty"));
    assert.equal(emptyFiles.length, 1);
    const e = LINE.exec((await readFile(join(dir, "empty", emptyFiles[0] ?? ""), "utf8")).trimEnd());
    assert.ok(e);
    assert.deepEqual(e.slice(4, 10), ["-", "-1", "-1", "-1", "503", "-"]);
    assert.ok(Number(e[11]) > 0);
  });

  it("client-supplied Host and User-Agent cannot break a line; no Host logs the node's address", async () => {
    const node = "127.0.18.20";
    const { dir, runtime, port, spec, close } = await setup(node, "127.0.18.21");
    await runtime.apply(resolved([{ address: node, spec: withAccessLog(spec, true) }]));
    await waitFor("InService", () => runtime.health().some((h) => h.state === "InService"));
    const send = async (raw: string): Promise<void> => {
      const c = connect(port, node);
      c.on("error", () => {});
      c.resume();
      c.end(raw);
      await once(c, "close");
    };
    await send('GET /a HTTP/1.1\r\nHost: evil" "x 200 -\r\nUser-Agent: ua\\\r\nConnection: close\r\n\r\n');
    await send("GET /b HTTP/1.0\r\n\r\n");
    await close();

    const files = await readdir(join(dir, "logs"));
    const lines = (await readFile(join(dir, "logs", files[0] ?? ""), "utf8")).trimEnd().split("\n");
    assert.equal(lines.length, 2, lines.join("\n"));
    const [a, b] = lines.map((l) => LINE.exec(l));
    assert.ok(a && b, lines.join("\n"));
    assert.equal(a[12], `GET http://evil\\" \\"x 200 -:${port}/a HTTP/1.1`);
    assert.equal(a[13], "ua\\\\");
    assert.equal(b[12], `GET http://${node}:${port}/b HTTP/1.0`);
  });

  it("disabled: no file; turning it off closes the file and writes no more", async () => {
    const node = "127.0.18.20";
    const { dir, runtime, port, spec } = await setup(node, "127.0.18.21");
    await runtime.apply(resolved([{ address: node, spec: withAccessLog(spec, false) }]));
    await waitFor("InService", () => runtime.health().some((h) => h.state === "InService"));
    assert.equal((await fetchRaw(node, port, "/")).status, 200);
    assert.deepEqual(await readdir(dir), []);

    await runtime.apply(resolved([{ address: node, spec: withAccessLog(spec, true, 60) }]));
    assert.equal((await fetchRaw(node, port, "/")).status, 200);
    await runtime.apply(resolved([{ address: node, spec: withAccessLog(spec, false) }]));
    assert.equal((await fetchRaw(node, port, "/")).status, 200);
    const files = await readdir(join(dir, "logs"));
    assert.equal(files.length, 1);
    assert.match(files[0] ?? "", /_\d{8}T\d\d00Z_127\.0\.18\.20_/);
    // Closing is asynchronous: the one line recorded while enabled reaches the file.
    let text = "";
    for (let i = 0; i < 100 && text === ""; i++) {
      text = await readFile(join(dir, "logs", files[0] ?? ""), "utf8");
      if (text === "") await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(text.trimEnd().split("\n").length, 1);
  });
});

/** Sends `msg` (unless empty), half-closes, and returns everything received until the close. */
async function tcpExchange(client: Socket, msg: string): Promise<string> {
  client.on("error", () => {});
  let got = "";
  client.on("data", (d: Buffer) => {
    got += d.toString();
  });
  if (msg === "") client.end();
  else client.end(msg);
  await Promise.race([
    once(client, "close"),
    new Promise((_, rej) => setTimeout(() => rej(new Error(`no close; got ${got}`)), 3000).unref()),
  ]);
  return got;
}

/** A TCP back end that answers each chunk with "echo:<chunk>", and ends when the client does. */
function echoServer(): Server {
  return createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    s.on("data", (d: Buffer) => s.write(`echo:${d.toString()}`));
    s.on("end", () => s.end());
  });
}

async function linesOf(dir: string): Promise<string[]> {
  const files = await readdir(dir);
  assert.equal(files.length, 1, files.join(", "));
  return (await readFile(join(dir, files[0] ?? ""), "utf8")).trimEnd().split("\n");
}

describe("access logs of TCP and SSL listeners", () => {
  it('one line per connection: times, bytes both ways, request "- - - ", no status codes', async () => {
    const node = "127.0.63.1";
    const backendHost = "127.0.63.2";
    const dir = await mkdtemp(join(tmpdir(), "ballast-access-log-tcp-"));
    const server = echoServer();
    await listen(server, backendHost);
    const bp = portOf(server);
    const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a", accessLogDir: dir });
    cleanups.push(async () => {
      await runtime.close();
      await closeServer(server);
      await rm(dir, { recursive: true, force: true });
    });
    const port = await freePort(node);
    const emptyPort = await freePort(node);
    const spec = lbSpec(
      "tcplogs",
      [tcpListener(port, bp)],
      [backend("i-1", backendHost)],
      fastHealthCheck(`TCP:${bp}`),
    );
    const empty = lbSpec("tcpempty", [tcpListener(emptyPort, bp)], [], fastHealthCheck(`TCP:${bp}`));
    await runtime.apply(
      resolved([
        { address: node, spec: withAccessLog(spec, true) },
        { address: node, spec: withAccessLog(empty, true) },
      ]),
    );
    await waitFor("InService", () => runtime.health().some((h) => h.state === "InService"));

    const c1 = connect({ host: node, port, localAddress: "127.0.63.9" });
    await once(c1, "connect");
    const c1Port = c1.localPort;
    assert.equal(await tcpExchange(c1, "0123456789"), "echo:0123456789");
    const c2 = connect({ host: node, port });
    await once(c2, "connect");
    assert.equal(await tcpExchange(c2, ""), "");
    const c3 = connect({ host: node, port: emptyPort });
    await once(c3, "connect");
    assert.equal(await tcpExchange(c3, "lost"), "");
    await runtime.close();

    const [l1, l2] = (await linesOf(join(dir, "tcplogs"))).map((l) => LINE.exec(l));
    assert.ok(l1 && l2);
    assert.match(l1[1] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.ok(Math.abs(Date.parse(l1[1] ?? "") - Date.now()) < 60_000, l1[1]);
    assert.equal(l1[2], "tcplogs");
    assert.equal(l1[3], `127.0.63.9:${c1Port}`);
    assert.equal(l1[4], `${backendHost}:${bp}`);
    for (const t of l1.slice(5, 8)) assert.match(t ?? "", /^\d+\.\d{6}$/);
    assert.deepEqual(l1.slice(8, 12), ["-", "-", "10", "15"]);
    assert.deepEqual(l1.slice(12), ["- - - ", "-", "-", "-"]);
    // Connected, but the client sent nothing and the back end answered nothing.
    assert.equal(l2[4], `${backendHost}:${bp}`);
    assert.equal(l2[5], "-1");
    assert.match(l2[6] ?? "", /^\d+\.\d{6}$/);
    assert.deepEqual(l2.slice(7, 12), ["-1", "-", "-", "0", "0"]);
    // No back end to send it to.
    const [e] = (await linesOf(join(dir, "tcpempty"))).map((l) => LINE.exec(l));
    assert.ok(e);
    assert.deepEqual(e.slice(4, 12), ["-", "-1", "-1", "-1", "-", "-", "0", "0"]);
  });

  it("SSL listeners log the negotiated cipher and protocol", async () => {
    const node = "127.0.63.10";
    const backendHost = "127.0.63.11";
    const dir = await mkdtemp(join(tmpdir(), "ballast-access-log-ssl-"));
    const pem = selfSignedCert("lb", { days: 2 });
    const server = echoServer();
    await listen(server, backendHost);
    const bp = portOf(server);
    const logDir = join(dir, "logs");
    const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a", accessLogDir: logDir });
    cleanups.push(async () => {
      await runtime.close();
      await closeServer(server);
      await rm(dir, { recursive: true, force: true });
    });
    const port = await freePort(node);
    const listener: Listener = {
      protocol: "SSL",
      loadBalancerPort: port,
      instanceProtocol: "TCP",
      instancePort: bp,
      sslCertificateId: "arn:lb",
    };
    const spec: NodeSource = {
      ...lbSpec("ssllogs", [listener], [backend("i-1", backendHost)], fastHealthCheck(`TCP:${bp}`)),
      certificates: [{ arn: "arn:lb", certificateBody: pem.cert, privateKey: pem.key }],
    };
    await runtime.apply(resolved([{ address: node, spec: withAccessLog(spec, true) }]));
    await waitFor("InService", () => runtime.health().some((h) => h.state === "InService"));
    await waitFor("bound", () => runtime.nodes()[0]?.listeners[0]?.bound === true);

    const c = tlsConnect({ host: node, port, rejectUnauthorized: false });
    await once(c, "secureConnect");
    const cipher = c.getCipher().name;
    const protocol = c.getProtocol();
    let got = "";
    c.on("data", (d: Buffer) => {
      got += d.toString();
      if (got === "echo:hello") c.end();
    });
    c.write("hello");
    await Promise.race([
      once(c, "close"),
      new Promise((_, rej) => setTimeout(() => rej(new Error(`no close; got ${got}`)), 3000).unref()),
    ]);
    await runtime.close();

    const [l] = (await linesOf(join(logDir, "ssllogs"))).map((x) => LINE.exec(x));
    assert.ok(l);
    assert.equal(l[4], `${backendHost}:${bp}`);
    assert.deepEqual(l.slice(8, 12), ["-", "-", "5", "10"]);
    assert.deepEqual(l.slice(12), ["- - - ", "-", cipher, protocol]);
    assert.match(cipher, /^[A-Z0-9-]+$/);
    assert.match(protocol ?? "", /^TLSv1\.[0-3]$/);
  });
});
