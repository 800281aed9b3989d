/**
 * The agent channel over TLS with agents' own keys, on a real HTTPS server (port 0) and a real
 * SQLite store: the control plane's own CA verifies, a client without it is refused by TLS; an
 * agent's key fixes its name and zone; a revoked key is 403, an unknown or wrong one 401; the
 * agent's ConfigClient polls through it with its CA.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigClient } from "../../src/agent/config-client.js";
import { AgentChannel } from "../../src/controller/agent-channel.js";
import { type AgentKey, agentBearer } from "../../src/model/agent-keys.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { hashAgentSecret, newAgentSecret } from "../../src/util/agent-secret.js";
import { ownTls } from "../../src/util/control-tls.js";
import { silentLogger } from "../../src/util/logger.js";
import { aLoadBalancer, meta } from "../support/builders.js";

const ZONE = "us-east-1a";

describe("AgentChannel over TLS with agents' own keys", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-agent-tls-"));
  const store = new SqliteStore(join(dir, "ballast.db"));
  const secret = newAgentSecret();
  const revokedSecret = newAgentSecret();
  let channel: AgentChannel;
  let base = "";
  let ca = "";

  function call(
    method: "GET" | "POST",
    path: string,
    auth: string,
    body?: string,
    withCa = true,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        `${base}${path}`,
        {
          method,
          headers: { authorization: `Bearer ${auth}`, "content-type": "application/json" },
          ...(withCa ? { ca } : {}),
        },
        (res) => {
          let text = "";
          res.on("data", (d: Buffer) => {
            text += d.toString();
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  before(async () => {
    const key = (name: string, s: string, revoked: boolean): AgentKey => ({
      name,
      zone: ZONE,
      secretHash: hashAgentSecret(s),
      createdTime: new Date().toISOString(),
      createdBy: "tester",
      ...(revoked ? { revokedTime: new Date().toISOString(), revokedBy: "tester" } : {}),
    });
    await store.mutate(meta("CreateAgentKey"), async (tx) => {
      tx.put("agentKey", "edge-1", key("edge-1", secret, false));
      tx.put("agentKey", "edge-2", key("edge-2", revokedSecret, true));
      tx.put("loadBalancer", "web", aLoadBalancer({ name: "web" }));
    });
    const tls = await ownTls(dir, "127.0.0.1");
    ca = readFileSync(tls.caFile as string, "utf8");
    channel = new AgentChannel({
      store,
      token: "shared-token-0123456789",
      zones: [ZONE, "us-east-1b"],
      logger: silentLogger,
      tls,
    });
    base = `https://127.0.0.1:${await channel.listen(0)}`;
  });

  after(async () => {
    await channel.close();
    await store.close();
  });

  it("keeps the CA key private and names the listening address in the certificate", async () => {
    assert.equal(statSync(join(dir, "ca", "ca.key")).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "ca", "server.key")).mode & 0o777, 0o600);
    const again = await ownTls(dir, "127.0.0.1");
    assert.equal(
      again.cert,
      (await ownTls(dir, "127.0.0.1")).cert,
      "the certificate is kept while the addresses stay",
    );
  });

  it("refuses a client that does not trust the control plane's CA", async () => {
    await assert.rejects(
      call("GET", `/agent/v1/config?zone=${ZONE}`, agentBearer("edge-1", secret), undefined, false),
      /self[- ]signed|unable to verify|certificate/i,
    );
  });

  it("serves an agent with its own key, and refuses a wrong, unknown or revoked one", async () => {
    assert.equal(
      (await call("GET", `/agent/v1/config?zone=${ZONE}&have=0`, agentBearer("edge-1", secret))).status,
      200,
    );
    assert.equal(
      (await call("GET", `/agent/v1/config?zone=${ZONE}`, agentBearer("edge-1", revokedSecret))).status,
      401,
    );
    assert.equal(
      (await call("GET", `/agent/v1/config?zone=${ZONE}`, agentBearer("edge-9", secret))).status,
      401,
    );
    const revoked = await call("GET", `/agent/v1/config?zone=${ZONE}`, agentBearer("edge-2", revokedSecret));
    assert.equal(revoked.status, 403);
    assert.match(revoked.text, /revoked/);
    const metrics = (await call("GET", "/metrics", "")).text;
    assert.match(metrics, /ballast_agent_channel_refusals_total\{reason="unauthorized"\} 2/);
    assert.match(metrics, /ballast_agent_channel_refusals_total\{reason="revoked"\} 1/);
  });

  it("holds an agent to the zone and name of its key", async () => {
    const other = await call("GET", "/agent/v1/config?zone=us-east-1b", agentBearer("edge-1", secret));
    assert.equal(other.status, 403);
    assert.match(other.text, /for zone us-east-1a, not us-east-1b/);
    const status = (agentId: string) =>
      JSON.stringify({ agentId, zone: ZONE, configRevision: 0, nodes: [], health: [], unexplained: [] });
    assert.equal(
      (await call("POST", "/agent/v1/status", agentBearer("edge-1", secret), status("edge-7"))).status,
      403,
    );
    assert.equal(
      (await call("POST", "/agent/v1/status", agentBearer("edge-1", secret), status("edge-1"))).status,
      204,
    );
  });

  it("is what the agent's ConfigClient polls, verifying with its CA", async () => {
    const client = new ConfigClient({
      controlUrls: [base],
      token: agentBearer("edge-1", secret),
      zone: ZONE,
      agentId: "edge-1",
      ca,
    });
    const r = await client.poll(0, 0, new AbortController().signal);
    assert.equal(r.kind, "config");
    const untrusting = new ConfigClient({
      controlUrls: [base],
      token: agentBearer("edge-1", secret),
      zone: ZONE,
    });
    await assert.rejects(untrusting.poll(0, 0, new AbortController().signal));
  });
});
