import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { NodeLoadBalancer } from "../../src/model/agent-protocol.js";
import { DEFAULT_ATTRIBUTES } from "../../src/model/attributes.js";
import { fileTime } from "../../src/proxy/access-log.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import {
  backend,
  closeServer,
  echoBackends,
  fastHealthCheck,
  fetchRaw,
  freePort,
  httpListener,
  lbSpec,
  waitFor,
} from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** The 15 space-separated fields of a Classic ELB access-log line (two of them quoted). */
const LINE =
  /^(\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" (\S+) (\S+)$/;

function withAccessLog(spec: NodeLoadBalancer, enabled: boolean, emitInterval = 5): NodeLoadBalancer {
  return { ...spec, attributes: { ...DEFAULT_ATTRIBUTES, accessLog: { enabled, emitInterval } } };
}

async function setup(node: string, backendHost: string) {
  const dir = await mkdtemp(join(tmpdir(), "ballast-access-log-"));
  const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a", accessLogDir: dir });
  const [b] = await echoBackends([backendHost]);
  assert.ok(b);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await runtime.close();
  };
  cleanups.push(async () => {
    await close();
    await closeServer(b.server);
    await rm(dir, { recursive: true, force: true });
  });
  const port = await freePort(node);
  const spec = lbSpec(
    "logs",
    [httpListener(port, b.port)],
    [backend("i-1", backendHost)],
    fastHealthCheck(`HTTP:${b.port}/health`),
  );
  return { dir, runtime, port, spec, close };
}

describe("access logs", () => {
  it("one Classic ELB line per request, in a file named as ELB names it, flushed on close", async () => {
    const node = "127.0.18.10";
    const { dir, runtime, port, spec, close } = await setup(node, "127.0.18.11");
    const emptyPort = await freePort(node);
    const empty = withAccessLog(
      lbSpec("empty", [httpListener(emptyPort, 1)], [], fastHealthCheck("TCP:1")),
      true,
    );
    const before = Date.now();
    await runtime.apply([
      { address: node, spec: withAccessLog(spec, true) },
      { address: node, spec: empty },
    ]);
    await waitFor("InService", () => runtime.health().some((h) => h.state === "InService"));

    const get = await fetchRaw(node, port, "/path?q=1", { headers: { "User-Agent": "test-agent/1.0" } });
    assert.equal(get.status, 200);
    const post = await fetchRaw(node, port, "/echo", { method: "POST", body: Buffer.from("hello") });
    assert.equal(post.body.toString(), "hello");
    const none = await fetchRaw(node, emptyPort, "/");
    assert.equal(none.status, 503);
    await close();

    const files = await readdir(join(dir, "logs"));
    assert.equal(files.length, 1);
    const name = files[0] ?? "";
    const m =
      /^000000000000_elasticloadbalancing_us-east-1_logs_(\d{8}T\d{4}Z)_127\.0\.18\.10_[0-9a-f]{8}\.log$/.exec(
        name,
      );
    assert.ok(m, name);
    // The interval's start: a multiple of 5 minutes, at or before the first request.
    const start = Math.floor(before / 300_000) * 300_000;
    assert.ok(
      m[1] === fileTime(start) || m[1] === fileTime(start + 300_000),
      `${m[1]} vs ${fileTime(start)}`,
    );
    assert.equal(Number(m[1]?.slice(11, 13)) % 5, 0);

    const lines = (await readFile(join(dir, "logs", name), "utf8")).trimEnd().split("\n");
    assert.equal(lines.length, 2);
    const [g, p] = lines.map((l) => LINE.exec(l));
    assert.ok(g && p, lines.join("\n"));
    assert.ok(Math.abs(Date.parse(g[1] ?? "") - Date.now()) < 60_000, g[1]);
    assert.match(g[1] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(g[2], "logs");
    assert.match(g[3] ?? "", /^127\.0\.0\.1:\d+$/);
    assert.match(g[4] ?? "", /^127\.0\.18\.11:\d+$/);
    assert.match(g[6] ?? "", /^\d+\.\d{6}$/);
    assert.deepEqual(g.slice(8, 12), ["200", "200", "0", "2"]); // the back end answers "b0"
    assert.equal(g[12], `GET http://${node}:${port}/path?q=1 HTTP/1.1`);
    assert.equal(g[13], "test-agent/1.0");
    assert.deepEqual(g.slice(14), ["-", "-"]);
    assert.deepEqual(p.slice(8, 12), ["200", "200", "5", "5"]);
    assert.equal(p[13], "-");

    const emptyFiles = await readdir(join(dir, "empty"));
    assert.equal(emptyFiles.length, 1);
    const e = LINE.exec((await readFile(join(dir, "empty", emptyFiles[0] ?? ""), "utf8")).trimEnd());
    assert.ok(e);
    assert.deepEqual(e.slice(4, 10), ["-", "-1", "-1", "-1", "503", "-"]);
    assert.ok(Number(e[11]) > 0);
  });

  it("disabled: no file; turning it off closes the file and writes no more", async () => {
    const node = "127.0.18.20";
    const { dir, runtime, port, spec } = await setup(node, "127.0.18.21");
    await runtime.apply([{ address: node, spec: withAccessLog(spec, false) }]);
    await waitFor("InService", () => runtime.health().some((h) => h.state === "InService"));
    assert.equal((await fetchRaw(node, port, "/")).status, 200);
    assert.deepEqual(await readdir(dir), []);

    await runtime.apply([{ address: node, spec: withAccessLog(spec, true, 60) }]);
    assert.equal((await fetchRaw(node, port, "/")).status, 200);
    await runtime.apply([{ address: node, spec: withAccessLog(spec, false) }]);
    assert.equal((await fetchRaw(node, port, "/")).status, 200);
    const files = await readdir(join(dir, "logs"));
    assert.equal(files.length, 1);
    assert.match(files[0] ?? "", /_\d{8}T\d\d00Z_127\.0\.18\.20_/);
    // Closing is asynchronous: the one line recorded while enabled reaches the file.
    let text = "";
    for (let i = 0; i < 100 && text === ""; i++) {
      text = await readFile(join(dir, "logs", files[0] ?? ""), "utf8");
      if (text === "") await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(text.trimEnd().split("\n").length, 1);
  });
});
