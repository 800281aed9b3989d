import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
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

const NODE = "127.0.11.1";

/** Echo server that prefixes its name; on the client's FIN it sends "bye" and ends (half-close). */
function tcpEcho(name: string): Server {
  return createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    s.on("data", (d) => s.write(`${name}:${d.toString()}`));
    s.on("end", () => s.end(`${name}:bye`));
  });
}

async function echoPair(): Promise<Server[]> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const a = await listen(tcpEcho("a"), "127.0.0.1");
    try {
      const b = await listen(tcpEcho("b"), "127.0.0.2", portOf(a));
      return [a, b];
    } catch {
      await closeServer(a);
    }
  }
  throw new Error("no common port");
}

/** Sends `msg`, half-closes, and collects everything until the proxy closes. */
async function converse(port: number, msg: string): Promise<string> {
  const s: Socket = connect({ port, host: NODE, allowHalfOpen: true });
  await once(s, "connect");
  let got = "";
  s.on("data", (d: Buffer) => {
    got += d.toString();
    if (got.includes(msg)) s.end();
  });
  s.write(msg);
  await Promise.race([
    once(s, "close"),
    new Promise((_, rej) => setTimeout(() => rej(new Error(`no close; got ${got}`)), 3000).unref()),
  ]);
  return got;
}

describe("TCP listener", () => {
  const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
  let servers: Server[] = [];
  let port = 0;

  before(async () => {
    servers = await echoPair();
    const bp = portOf(servers[0] as Server);
    port = await freePort(NODE);
    await runtime.apply(
      resolved([
        {
          address: NODE,
          spec: lbSpec(
            "tcp",
            [tcpListener(port, bp)],
            [backend("i-a", "127.0.0.1"), backend("i-b", "127.0.0.2")],
            fastHealthCheck(`TCP:${bp}`),
          ),
        },
      ]),
    );
    await waitFor("InService", () => runtime.health().every((h) => h.state === "InService"));
  });

  after(async () => {
    await runtime.close();
    for (const s of servers) await closeServer(s);
  });

  it("echoes through the proxy, round robin, and passes half-close both ways", async () => {
    const replies = [await converse(port, "hello"), await converse(port, "hello")];
    const names = replies.map((r) => r.slice(0, 1)).sort();
    assert.deepEqual(names, ["a", "b"]);
    for (const r of replies) {
      const n = r.slice(0, 1);
      assert.equal(r, `${n}:hello${n}:bye`, "data after the client's FIN still reaches the client");
    }
  });

  it("reports the listener bound", () => {
    assert.deepEqual(runtime.nodes()[0]?.listeners, [{ port, protocol: "TCP", bound: true }]);
  });

  it("closes the client when the back end resets", async () => {
    // Resets on the first byte, so a TCP health check (connect only) still passes. Its own
    // load balancer with one back end: any free port will do, none has to be shared.
    const rst = createServer((s) => {
      s.on("error", () => {});
      s.once("data", () => s.resetAndDestroy());
    });
    const rstPort = await freePort(NODE);
    await listen(rst, "127.0.0.3");
    const bp = portOf(rst);
    const rt = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
    try {
      await rt.apply(
        resolved([
          {
            address: NODE,
            spec: lbSpec(
              "rst",
              [tcpListener(rstPort, bp)],
              [backend("i-r", "127.0.0.3")],
              fastHealthCheck(`TCP:${bp}`),
            ),
          },
        ]),
      );
      await waitFor("InService", () => rt.health()[0]?.state === "InService");
      const s = connect(rstPort, NODE);
      s.on("error", () => {});
      s.write("x");
      await Promise.race([
        once(s, "close"),
        new Promise((_, rej) => setTimeout(() => rej(new Error("client not closed")), 3000).unref()),
      ]);
    } finally {
      await rt.close();
      await closeServer(rst);
    }
  });
});
