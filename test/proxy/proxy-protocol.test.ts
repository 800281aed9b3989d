import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { describe, it } from "node:test";
import { TLSSocket, connect as tlsConnect } from "node:tls";
import { type NodeSource, resolveNode } from "../../src/model/resolve-node.js";
import type { Listener } from "../../src/model/types.js";
import { proxyProtocolHeader } from "../../src/proxy/proxy-protocol.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
import { selfSignedCert } from "../support/certs.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import {
  backend,
  closeServer,
  fastHealthCheck,
  freePort,
  lbSpec,
  listen,
  portOf,
  tcpListener,
  waitFor,
} from "./helpers.js";

const cleanups = cleanupsAfterAll();

function withProxyProtocol(spec: NodeSource, instancePort: number, value = "true"): NodeSource {
  return {
    ...spec,
    policies: [
      {
        policyName: "pp",
        policyTypeName: "ProxyProtocolPolicyType",
        attributes: [{ name: "ProxyProtocol", value }],
      },
    ],
    backendServerPolicies: [{ instancePort, policyNames: ["pp"] }],
  };
}

/** A back end that, once the client half-closes, answers with every byte it received. */
function recorder(): Server {
  return createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on("error", () => {});
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => s.end(Buffer.concat(chunks)));
  });
}

/** Sends `msg`, half-closes, and returns what came back and the client's own port. */
async function roundTrip(
  host: string,
  port: number,
  msg: string,
  localAddress?: string,
): Promise<{ reply: string; clientPort: number }> {
  const s: Socket = connect({ host, port, allowHalfOpen: true, ...(localAddress ? { localAddress } : {}) });
  await once(s, "connect");
  const clientPort = s.localPort ?? 0;
  let reply = "";
  s.on("data", (d: Buffer) => {
    reply += d.toString("latin1");
  });
  s.end(msg);
  await Promise.race([
    once(s, "close"),
    new Promise((_, rej) => setTimeout(() => rej(new Error(`no close; got ${reply}`)), 3000).unref()),
  ]);
  return { reply, clientPort };
}

async function runtimeFor(
  node: string,
  listener: (port: number, instancePort: number) => Listener,
  backendHost: string,
  server: Server,
): Promise<{ runtime: ProxyRuntime; port: number; spec: NodeSource }> {
  await listen(server, backendHost);
  const bp = portOf(server);
  const port = await freePort(node);
  const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
  cleanups.push(async () => {
    await runtime.close();
    await closeServer(server);
  });
  const spec = lbSpec(
    "pp",
    [listener(port, bp)],
    [backend("i-1", backendHost)],
    fastHealthCheck(`TCP:${bp}`),
  );
  return { runtime, port, spec };
}

describe("Proxy Protocol helpers", () => {
  it("formats the version 1 line by address family", () => {
    assert.equal(
      proxyProtocolHeader("198.51.100.22", 35646, "203.0.113.7", 80),
      "PROXY TCP4 198.51.100.22 203.0.113.7 35646 80\r\n",
    );
    assert.equal(
      proxyProtocolHeader("2001:db8::1", 1, "2001:db8::2", 443),
      "PROXY TCP6 2001:db8::1 2001:db8::2 1 443\r\n",
    );
    assert.equal(
      proxyProtocolHeader("::ffff:192.0.2.1", 5, "::ffff:192.0.2.2", 80),
      "PROXY TCP4 192.0.2.1 192.0.2.2 5 80\r\n",
    );
    assert.equal(proxyProtocolHeader("2001:db8::1", 1, "192.0.2.2", 80), "PROXY UNKNOWN\r\n");
    assert.equal(proxyProtocolHeader(undefined, 1, "192.0.2.2", 80), "PROXY UNKNOWN\r\n");
  });

  it("is on only for a true ProxyProtocolPolicyType policy set on that instance port", () => {
    /** Whether the resolved spec of a TCP listener to `instancePort` sends the PROXY line. */
    const proxyProtocolFor = (src: NodeSource, instancePort: number): boolean =>
      resolveNode({
        ...src,
        listeners: [{ protocol: "TCP", loadBalancerPort: 1, instanceProtocol: "TCP", instancePort }],
      }).listeners[0]?.upstream.proxyProtocol === true;
    const base = lbSpec("x", [], [], fastHealthCheck("TCP:80"));
    assert.equal(proxyProtocolFor(base, 80), false);
    assert.equal(proxyProtocolFor(withProxyProtocol(base, 80), 80), true);
    assert.equal(proxyProtocolFor(withProxyProtocol(base, 80, "TRUE"), 80), true);
    assert.equal(proxyProtocolFor(withProxyProtocol(base, 80), 81), false);
    assert.equal(proxyProtocolFor(withProxyProtocol(base, 80, "false"), 80), false);
    // The policy exists but no back-end server policy names it.
    assert.equal(proxyProtocolFor({ ...withProxyProtocol(base, 80), backendServerPolicies: [] }, 80), false);
    // A back-end server policy naming a policy that does not exist.
    assert.equal(proxyProtocolFor({ ...withProxyProtocol(base, 80), policies: [] }, 80), false);
  });
});

