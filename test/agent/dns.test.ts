import assert from "node:assert/strict";
import { Resolver } from "node:dns/promises";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { AgentDns, DNS_RECORDS_FILE, type ServedNodes } from "../../src/agent/dns.js";
import { DnsResponder } from "../../src/dns/responder.js";
import type { NodeReport } from "../../src/model/agent-protocol.js";
import { silentLogger } from "../../src/util/logger.js";

const WEB = "web-1.us-east-1.elb.ballast.internal";
const API = "api-2.us-east-1.elb.ballast.internal";

/** What the agent runs: `lbs` by DNS name, with its own nodes. */
function served(
  lbs: Record<string, string>,
  nodes: NodeReport[],
): ServedNodes & { lbs: Record<string, string>; nodes: () => NodeReport[]; set(n: NodeReport[]): void } {
  let current = nodes;
  return {
    lbs,
    dnsNames: () => new Map(Object.entries(lbs)),
    nodes: () => current,
    set(n) {
      current = n;
    },
  };
}

const node = (loadBalancer: string, address: string, routableInService: number): NodeReport => ({
  loadBalancer,
  address,
  routableInService,
  listeners: [],
});

describe("an agent's DNS answers", () => {
  it("answers with every node the control plane published, its own included", async () => {
    const dns = new AgentDns(
      mkdtempSync(join(tmpdir(), "ballast-dns-")),
      served({ [WEB]: "web" }, [node("web", "127.0.1.1", 1)]),
    );
    await dns.accept({ dns: [{ name: WEB, addresses: ["127.0.1.1", "127.0.2.1"] }] });
    assert.deepEqual(dns.resolve(WEB), ["127.0.1.1", "127.0.2.1"]);
    assert.deepEqual(
      dns.resolve(`${WEB.toUpperCase()}.`),
      ["127.0.1.1", "127.0.2.1"],
      "case and the root dot do not matter",
    );
    assert.equal(dns.resolve("other.us-east-1.elb.ballast.internal"), undefined, "not served: NXDOMAIN");
  });

  it("leaves its own node out while it cannot serve, unless nothing would be left", async () => {
    const s = served({ [WEB]: "web" }, [node("web", "127.0.1.1", 0)]);
    const dns = new AgentDns(mkdtempSync(join(tmpdir(), "ballast-dns-")), s);
    await dns.accept({ dns: [{ name: WEB, addresses: ["127.0.1.1", "127.0.2.1"] }] });
    assert.deepEqual(dns.resolve(WEB), ["127.0.2.1"]);
    await dns.accept({ dns: [{ name: WEB, addresses: ["127.0.1.1"] }] });
    assert.deepEqual(dns.resolve(WEB), ["127.0.1.1"], "fails open");
  });

  it("answers with its own node for a load balancer it serves and has no record for yet", () => {
    const dns = new AgentDns(
      mkdtempSync(join(tmpdir(), "ballast-dns-")),
      served({ [API]: "api" }, [node("api", "127.0.1.7", 1)]),
    );
    assert.deepEqual(dns.resolve(API), ["127.0.1.7"]);
  });

  it("keeps the record of a load balancer it still serves when the control plane stops publishing it", async () => {
    const s = served({ [WEB]: "web" }, [node("web", "127.0.1.1", 1)]);
    const dns = new AgentDns(mkdtempSync(join(tmpdir(), "ballast-dns-")), s);
    await dns.accept({ dns: [{ name: WEB, addresses: ["127.0.1.1", "127.0.2.1"] }] });
    // The store lost the load balancer: the control plane publishes nothing for it.
    await dns.accept({ dns: [] });
    assert.deepEqual(dns.resolve(WEB), ["127.0.1.1", "127.0.2.1"]);
    // Removed explicitly from the agent: its record goes with it.
    delete s.lbs[WEB];
    await dns.accept({ dns: [] });
    assert.equal(dns.resolve(WEB), undefined);
  });

  it("keeps its records on disk (0600), so a restarted agent answers before it reaches the control plane", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-dns-"));
    const s = served({ [WEB]: "web" }, [node("web", "127.0.1.1", 1)]);
    await new AgentDns(dir, s).accept({ dns: [{ name: WEB, addresses: ["127.0.1.1", "127.0.2.1"] }] });
    assert.equal(statSync(join(dir, DNS_RECORDS_FILE)).mode & 0o777, 0o600);
    assert.match(readFileSync(join(dir, DNS_RECORDS_FILE), "utf8"), /127\.0\.2\.1/);
    const restarted = new AgentDns(dir, s);
    await restarted.load();
    assert.deepEqual(restarted.resolve(WEB), ["127.0.1.1", "127.0.2.1"]);
  });
});

describe("an agent's DNS responder", () => {
  it("answers what it serves, and REFUSED for a name of the zone it does not, so a resolver asks the next server", async () => {
    const dns = new AgentDns(
      mkdtempSync(join(tmpdir(), "ballast-dns-")),
      served({ [WEB]: "web" }, [node("web", "127.0.1.1", 1)]),
    );
    const responder = new DnsResponder({
      host: "127.0.0.1",
      port: 0,
      domain: "elb.ballast.internal",
      resolve: async (name) => dns.resolve(name),
      unknownName: "refused",
      logger: silentLogger,
    });
    const { udpPort } = await responder.start();
    try {
      const r = new Resolver({ timeout: 1000, tries: 1 });
      r.setServers([`127.0.0.1:${udpPort}`]);
      assert.deepEqual(await r.resolve4(WEB), ["127.0.1.1"]);
      await assert.rejects(r.resolve4(API), { code: "EREFUSED" });
    } finally {
      await responder.close();
    }
  });
});
