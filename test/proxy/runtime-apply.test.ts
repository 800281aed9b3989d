import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NodeSource } from "../../src/model/resolve-node.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import {
  backend,
  closeServer,
  echoBackends,
  fastHealthCheck,
  freePort,
  httpListener,
  lbSpec,
  tcpListener,
  waitFor,
} from "./helpers.js";
import { get, header, RawClient } from "./raw-client.js";

const cleanups = cleanupsAfterAll();

/** A runtime serving load balancer "lb" with two HTTP listeners on `node` to one echo back end. */
async function twoListeners(node: string) {
  const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
  const [b] = await echoBackends(["127.0.0.1"]);
  assert.ok(b);
  cleanups.push(async () => {
    await runtime.close();
    await closeServer(b.server);
  });
  const a = await freePort(node);
  let other = await freePort(node);
  while (other === a) other = await freePort(node);
  const base = lbSpec(
    "lb",
    [httpListener(a, b.port), httpListener(other, b.port)],
    [backend("i-1")],
    fastHealthCheck(`TCP:${b.port}`),
  );
  await runtime.apply(resolved([{ address: node, spec: base }]));
  await waitFor("InService", () => runtime.health()[0]?.state === "InService");
  await waitFor("bound", () => runtime.nodes()[0]?.listeners.every((l) => l.bound) === true);
  return { runtime, base, a, other, backendPort: b.port };
}

/** `base` with an LB-cookie stickiness policy on the listener at `port`. */
function sticky(base: NodeSource, port: number): NodeSource {
  return {
    ...base,
    revision: base.revision + 1,
    listeners: base.listeners.map((l) => (l.loadBalancerPort === port ? { ...l, policyNames: ["s"] } : l)),
    policies: [
      {
        policyName: "s",
        policyTypeName: "LBCookieStickinessPolicyType",
        attributes: [{ name: "CookieExpirationPeriod", value: "60" }],
      },
    ],
  };
}

describe("ProxyRuntime.apply: one listener changes, the others are left alone", () => {
  it("a changed listener takes its new spec on the open connection; an unchanged one keeps serving on its own", async () => {
    const node = "127.0.12.1";
    const { runtime, base, a, other } = await twoListeners(node);
    const onA = await RawClient.connect(node, a);
    const onOther = await RawClient.connect(node, other);
    cleanups.push(() => {
      onA.destroy();
      onOther.destroy();
    });
    onA.write(get("/1"));
    onOther.write(get("/1"));
    assert.equal(header(await onA.response(), "set-cookie"), undefined);
    assert.equal(header(await onOther.response(), "set-cookie"), undefined);

    await runtime.apply(resolved([{ address: node, spec: sticky(base, a) }]));

    // The same two connections: the changed listener now sticks, the unchanged one does not.
    onA.write(get("/2"));
    onOther.write(get("/2"));
    const ra = await onA.response();
    const ro = await onOther.response();
    assert.equal(ra.status, 200);
    assert.match(header(ra, "set-cookie") ?? "", /^AWSELB=[0-9A-F]{40};PATH=\/;MAX-AGE=60$/);
    assert.equal(ro.status, 200);
    assert.equal(header(ro, "set-cookie"), undefined);
    assert.equal(onA.closed || onOther.closed, false, "both connections stay open across the apply");
  });

  it("a listener whose protocol changes is replaced whole on its port", async () => {
    const node = "127.0.12.2";
    const { runtime, base, a, other, backendPort } = await twoListeners(node);
    const onOther = await RawClient.connect(node, other);
    cleanups.push(() => onOther.destroy());
    const asTcp: NodeSource = {
      ...base,
      revision: 2,
      listeners: [tcpListener(a, backendPort), httpListener(other, backendPort)],
    };
    await runtime.apply(resolved([{ address: node, spec: asTcp }]));
    await waitFor("rebound", () => runtime.nodes()[0]?.listeners[0]?.bound === true);
    assert.equal(runtime.nodes()[0]?.listeners[0]?.protocol, "TCP");

    // The new TCP listener relays the bytes; the back end answers the HTTP it receives.
    const onA = await RawClient.connect(node, a);
    cleanups.push(() => onA.destroy());
    onA.write(get("/raw"));
    const relayed = await onA.response();
    assert.equal(relayed.status, 200);
    onOther.write(get("/still"));
    assert.equal((await onOther.response()).status, 200, "the unchanged listener's connection survives");
  });

  it("an HTTPS listener whose certificate is not in the spec is reported unbound", async () => {
    const node = "127.0.12.3";
    const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
    cleanups.push(() => runtime.close());
    const port = await freePort(node);
    const spec = lbSpec(
      "tls",
      [
        {
          protocol: "HTTPS",
          loadBalancerPort: port,
          instanceProtocol: "HTTP",
          instancePort: 1,
          sslCertificateId: "arn:x",
        },
      ],
      [],
      fastHealthCheck("TCP:1"),
    );
    await runtime.apply(resolved([{ address: node, spec }]));
    assert.deepEqual(runtime.nodes()[0]?.listeners, [{ port, protocol: "HTTPS", bound: false }]);
  });
});
