import assert from "node:assert/strict";
import { createPublicKey, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { before, describe, it } from "node:test";
import { createServer as createTlsServer, type Server as TlsServer, connect as tlsConnect } from "node:tls";
import { parsePublicKey } from "../../src/model/public-keys.js";
import { type NodeSource, resolveNode } from "../../src/model/resolve-node.js";
import type { Listener } from "../../src/model/types.js";
import {
  type BackendAuth,
  BackendAuthError,
  backendAuth,
  connectBackendTls,
} from "../../src/proxy/backend-auth.js";
import { HealthChecker } from "../../src/proxy/health/checker.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
import { type CertPem, selfSignedCert } from "../support/certs.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import {
  backend,
  closeServer,
  fastHealthCheck,
  freePort,
  lbSpec,
  listen,
  portOf,
  waitFor,
} from "./helpers.js";

interface Pem extends CertPem {
  /** base64 DER SubjectPublicKeyInfo, as a PublicKeyPolicyType's PublicKey. */
  readonly spki: string;
}

let lb: Pem;
let good: Pem;
let other: Pem;
const cleanups = cleanupsAfterAll();

function selfSigned(cn: string, keyType: "rsa" | "ec"): Pem {
  const pem = selfSignedCert(cn, { days: 2, keyType });
  const spki = new X509Certificate(pem.cert).publicKey
    .export({ type: "spki", format: "der" })
    .toString("base64");
  return { ...pem, spki };
}

before(() => {
  lb = selfSigned("lb", "rsa");
  good = selfSigned("good", "rsa");
  other = selfSigned("other", "ec");
});

/** The spec with a BackendServerAuthenticationPolicy on `instancePort` accepting `keys`. */
function withAuth(spec: NodeSource, instancePort: number, keys: readonly string[]): NodeSource {
  return {
    ...spec,
    revision: spec.revision + 1,
    policies: [
      ...keys.map((k, i) => ({
        policyName: `key-${i}`,
        policyTypeName: "PublicKeyPolicyType",
        attributes: [{ name: "PublicKey", value: k }],
      })),
      {
        policyName: "auth",
        policyTypeName: "BackendServerAuthenticationPolicyType",
        attributes: keys.map((_, i) => ({ name: "PublicKeyPolicyName", value: `key-${i}` })),
      },
    ],
    backendServerPolicies: [{ instancePort, policyNames: ["auth"] }],
  };
}

/** The authentication the resolved spec gives connections to back ends on `instancePort`. */
function backendAuthFor(src: NodeSource, instancePort: number): BackendAuth | null {
  const spec = resolveNode({ ...src, healthCheck: fastHealthCheck(`SSL:${instancePort}`) });
  return backendAuth(spec.healthCheck.authentication);
}

/** A TLS back end with `pem`'s certificate that echoes "be:<data>" and answers "GET" with 200. */
async function tlsBackend(pem: Pem, host: string): Promise<TlsServer> {
  const server = createTlsServer({ cert: pem.cert, key: pem.key }, (s) => {
    s.on("error", () => {});
    s.on("data", (d: Buffer) => {
      const text = d.toString();
      if (text.startsWith("GET ")) s.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      else s.write(`be:${text}`);
    });
  });
  await listen(server, host);
  cleanups.push(() => closeServer(server));
  return server;
}

