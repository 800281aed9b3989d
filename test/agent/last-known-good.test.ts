import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import {
  type LastKnownGood,
  LKG_FILE,
  readLastKnownGood,
  writeLastKnownGood,
} from "../../src/agent/last-known-good.js";
import type { TlsContextSpec } from "../../src/model/node-spec.js";
import { silentLogger } from "../../src/util/logger.js";
import { SecretKey } from "../../src/util/secret-key.js";
import { closeServer, echoBackend, fetchRaw, freePort } from "../proxy/helpers.js";
import { aNodeSpec } from "../support/builders.js";
import { cleanupsAfterAll } from "../support/cleanups.js";

const cleanups = cleanupsAfterAll();
const dir = (): string => mkdtempSync(join(tmpdir(), "ballast-lkg-"));

/** A last-known-good file as agents of format 1 wrote it: the API's words, the revision as `version`. */
function formatOne(zone: string, port: number, backendPort: number, address: string) {
  return {
    format: 1,
    version: 41,
    zone,
    loadBalancers: [
      {
        name: "old",
        revision: 40,
        dnsName: "old-1.us-east-1.elb.ballast.internal",
        listeners: [
          {
            protocol: "HTTP",
            loadBalancerPort: port,
            instanceProtocol: "HTTP",
            instancePort: backendPort,
            policyNames: ["sticky"],
          },
        ],
        healthCheck: {
          target: `HTTP:${backendPort}/health`,
          interval: 5,
          timeout: 2,
          unhealthyThreshold: 2,
          healthyThreshold: 2,
        },
        backends: [{ instanceId: "i-1", address: "127.0.0.1", zone }],
        attributes: {
          crossZoneLoadBalancing: { enabled: true },
          connectionDraining: { enabled: false, timeout: 300 },
          connectionSettings: { idleTimeout: 30 },
          accessLog: { enabled: false, emitInterval: 60 },
          additionalAttributes: [],
        },
        policies: [
          {
            policyName: "sticky",
            policyTypeName: "LBCookieStickinessPolicyType",
            attributes: [{ name: "CookieExpirationPeriod", value: "120" }],
          },
        ],
        backendServerPolicies: [],
        certificates: [],
      },
    ],
    addresses: { old: address },
    savedAt: "2026-11-30T00:00:00.000Z",
  };
}

/** A snapshot as read, without the generation its write gave it (a fresh one each time). */
function withoutGeneration(lkg: LastKnownGood | undefined): Omit<LastKnownGood, "generation"> | undefined {
  if (lkg === undefined) return undefined;
  const { generation, ...rest } = lkg;
  assert.equal(typeof generation, "string", "a snapshot written now has a generation");
  return rest;
}

describe("last-known-good file", () => {
  it("round-trips format 2, written 0600", async () => {
    const d = dir();
    const lkg: LastKnownGood = {
      format: 2,
      revision: 7,
      zone: "us-east-1a",
      loadBalancers: [aNodeSpec({ name: "web" })],
      addresses: { web: "127.0.1.1" },
      savedAt: new Date().toISOString(),
    };
    await writeLastKnownGood(d, lkg);
    assert.equal(statSync(join(d, LKG_FILE)).mode & 0o777, 0o600);
    assert.deepEqual(withoutGeneration(await readLastKnownGood(d)), lkg);
  });

  it("is absent in a new data directory", async () => {
    assert.equal(await readLastKnownGood(dir()), undefined);
  });

  it("reads a format-1 file as format 2, every policy and attribute resolved", async () => {
    const d = dir();
    writeFileSync(join(d, LKG_FILE), JSON.stringify(formatOne("us-east-1a", 80, 8080, "127.0.1.9")));
    const lkg = await readLastKnownGood(d);
    assert.ok(lkg);
    assert.equal(lkg.format, 2);
    assert.equal(lkg.revision, 41);
    assert.deepEqual(lkg.addresses, { old: "127.0.1.9" });
    const spec = lkg.loadBalancers[0];
    assert.ok(spec);
    assert.equal(spec.crossZone, true);
    assert.equal(spec.listeners[0]?.idleTimeoutSeconds, 30);
    assert.deepEqual(spec.listeners[0]?.stickiness, { kind: "lb-cookie", maxAgeSeconds: 120 });
    assert.equal(spec.healthCheck.path, "/health");
  });

  it("refuses a file of another format or shape, naming it", async () => {
    for (const bad of [{ format: 3, revision: 1 }, { format: 2 }, { format: 1, version: -1 }, []]) {
      const d = dir();
      writeFileSync(join(d, LKG_FILE), JSON.stringify(bad));
      await assert.rejects(readLastKnownGood(d), new RegExp(`${LKG_FILE} is not a last-known-good file`));
    }
  });
});

