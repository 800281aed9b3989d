/**
 * Desync mitigation modes on real sockets: one request of each http_desync_guardian class
 * through a listener in monitor, defensive and strictest mode, and what reaches the back end.
 * ELB's table: monitor allows all (Ambiguous and Severe on connections closed afterwards, both
 * sides); defensive allows Compliant and Acceptable, Ambiguous with the close, blocks Severe;
 * strictest allows only Compliant.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import type { DesyncMitigationMode } from "../../src/model/attributes.js";
import { type DesyncClass, isParseError, parseRequestHead } from "../../src/proxy/http1/request.js";
import { closeServer, listen, portOf, waitFor } from "./helpers.js";
import { get, header, healthy, RawClient, startListener, type TestListener } from "./raw-client.js";

const NODE = "127.0.72.1";

/** One request per class, for a path; each follows a rule of src/proxy/http1/request.ts. */
const SAMPLES: Record<DesyncClass, (path: string) => string> = {
  Compliant: (p) => get(p),
  // "GET or HEAD request with Content-Length: 0"
  Acceptable: (p) => get(p, "Content-Length: 0\r\n"),
  // "obsolete line folding" on a field that does not frame the body
  Ambiguous: (p) => get(p, "X-Folded: a\r\n b\r\n"),
  // "conflicting Content-Length and Transfer-Encoding"
  Severe: (p) =>
    `POST ${p} HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
};

type Outcome = "forward" | "forward+close" | "block";

const EXPECTED: Record<DesyncMitigationMode, Record<DesyncClass, Outcome>> = {
  monitor: {
    Compliant: "forward",
    Acceptable: "forward",
    Ambiguous: "forward+close",
    Severe: "forward+close",
  },
  defensive: { Compliant: "forward", Acceptable: "forward", Ambiguous: "forward+close", Severe: "block" },
  strictest: { Compliant: "forward", Acceptable: "block", Ambiguous: "block", Severe: "block" },
};

const CLASSES: readonly DesyncClass[] = ["Compliant", "Acceptable", "Ambiguous", "Severe"];

describe("desync mitigation modes", () => {
  /** The back-end socket each path arrived on. */
  const seen = new Map<string, Socket>();
  let backend: Server;
  let lb: TestListener;

  before(async () => {
    backend = createServer((req, res) => {
      seen.set(req.url ?? "", req.socket);
      req.resume();
      req.on("end", () => res.end(`seen ${req.url}`));
    });
    await listen(backend, "127.0.0.1");
    lb = await startListener({ address: NODE, backends: [healthy("i-a")], instancePort: portOf(backend) });
  });

  after(async () => {
    await lb.close();
    await closeServer(backend);
  });

  it("the samples are of the classes they stand for", () => {
    for (const cls of CLASSES) {
      const r = parseRequestHead(Buffer.from(SAMPLES[cls]("/x"), "latin1"), 0, { maxHeadBytes: 16384 });
      assert.ok(r !== null && !isParseError(r));
      assert.equal(r.desync, cls, r.desyncReason);
    }
  });

  for (const mode of ["monitor", "defensive", "strictest"] as const) {
    it(`${mode}: ${CLASSES.map((c) => `${c} ${EXPECTED[mode][c]}`).join(", ")}`, async () => {
      lb.configure({ desyncMode: mode });
      const nonCompliant = lb.metrics.desyncNonCompliant;
      const blocked = lb.metrics.elb4xx;
      let blocks = 0;
      for (const cls of CLASSES) {
        const path = `/${mode}/${cls}`;
        const what = `${mode} ${cls}`;
        const c = await RawClient.connect(NODE, lb.port);
        try {
          c.write(SAMPLES[cls](path));
          const r = await c.response();
          const outcome = EXPECTED[mode][cls];
          if (outcome === "block") {
            blocks++;
            assert.equal(r.status, 400, what);
            await c.waitClose(2000);
            assert.equal(seen.has(path), false, `${what} must not reach the back end`);
            continue;
          }
          assert.equal(r.status, 200, what);
          assert.equal(r.body.toString(), `seen ${path}`, what);
          const upstream = seen.get(path);
          assert.ok(upstream);
          if (outcome === "forward+close") {
            assert.equal(header(r, "connection")?.toLowerCase(), "close", what);
            await c.waitClose(2000);
            await waitFor(`${what}: the back-end connection closes`, () => upstream.destroyed, 2000);
          } else {
            // The connection goes on serving.
            c.write(get(`/${mode}/${cls}/next`));
            const next = await c.response();
            assert.equal(next.status, 200, `${what}: the connection is reused`);
            assert.equal(next.body.toString(), `seen /${mode}/${cls}/next`);
          }
        } finally {
          c.destroy();
        }
      }
      assert.equal(
        lb.metrics.desyncNonCompliant - nonCompliant,
        3,
        "DesyncMitigationMode_NonCompliant_Request_Count counts every non-Compliant request",
      );
      assert.equal(lb.metrics.elb4xx - blocked, blocks, "each block is an HTTPCode_ELB_4XX");
    });
  }

  it("monitor: a forwarded CL + TE request is framed by its chunked body; the smuggled GET /admin is never processed", async () => {
    lb.configure({ desyncMode: "monitor" });
    const c = await RawClient.connect(NODE, lb.port);
    try {
      c.write(
        "POST /monitor/smuggle HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "0\r\n\r\nGET /admin HTTP/1.1\r\nHost: lb.test\r\n\r\n",
      );
      const r = await c.response();
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), "seen /monitor/smuggle");
      await c.waitClose(2000);
      assert.equal(c.pending.length, 0, "no second response");
      assert.equal(seen.has("/admin"), false);
    } finally {
      c.destroy();
    }
  });
});