describe("backend auth policies", () => {
  it("parses PublicKey values: base64 SPKI as AWS takes it, PEM, a certificate; not garbage", () => {
    const der = Buffer.from(good.spki, "base64");
    assert.deepEqual(parsePublicKey(good.spki), der);
    const pem = createPublicKey(good.cert).export({ type: "spki", format: "pem" }).toString();
    assert.deepEqual(parsePublicKey(pem), der);
    assert.deepEqual(parsePublicKey(good.cert), der);
    assert.deepEqual(parsePublicKey(`${good.spki.slice(0, 20)}\n${good.spki.slice(20)}`), der);
    assert.equal(parsePublicKey("not a key"), null);
    assert.equal(parsePublicKey("AAAA"), null);
    assert.equal(parsePublicKey(""), null);
  });

  it("is set per instance port and collects the keys of every named PublicKeyPolicy", () => {
    const base = lbSpec("x", [], [], fastHealthCheck("TCP:443"));
    assert.equal(backendAuthFor(base, 443), null);
    const spec = withAuth(base, 443, [good.spki, other.spki, good.spki]);
    assert.equal(backendAuthFor(spec, 8443), null);
    const auth = backendAuthFor(spec, 443);
    assert.ok(auth);
    assert.equal(auth.keys.length, 2);
    assert.equal(auth.check(new X509Certificate(good.cert)), true);
    assert.equal(auth.check(new X509Certificate(other.cert)), true);
    assert.equal(auth.check(new X509Certificate(lb.cert)), false);
    // A policy whose keys do not parse accepts nothing rather than everything.
    const broken = backendAuthFor(withAuth(base, 443, ["garbage"]), 443);
    assert.ok(broken);
    assert.equal(broken.keys.length, 0);
    assert.equal(broken.check(new X509Certificate(good.cert)), false);
  });

  it("connectBackendTls: a matching key connects, a wrong one fails, none skips the check", async () => {
    const host = "127.0.62.1";
    const server = await tlsBackend(good, host);
    const port = portOf(server);
    const base = lbSpec("x", [], [], fastHealthCheck(`TCP:${port}`));
    const attempt = (keys: readonly string[] | null): Promise<Error | null> =>
      new Promise((resolve) => {
        const auth = keys === null ? null : backendAuthFor(withAuth(base, port, keys), port);
        connectBackendTls({ host, port }, auth, (err, s) => {
          if (err === null) {
            assert.ok(auth === null || auth.check(s.getPeerCertificate()));
            s.destroy();
          }
          resolve(err);
        });
      });
    assert.equal(await attempt([good.spki]), null);
    assert.equal(await attempt([other.spki, good.spki]), null);
    assert.equal(await attempt(null), null);
    const err = await attempt([other.spki]);
    assert.ok(err instanceof BackendAuthError, String(err));
  });
});

describe("backend auth in health checks", () => {
  for (const kind of ["SSL", "HTTPS"] as const) {
    it(`${kind} checks fail while the certificate's key is not in the policy`, async () => {
      const host = kind === "SSL" ? "127.0.62.2" : "127.0.62.3";
      const server = await tlsBackend(good, host);
      const port = portOf(server);
      const hc = fastHealthCheck(kind === "SSL" ? `SSL:${port}` : `HTTPS:${port}/health`);
      const base = lbSpec("hc", [], [backend("i-1", host)], hc);
      const check = (src: NodeSource) => resolveNode(src).healthCheck;
      const checker = new HealthChecker("hc", check(base), { healthChanged: () => {} }, silentLogger);
      cleanups.push(() => checker.stop());
      const state = (): string | undefined => checker.get("i-1")?.state;

      checker.update(check(withAuth(base, port, [other.spki])), base.backends);
      await waitFor(
        "a failed check",
        () => checker.get("i-1")?.description.startsWith("Instance has") === true,
      );
      assert.equal(state(), "OutOfService");

      checker.update(check(withAuth(base, port, [good.spki])), base.backends);
      await waitFor("InService with the right key", () => state() === "InService");

      checker.update(check(withAuth(base, port, [other.spki])), base.backends);
      await waitFor("OutOfService again", () => state() === "OutOfService");

      // No policy: the certificate is not checked.
      checker.update(check(base), base.backends);
      await waitFor("InService without the policy", () => state() === "InService");
    });
  }
});