describe("an agent upgraded over a format-1 last-known-good file", () => {
  it("serves it at start with no control plane, and rewrites nothing until a document arrives", async () => {
    const zone = "us-east-1a";
    const node = "127.0.13.1";
    const b = await echoBackend("b0", "127.0.0.1");
    cleanups.push(() => closeServer(b.server));
    const port = await freePort(node);
    const d = dir();
    const original = JSON.stringify(formatOne(zone, port, b.port, node));
    writeFileSync(join(d, LKG_FILE), original);
    const agent = new Agent({
      agentId: "upgrade-test",
      zone,
      pool: "127.0.13.0/24",
      dataDir: d,
      // Nothing listens here: the control plane is down.
      controlUrls: [`http://127.0.0.1:${await freePort("127.0.0.1")}`],
      token: "t",
      logger: silentLogger,
      pollWaitSeconds: 1,
    });
    cleanups.push(() => agent.stop());
    await agent.start();
    assert.equal(agent.revision, 41);
    const deadline = Date.now() + 5000;
    let last = "";
    for (;;) {
      const r = await fetchRaw(node, port, "/").catch((e: unknown) => ({ status: 0, error: String(e) }));
      if (r.status === 200) break;
      last = JSON.stringify(r).slice(0, 200);
      assert.ok(Date.now() < deadline, `the old file's load balancer never answered 200 (last: ${last})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(
      readFileSync(join(d, LKG_FILE), "utf8"),
      original,
      "no document: the file is left as it was",
    );
  });
});

describe("last-known-good file: TLS private keys at rest", () => {
  const KEY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDagentline";
  const PEM = `-----BEGIN PRIVATE KEY-----\n${KEY_LINE}\n-----END PRIVATE KEY-----\n`;
  function withTls(): LastKnownGood {
    const spec = aNodeSpec();
    const listener = spec.listeners[0];
    assert.ok(listener);
    const tls: TlsContextSpec = {
      certificateArn: "arn:aws:iam::000000000000:server-certificate/web",
      certificatePem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
      privateKey: PEM,
      policyName: "ELBSecurityPolicy-2016-08",
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.2",
      ciphers: "ECDHE-RSA-AES128-GCM-SHA256",
      honorCipherOrder: true,
      caveats: [],
    };
    return {
      format: 2,
      revision: 7,
      zone: "us-east-1a",
      loadBalancers: [{ ...spec, listeners: [{ ...listener, protocol: "HTTPS", tls }] }],
      addresses: { web: "127.0.1.1" },
      savedAt: new Date().toISOString(),
    };
  }

  it("seals the private key in the file with the agent's own key (0600), and reads it back plain", async () => {
    const d = dir();
    const lkg = withTls();
    await writeLastKnownGood(d, lkg);
    const text = readFileSync(join(d, LKG_FILE), "utf8");
    assert.ok(!text.includes(KEY_LINE), "the private key is not in the file");
    assert.match(text, /"privateKey":"enc:v1:/);
    assert.equal(statSync(join(d, LKG_FILE)).mode & 0o777, 0o600);
    assert.equal(statSync(join(d, "secret.key")).mode & 0o777, 0o600);
    assert.deepEqual(withoutGeneration(await readLastKnownGood(d)), lkg);
    // Another agent's key cannot open it.
    await assert.rejects(readLastKnownGood(d, SecretKey.generate("other agent")), /cannot decrypt/);
  });

  it("reads a file written before (plain key) as it is, and seals it on the next write", async () => {
    const d = dir();
    const lkg = withTls();
    writeFileSync(join(d, LKG_FILE), JSON.stringify(lkg), { mode: 0o600 });
    assert.deepEqual(await readLastKnownGood(d), lkg);
    await writeLastKnownGood(d, (await readLastKnownGood(d)) as LastKnownGood);
    assert.ok(!readFileSync(join(d, LKG_FILE), "utf8").includes(KEY_LINE));
  });
});
