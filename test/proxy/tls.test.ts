import assert from "node:assert/strict";
import { once } from "node:events";
import { Agent, createServer as createHttpsServer, request as httpsRequest } from "node:https";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { before, describe, it } from "node:test";
import { type PeerCertificate, type TLSSocket, connect as tlsConnect } from "node:tls";
import type { CertificateSource, NodeSource } from "../../src/model/resolve-node.js";
import { predefinedPolicy } from "../../src/model/ssl-policies.js";
import type { Listener, LoadBalancerPolicy } from "../../src/model/types.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
import { type CertPem, selfSignedCert } from "../support/certs.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import {
  backend,
  closeServer,
  echoBackend,
  fastHealthCheck,
  freePort,
  lbSpec,
  listen,
  portOf,
  waitFor,
} from "./helpers.js";

const ARN = "arn:aws:iam::123456789012:server-certificate/test";

let first: CertPem;
let rotated: CertPem;

function certificate(pem: CertPem, arn = ARN): CertificateSource {
  return { arn, certificateBody: pem.cert, privateKey: pem.key };
}

const cleanups = cleanupsAfterAll();

before(() => {
  first = selfSignedCert("test", { days: 2 });
  rotated = selfSignedCert("rotated", { days: 2 });
});

function newRuntime(): ProxyRuntime {
  const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
  cleanups.push(() => runtime.close());
  return runtime;
}

function tlsListener(
  protocol: "HTTPS" | "SSL",
  port: number,
  instanceProtocol: "HTTP" | "HTTPS" | "TCP" | "SSL",
  instancePort: number,
  policyNames?: string[],
): Listener {
  return {
    protocol,
    loadBalancerPort: port,
    instanceProtocol,
    instancePort,
    sslCertificateId: ARN,
    ...(policyNames === undefined ? {} : { policyNames }),
  };
}

function withTls(
  spec: NodeSource,
  certificates: CertificateSource[],
  policies: LoadBalancerPolicy[] = [],
): NodeSource {
  return { ...spec, certificates, policies };
}

interface HttpsReply {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly peer: PeerCertificate;
  readonly reused: boolean;
}

function fetchHttps(
  host: string,
  port: number,
  path: string,
  opts: { method?: string; body?: string; agent?: Agent } = {},
): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host,
      port,
      path,
      method: opts.method ?? "GET",
      rejectUnauthorized: false,
      agent: opts.agent ?? false,
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate();
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          headers: res.headers,
          peer,
          reused: req.reusedSocket,
        }),
      );
    });
    req.end(opts.body);
  });
}

/** Resolves with the negotiated protocol, or rejects when the handshake fails. */
function handshake(
  host: string,
  port: number,
  opts: { minVersion?: "TLSv1.1" | "TLSv1.2"; maxVersion?: "TLSv1.1" | "TLSv1.2"; ciphers?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host, port, rejectUnauthorized: false, ...opts });
    s.on("error", reject);
    s.on("secureConnect", () => {
      const p = s.getProtocol() ?? "";
      s.destroy();
      resolve(p);
    });
  });
}

/** A TCP back end that echoes what it reads. */
async function tcpEcho(host: string): Promise<NetServer> {
  const s = createNetServer({ allowHalfOpen: true }, (c: Socket) => c.pipe(c));
  await listen(s, host);
  cleanups.push(() => closeServer(s));
  return s;
}

/** Writes `text` over TLS, half-closes, and collects the reply until the end. */
function tlsRoundTrip(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host, port, rejectUnauthorized: false });
    const chunks: Buffer[] = [];
    s.on("error", reject);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => resolve(Buffer.concat(chunks).toString()));
    s.on("secureConnect", () => s.end(text));
  });
}