describe("backend auth on SSL listeners", () => {
  it("passes traffic to a back end with a listed key; refuses and counts one without", async () => {
    const node = "127.0.62.10";
    const host = "127.0.62.11";
    const server = await tlsBackend(good, host);
    const bp = portOf(server);
    const port = await freePort(node);
    const listener: Listener = {
      protocol: "SSL",
      loadBalancerPort: port,
      instanceProtocol: "SSL",
      instancePort: bp,
      sslCertificateId: "arn:lb",
    };
    // A TCP health check: the back end stays InService whatever the policy, so the listener tries it.
    const base: NodeSource = {
      ...lbSpec("auth", [listener], [backend("i-1", host)], fastHealthCheck(`TCP:${bp}`)),
      certificates: [{ arn: "arn:lb", certificateBody: lb.cert, privateKey: lb.key }],
    };
    const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
    cleanups.push(() => runtime.close());
    const metrics = runtime.metrics.forListener("auth", port);
    const talk = async (): Promise<string> => {
      const c = tlsConnect({ host: node, port, rejectUnauthorized: false });
      c.on("error", () => {});
      await once(c, "secureConnect");
      let got = "";
      c.on("data", (d: Buffer) => {
        got += d.toString();
        if (got === "be:hi") c.end();
      });
      c.write("hi");
      await Promise.race([
        once(c, "close"),
        new Promise((_, rej) => setTimeout(() => rej(new Error(`no close; got ${got}`)), 3000).unref()),
      ]);
      return got;
    };

    await runtime.apply(resolved([{ address: node, spec: withAuth(base, bp, [good.spki]) }]));
    await waitFor("InService", () => runtime.health()[0]?.state === "InService");
    await waitFor("bound", () => runtime.nodes()[0]?.listeners[0]?.bound === true);
    assert.equal(await talk(), "be:hi");
    assert.equal(metrics.backendConnectionErrors, 0);

    await runtime.apply(resolved([{ address: node, spec: withAuth(base, bp, [other.spki]) }]));
    assert.equal(await talk(), "");
    assert.ok(metrics.backendConnectionErrors >= 1, `${metrics.backendConnectionErrors}`);

    const errors = metrics.backendConnectionErrors;
    await runtime.apply(resolved([{ address: node, spec: { ...base, revision: 9 } }]));
    assert.equal(await talk(), "be:hi", "without the policy the certificate is not checked");
    assert.equal(metrics.backendConnectionErrors, errors);
  });
});

describe("backend auth on HTTP listeners with HTTPS back ends", () => {
  it("forwards to a back end with a listed key; answers 503 and counts one without", async () => {
    const node = "127.0.62.20";
    const host = "127.0.62.21";
    const server = await tlsBackend(good, host);
    const bp = portOf(server);
    const port = await freePort(node);
    const listener: Listener = {
      protocol: "HTTP",
      loadBalancerPort: port,
      instanceProtocol: "HTTPS",
      instancePort: bp,
    };
    const base = lbSpec("auth-http", [listener], [backend("i-1", host)], fastHealthCheck(`TCP:${bp}`));
    const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
    cleanups.push(() => runtime.close());
    const metrics = runtime.metrics.forListener("auth-http", port);
    const status = async (): Promise<number> => {
      const res = await fetch(`http://${node}:${port}/`, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      return res.status;
    };

    await runtime.apply(resolved([{ address: node, spec: withAuth(base, bp, [good.spki]) }]));
    await waitFor("InService", () => runtime.health()[0]?.state === "InService");
    await waitFor("bound", () => runtime.nodes()[0]?.listeners[0]?.bound === true);
    assert.equal(await status(), 200);
    assert.equal(metrics.backendConnectionErrors, 0);

    await runtime.apply(resolved([{ address: node, spec: withAuth(base, bp, [other.spki]) }]));
    assert.equal(await status(), 503);
    assert.ok(metrics.backendConnectionErrors >= 1, `${metrics.backendConnectionErrors}`);

    await runtime.apply(resolved([{ address: node, spec: { ...base, revision: 9 } }]));
    assert.equal(await status(), 200, "without the policy the certificate is not checked");
  });
});
