import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { DEFAULT_ATTRIBUTES } from "../../src/model/attributes.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
import {
  backend,
  closeServer,
  type EchoBackend,
  echoBackends,
  fastHealthCheck,
  fetchRaw,
  freePort,
  httpListener,
  lbSpec,
  tcpListener,
  waitFor,
} from "./helpers.js";

const NODE = "127.0.12.1";

/** Resolves with how long after the call `socket` closed. */
async function closedAfter(socket: Socket): Promise<number> {
  const t0 = performance.now();
  if (!socket.destroyed) await once(socket, "close");
  return performance.now() - t0;
}

describe("idle timeout from connectionSettings.idleTimeout", () => {
  const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
  let b: EchoBackend | undefined;
  let httpPort = 0;
  let tcpPort = 0;
  /** A keep-alive client connection opened while the timeout was still ELB's default. */
  let early: Socket | undefined;

  const spec = (idleTimeout: number | null, revision: number) => {
    const bp = b?.port ?? 0;
    const s = lbSpec(
      "idle",
      [httpListener(httpPort, bp), tcpListener(tcpPort, bp)],
      [backend("i-a", "127.0.0.1")],
      fastHealthCheck(`HTTP:${bp}/health`),
      revision,
    );
    if (idleTimeout === null) return s;
    return { ...s, attributes: { ...DEFAULT_ATTRIBUTES, connectionSettings: { idleTimeout } } };
  };

  before(async () => {
    [b] = await echoBackends(["127.0.0.1"]);
    httpPort = await freePort(NODE);
    tcpPort = await freePort(NODE);
    await runtime.apply(resolved([{ address: NODE, spec: spec(null, 1) }]));
    await waitFor("back end InService", () => runtime.health().every((h) => h.state === "InService"));
    early = connect(httpPort, NODE);
    await once(early, "connect");
    early.write(`GET / HTTP/1.1\r\nHost: lb\r\n\r\n`);
    await once(early, "data");
    // Re-applied with a 1 s idle timeout: the listeners are kept, not rebound.
    await runtime.apply(resolved([{ address: NODE, spec: spec(1, 2) }]));
  });

  after(async () => {
    early?.destroy();
    await runtime.close();
    if (b !== undefined) await closeServer(b.server);
  });

  it("closes an idle client keep-alive connection after about 1 s", async () => {
    const s = connect(httpPort, NODE);
    s.on("error", () => {});
    await once(s, "connect");
    s.write(`GET / HTTP/1.1\r\nHost: lb\r\n\r\n`);
    const [chunk] = (await once(s, "data")) as [Buffer];
    assert.match(chunk.toString(), /^HTTP\/1\.1 200/);
    const ms = await closedAfter(s);
    assert.ok(ms > 700 && ms < 5000, `closed after ${Math.round(ms)} ms`);
  });

  it("applies on re-apply to a connection opened before it, without rebinding", async () => {
    assert.ok(early);
    assert.equal(early.destroyed, false, "the listener was not rebound");
    early.on("error", () => {});
    early.write(`GET / HTTP/1.1\r\nHost: lb\r\n\r\n`);
    await once(early, "data");
    const ms = await closedAfter(early);
    assert.ok(ms > 700 && ms < 5000, `closed after ${Math.round(ms)} ms`);
  });

  it("answers 504 when the back end sends nothing for 2 s", async () => {
    const t0 = performance.now();
    const r = await fetchRaw(NODE, httpPort, "/slow/2000");
    const ms = performance.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(ms > 700 && ms < 5000, `504 after ${Math.round(ms)} ms`);
  });

  it("closes an idle TCP connection after about 1 s", async () => {
    const s = connect(tcpPort, NODE);
    s.on("error", () => {});
    await once(s, "connect");
    const ms = await closedAfter(s);
    assert.ok(ms > 700 && ms < 5000, `closed after ${Math.round(ms)} ms`);
  });
});