describe("Proxy Protocol on TCP listeners", () => {
  it("sends the PROXY line before the client's bytes", async () => {
    const node = "127.0.61.1";
    const { runtime, port, spec } = await runtimeFor(node, tcpListener, "127.0.61.2", recorder());
    const bp = spec.listeners[0]?.instancePort ?? 0;
    await runtime.apply(resolved([{ address: node, spec: withProxyProtocol(spec, bp) }]));
    await waitFor("InService", () => runtime.health()[0]?.state === "InService");
    const { reply, clientPort } = await roundTrip(node, port, "hello", "127.0.61.9");
    assert.equal(reply, `PROXY TCP4 127.0.61.9 ${node} ${clientPort} ${port}\r\nhello`);
  });

  it("sends nothing extra without the policy, or with ProxyProtocol=false", async () => {
    const node = "127.0.61.3";
    const { runtime, port, spec } = await runtimeFor(node, tcpListener, "127.0.61.4", recorder());
    const bp = spec.listeners[0]?.instancePort ?? 0;
    await runtime.apply(resolved([{ address: node, spec }]));
    await waitFor("InService", () => runtime.health()[0]?.state === "InService");
    assert.equal((await roundTrip(node, port, "plain")).reply, "plain");
    await runtime.apply(resolved([{ address: node, spec: withProxyProtocol(spec, bp, "false") }]));
    assert.equal((await roundTrip(node, port, "still plain")).reply, "still plain");
  });

  it("uses TCP6 for an IPv6 client", async () => {
    const node = "::1";
    const { runtime, port, spec } = await runtimeFor(node, tcpListener, "127.0.61.5", recorder());
    const bp = spec.listeners[0]?.instancePort ?? 0;
    await runtime.apply(resolved([{ address: node, spec: withProxyProtocol(spec, bp) }]));
    await waitFor("InService", () => runtime.health()[0]?.state === "InService");
    const { reply, clientPort } = await roundTrip(node, port, "six");
    assert.equal(reply, `PROXY TCP6 ::1 ::1 ${clientPort} ${port}\r\nsix`);
  });

  it("a policy added later applies to new connections; removing it stops it", async () => {
    const node = "127.0.61.6";
    const { runtime, port, spec } = await runtimeFor(node, tcpListener, "127.0.61.7", recorder());
    const bp = spec.listeners[0]?.instancePort ?? 0;
    await runtime.apply(resolved([{ address: node, spec }]));
    await waitFor("InService", () => runtime.health()[0]?.state === "InService");
    assert.equal((await roundTrip(node, port, "before")).reply, "before");
    await runtime.apply(resolved([{ address: node, spec: withProxyProtocol({ ...spec, revision: 2 }, bp) }]));
    const { reply, clientPort } = await roundTrip(node, port, "after", "127.0.61.9");
    assert.equal(reply, `PROXY TCP4 127.0.61.9 ${node} ${clientPort} ${port}\r\nafter`);
    await runtime.apply(resolved([{ address: node, spec: { ...spec, revision: 3 } }]));
    assert.equal((await roundTrip(node, port, "gone")).reply, "gone");
  });
});

describe("Proxy Protocol on SSL listeners with SSL back ends", () => {
  it("sends the PROXY line in the clear before the back end's TLS handshake", async () => {
    const lbCert = selfSignedCert("lb", { days: 2 });
    const beCert = selfSignedCert("be", { days: 2 });
    // Reads the PROXY line in the clear, then speaks TLS; answers "<line>|<decrypted bytes>".
    const lines: string[] = [];
    const server = createServer((raw) => {
      raw.on("error", () => {});
      let head = Buffer.alloc(0);
      const onData = (c: Buffer): void => {
        head = Buffer.concat([head, c]);
        const eol = head.indexOf("\r\n");
        if (eol < 0) return;
        raw.off("data", onData);
        raw.pause();
        lines.push(head.subarray(0, eol).toString("latin1"));
        raw.unshift(head.subarray(eol + 2));
        const tls = new TLSSocket(raw, { isServer: true, cert: beCert.cert, key: beCert.key });
        tls.on("error", () => {});
        tls.on("data", (d: Buffer) => tls.end(`${lines.at(-1)}|${d.toString()}`));
      };
      raw.on("data", onData);
    });
    const node = "127.0.61.10";
    const ssl = (port: number, instancePort: number): Listener => ({
      protocol: "SSL",
      loadBalancerPort: port,
      instanceProtocol: "SSL",
      instancePort,
      sslCertificateId: "arn:lb",
    });
    const { runtime, port, spec } = await runtimeFor(node, ssl, "127.0.61.11", server);
    const bp = spec.listeners[0]?.instancePort ?? 0;
    const full = withProxyProtocol(
      { ...spec, certificates: [{ arn: "arn:lb", certificateBody: lbCert.cert, privateKey: lbCert.key }] },
      bp,
    );
    await runtime.apply(resolved([{ address: node, spec: full }]));
    await waitFor("InService", () => runtime.health()[0]?.state === "InService");
    await waitFor("bound", () => runtime.nodes()[0]?.listeners[0]?.bound === true);
    const raw = connect({ host: node, port, localAddress: "127.0.61.9" });
    await once(raw, "connect");
    const clientPort = raw.localPort;
    const c = tlsConnect({ socket: raw, rejectUnauthorized: false });
    c.on("error", () => {});
    await once(c, "secureConnect");
    let reply = "";
    c.on("data", (d: Buffer) => {
      reply += d.toString();
    });
    c.write("secret");
    await Promise.race([
      once(c, "close"),
      new Promise((_, rej) => setTimeout(() => rej(new Error(`no close; got ${reply}`)), 3000).unref()),
    ]);
    assert.equal(reply, `PROXY TCP4 127.0.61.9 ${node} ${clientPort} ${port}|secret`);
  });
});