describe("TLS listeners", () => {
  it("HTTPS listener → HTTP back end: terminates TLS, X-Forwarded-Proto https, body round trip", async () => {
    const node = "127.0.19.1";
    const runtime = newRuntime();
    const b = await echoBackend("plain", "127.0.19.101");
    cleanups.push(() => closeServer(b.server));
    const port = await freePort(node);
    const spec = lbSpec(
      "https-http",
      [tlsListener("HTTPS", port, "HTTP", b.port)],
      [backend("i-a", "127.0.19.101")],
      fastHealthCheck(`HTTP:${b.port}/health`),
    );
    await runtime.apply(resolved([{ address: node, spec: withTls(spec, [certificate(first)]) }]));
    assert.equal(runtime.nodes()[0]?.listeners[0]?.bound, true);
    await waitFor("InService", () => runtime.health().every((h) => h.state === "InService"));
    const r = await fetchHttps(node, port, "/echo", { method: "POST", body: "hello over tls" });
    assert.equal(r.status, 200);
    assert.equal(r.body, "hello over tls");
    assert.equal(r.peer.subject.CN, "test");
    assert.equal(b.lastHeaders["x-forwarded-proto"], "https");
    assert.equal(b.lastHeaders["x-forwarded-port"], String(port));
    // No policy named: ELBSecurityPolicy-2016-08, which still admits TLS 1.1 (the contrast to the
    // TLSv1.2-only test below: this client can speak TLS 1.1).
    const old = { minVersion: "TLSv1.1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" } as const;
    assert.equal(await handshake(node, port, old), "TLSv1.1");
  });

  it("HTTPS listener → HTTPS back end (certificate not verified); an HTTPS health check marks it InService", async () => {
    const node = "127.0.19.2";
    const runtime = newRuntime();
    const seen: (string | undefined)[] = [];
    const server = createHttpsServer({ cert: first.cert, key: first.key }, (req, res) => {
      if (req.url !== "/health") seen.push(req.headers["x-forwarded-proto"] as string | undefined);
      res.end(req.url === "/health" ? "ok" : "secure back end");
    });
    await listen(server, "127.0.19.102");
    cleanups.push(() => closeServer(server));
    const bp = portOf(server);
    const port = await freePort(node);
    const spec = lbSpec(
      "https-https",
      [tlsListener("HTTPS", port, "HTTPS", bp)],
      [backend("i-a", "127.0.19.102")],
      fastHealthCheck(`HTTPS:${bp}/health`),
    );
    await runtime.apply(resolved([{ address: node, spec: withTls(spec, [certificate(first)]) }]));
    await waitFor("InService over HTTPS", () => runtime.health().every((h) => h.state === "InService"));
    const r = await fetchHttps(node, port, "/");
    assert.equal(r.status, 200);
    assert.equal(r.body, "secure back end");
    assert.deepEqual(seen, ["https"]);
  });

  it("an HTTPS health check against a plain HTTP back end fails", async () => {
    const node = "127.0.19.3";
    const runtime = newRuntime();
    const b = await echoBackend("plain", "127.0.19.103");
    cleanups.push(() => closeServer(b.server));
    const port = await freePort(node);
    const spec = lbSpec(
      "https-hc-fail",
      [tlsListener("HTTPS", port, "HTTP", b.port)],
      [backend("i-a", "127.0.19.103")],
      fastHealthCheck(`HTTPS:${b.port}/health`),
    );
    await runtime.apply(resolved([{ address: node, spec: withTls(spec, [certificate(first)]) }]));
    // A new back end is OutOfService ("registration in progress") before any check: wait for the
    // state the failed checks set, reason "Instance", which only a completed failing probe gives.
    await waitFor("OutOfService after failed HTTPS checks", () =>
      runtime.health().every((h) => h.state === "OutOfService" && h.reasonCode === "Instance"),
    );
    const [h] = runtime.health();
    assert.match(h?.description ?? "", /UnhealthyThreshold/);
  });

  it("SSL listener → TCP echo back end, and SSL → SSL with an SSL health check", async () => {
    const node = "127.0.19.4";
    const runtime = newRuntime();
    const echo = await tcpEcho("127.0.19.104");
    const secureEcho = await listen(
      (await import("node:tls")).createServer({ cert: first.cert, key: first.key }, (c) => c.pipe(c)),
      "127.0.19.105",
    );
    cleanups.push(() => closeServer(secureEcho));
    const plainPort = await freePort(node);
    const securePort = await freePort(node);
    const plain = lbSpec(
      "ssl-tcp",
      [tlsListener("SSL", plainPort, "TCP", portOf(echo))],
      [backend("i-a", "127.0.19.104")],
      fastHealthCheck(`TCP:${portOf(echo)}`),
    );
    const secure = lbSpec(
      "ssl-ssl",
      [tlsListener("SSL", securePort, "SSL", portOf(secureEcho))],
      [backend("i-b", "127.0.19.105")],
      fastHealthCheck(`SSL:${portOf(secureEcho)}`),
    );
    await runtime.apply(
      resolved([
        { address: node, spec: withTls(plain, [certificate(first)]) },
        { address: node, spec: withTls(secure, [certificate(first)]) },
      ]),
    );
    await waitFor(
      "InService",
      () => runtime.health().length === 2 && runtime.health().every((h) => h.state === "InService"),
    );
    assert.equal(await tlsRoundTrip(node, plainPort, "ping over ssl"), "ping over ssl");
    assert.equal(await tlsRoundTrip(node, securePort, "ping ssl to ssl"), "ping ssl to ssl");
  });

  it("a TLSv1.2-only policy refuses a TLSv1.1 client and accepts TLSv1.2", async () => {
    const node = "127.0.19.5";
    const runtime = newRuntime();
    const b = await echoBackend("plain", "127.0.19.106");
    cleanups.push(() => closeServer(b.server));
    const port = await freePort(node);
    const tls12 = predefinedPolicy("ELBSecurityPolicy-TLS-1-2-2017-01");
    assert.ok(tls12);
    const policy: LoadBalancerPolicy = {
      policyName: "tls12-only",
      policyTypeName: "SSLNegotiationPolicyType",
      attributes: tls12.attributes,
    };
    const spec = lbSpec(
      "policy",
      [tlsListener("HTTPS", port, "HTTP", b.port, ["tls12-only"])],
      [backend("i-a", "127.0.19.106")],
      fastHealthCheck(`HTTP:${b.port}/health`),
    );
    await runtime.apply(resolved([{ address: node, spec: withTls(spec, [certificate(first)], [policy]) }]));
    await assert.rejects(
      handshake(node, port, { minVersion: "TLSv1.1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" }),
    );
    assert.equal(await handshake(node, port, { maxVersion: "TLSv1.2" }), "TLSv1.2");
    // Classic ELB never negotiates TLS 1.3.
    assert.equal(await handshake(node, port, {}), "TLSv1.2");
  });

  it("certificate rotation on re-apply: new connections get the new certificate, an open keep-alive one keeps working", async () => {
    const node = "127.0.19.6";
    const runtime = newRuntime();
    const b = await echoBackend("plain", "127.0.19.107");
    cleanups.push(() => closeServer(b.server));
    const port = await freePort(node);
    const base = lbSpec(
      "rotate",
      [tlsListener("HTTPS", port, "HTTP", b.port)],
      [backend("i-a", "127.0.19.107")],
      fastHealthCheck(`HTTP:${b.port}/health`),
    );
    await runtime.apply(resolved([{ address: node, spec: withTls(base, [certificate(first)]) }]));
    await waitFor("InService", () => runtime.health().every((h) => h.state === "InService"));
    const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    cleanups.push(async () => agent.destroy());
    const r1 = await fetchHttps(node, port, "/", { agent });
    assert.equal(r1.peer.subject.CN, "test");

    await runtime.apply(
      resolved([{ address: node, spec: withTls({ ...base, revision: 2 }, [certificate(rotated)]) }]),
    );
    const fresh = await fetchHttps(node, port, "/");
    assert.equal(fresh.peer.subject.CN, "rotated");
    const r2 = await fetchHttps(node, port, "/", { agent });
    assert.equal(r2.status, 200);
    assert.equal(r2.reused, true);
    assert.equal(r2.peer.subject.CN, "test");
    assert.equal(runtime.nodes()[0]?.listeners[0]?.bound, true);
  });

  it("a listener whose certificate is missing stays unbound; the others on the node are served", async () => {
    const node = "127.0.19.7";
    const runtime = newRuntime();
    const b = await echoBackend("plain", "127.0.19.108");
    cleanups.push(() => closeServer(b.server));
    const missing = await freePort(node);
    const good = await freePort(node);
    const spec = lbSpec(
      "missing",
      [
        { ...tlsListener("HTTPS", missing, "HTTP", b.port), sslCertificateId: "arn:aws:acm:nowhere" },
        tlsListener("HTTPS", good, "HTTP", b.port),
      ],
      [backend("i-a", "127.0.19.108")],
      fastHealthCheck(`HTTP:${b.port}/health`),
    );
    await runtime.apply(resolved([{ address: node, spec: withTls(spec, [certificate(first)]) }]));
    const bound = runtime.nodes()[0]?.listeners.map((l) => [l.port, l.bound]);
    assert.deepEqual(bound, [
      [missing, false],
      [good, true],
    ]);
    const s = tlsConnect({ host: node, port: missing, rejectUnauthorized: false });
    const [err] = (await once(s, "error")) as [NodeJS.ErrnoException];
    assert.equal(err.code, "ECONNREFUSED");
    // The certificate arriving later binds it.
    await runtime.apply(
      resolved([
        {
          address: node,
          spec: withTls({ ...spec, revision: 2 }, [
            certificate(first),
            certificate(rotated, "arn:aws:acm:nowhere"),
          ]),
        },
      ]),
    );
    assert.equal(runtime.nodes()[0]?.listeners[0]?.bound, true);
    await waitFor("InService", () => runtime.health().every((h) => h.state === "InService"));
    assert.equal((await fetchHttps(node, missing, "/")).peer.subject.CN, "rotated");
  });
});
