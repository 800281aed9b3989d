import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mergeConfig } from "../../src/agent/merge.js";
import type { AgentConfig } from "../../src/model/agent-protocol.js";
import { aNodeSpec } from "../support/builders.js";

const backend = (id: string) => ({ instanceId: id, address: "127.0.0.1", zone: "us-east-1a" });

function doc(overrides: Partial<AgentConfig>): AgentConfig {
  return { format: 2, revision: 10, zone: "us-east-1a", loadBalancers: [], removals: [], ...overrides };
}

describe("agent merge: removal is explicit, never inferred", () => {
  it("keeps a load balancer absent from the document and reports it as unexplained", () => {
    const running = [aNodeSpec({ name: "web" }), aNodeSpec({ name: "api" })];
    const r = mergeConfig(running, doc({ loadBalancers: [aNodeSpec({ name: "api", revision: 9 })] }));
    assert.deepEqual(
      r.running.map((l) => l.name),
      ["api", "web"],
    );
    assert.deepEqual(r.unexplained, ["web"]);
  });

  it("removes a load balancer only through an explicit removal", () => {
    const running = [aNodeSpec({ name: "web" })];
    const r = mergeConfig(
      running,
      doc({ removals: [{ kind: "loadBalancer", loadBalancer: "web", key: "web", revision: 9 }] }),
    );
    assert.deepEqual(r.running, []);
    assert.deepEqual(r.unexplained, []);
  });

  it("keeps listeners and back ends the new spec omits unless they are removed explicitly", () => {
    const old = aNodeSpec({
      listeners: [
        { protocol: "HTTP", loadBalancerPort: 80, instanceProtocol: "HTTP", instancePort: 8080 },
        { protocol: "TCP", loadBalancerPort: 9000, instanceProtocol: "TCP", instancePort: 9000 },
      ],
      backends: [backend("i-1"), backend("i-2"), backend("i-3")],
    });
    const next = aNodeSpec({ revision: 5, backends: [backend("i-1")] });
    const r = mergeConfig(
      [old],
      doc({
        loadBalancers: [next],
        removals: [{ kind: "backend", loadBalancer: "web", key: "i-2", revision: 5 }],
      }),
    );
    const lb = r.running[0];
    assert.ok(lb);
    assert.deepEqual(
      lb.listeners.map((l) => l.port),
      [80, 9000],
    );
    assert.deepEqual(
      lb.backends.map((b) => b.instanceId),
      ["i-1", "i-3"],
    );
    assert.deepEqual(r.unexplained, ["web/listener/9000", "web/backend/i-3"]);
  });

  it("takes the new spec as is when it removes everything it omits", () => {
    const old = aNodeSpec({ backends: [backend("i-1"), backend("i-2")] });
    const next = aNodeSpec({ revision: 5, backends: [backend("i-1")] });
    const r = mergeConfig(
      [old],
      doc({
        loadBalancers: [next],
        removals: [{ kind: "backend", loadBalancer: "web", key: "i-2", revision: 5 }],
      }),
    );
    assert.equal(r.running[0], next);
    assert.deepEqual(r.unexplained, []);
  });
});
