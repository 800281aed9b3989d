/**
 * `ballast up` and `ballast control` check every port they need before creating anything: a
 * busy port (TCP or the DNS responder's UDP, the control plane's or an agent's) is one line
 * naming it, what needed it and the flag that moves it, and no data directory is left behind.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ballast, MAIN_JS, oneLine } from "./support.js";

const octet = () => 2 + Math.floor(Math.random() * 250);

function tcp(host: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

function udp(host: string): Promise<{ socket: Socket; port: number }> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    socket.once("error", reject);
    socket.bind(0, host, () => resolve({ socket, port: socket.address().port }));
  });
}

describe("ballast up: ports checked before anything is created", () => {
  let dir: string;
  const held: (() => void)[] = [];
  // The agents' pools on a random 127.x.0.0/16 of this run, so their DNS addresses are ours.
  const x = octet();
  const agents = `us-east-1a=127.${x}.1.0/24,us-east-1b=127.${x}.2.0/24`;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "ballast-cli-ports-"));
  });
  after(() => {
    for (const h of held) h();
    rmSync(dir, { recursive: true, force: true });
  });

  const up = (dataDir: string, ...flags: string[]) =>
    ballast(["up", "--data-dir", dataDir, "--agents", agents, ...flags], {
      BALLAST_BOOTSTRAP_ACCESS_KEY_ID: "AKIAPORTSTEST0000001",
      BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: "ports-test-secret-0123456789abcdefghijk",
    });

  it("the API's TCP port in use: one line, exit 1, no data directory", async () => {
    const { server, port } = await tcp("127.0.0.1");
    held.push(() => server.close());
    const dataDir = join(dir, "api");
    const r = await up(dataDir, "--api-port", String(port), "--agent-port", "0", "--dns-port", "0");
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(
      oneLine(r.stderr),
      `ballast up: PortInUse: 127.0.0.1:${port}/tcp, for the AWS ELB API, is already in use (see 'ss -lntup | grep :${port}'; stop it or choose another port with --api-port)`,
    );
    assert.equal(existsSync(dataDir), false, "no data directory left behind");
  });

  it("the DNS responder's UDP port in use: named as UDP, with --dns-port", async () => {
    const { socket, port } = await udp("127.0.0.1");
    held.push(() => socket.close());
    const dataDir = join(dir, "dns");
    const r = await up(dataDir, "--api-port", "0", "--agent-port", "0", "--dns-port", String(port));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      oneLine(r.stderr),
      new RegExp(
        `^ballast up: PortInUse: 127\\.0\\.0\\.1:${port}/udp, for the DNS responder, .*--dns-port\\)$`,
      ),
    );
    assert.equal(existsSync(dataDir), false);
  });

  it("an agent's DNS address in use: the agent's zone is named", async () => {
    const agentDns = `127.${x}.2.254`;
    const { socket, port } = await udp(agentDns);
    held.push(() => socket.close());
    const dataDir = join(dir, "agent-dns");
    const r = await up(dataDir, "--api-port", "0", "--agent-port", "0", "--dns-port", String(port));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      oneLine(r.stderr),
      new RegExp(
        `^ballast up: PortInUse: ${agentDns.replace(/\./g, "\\.")}:${port}/udp, for the us-east-1b agent's DNS, `,
      ),
    );
    assert.equal(existsSync(dataDir), false);
  });

  it("one port given for two services is refused before either starts", async () => {
    const dataDir = join(dir, "twice");
    const r = await up(dataDir, "--api-port", "9700", "--agent-port", "9700", "--dns-port", "0");
    assert.equal(r.code, 1);
    assert.match(
      oneLine(r.stderr),
      /^ballast up: PortInUse: 127\.0\.0\.1:9700 is asked for both the AWS ELB API \(--api-port\) and the agent channel \(--agent-port\)/,
    );
    assert.equal(existsSync(dataDir), false);
  });

  it("free ports pass the check: ballast control starts on them and stops on SIGTERM", async () => {
    const host = `127.${octet()}.${octet()}.${octet()}`;
    const dataDir = join(dir, "control");
    const proc = spawn(
      process.execPath,
      [
        MAIN_JS,
        "control",
        "--host",
        host,
        "--data-dir",
        dataDir,
        "--api-port",
        "9700",
        "--agent-port",
        "9701",
        "--dns-port",
        "8053",
      ],
      { env: { ...process.env, BALLAST_LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    proc.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
    held.push(() => proc.kill("SIGKILL"));
    const deadline = Date.now() + 30_000;
    while (!out.includes("control plane: API") && proc.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(
      out,
      new RegExp(
        `control plane: API http://${host.replace(/\./g, "\\.")}:9700, agent channel https://${host.replace(/\./g, "\\.")}:9701, DNS ${host.replace(/\./g, "\\.")}:8053`,
      ),
    );
    proc.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.ok(existsSync(dataDir));
  });
});
