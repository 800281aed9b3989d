/**
 * The Host header on raw sockets against a real HTTP listener: more than one Host field line,
 * or a Host that names another host than an absolute-form request-target, is a 400 and the
 * connection closes (RFC 9112 §3.2, §3.2.2; RFC 9110 §7.2). Nothing of such a request reaches
 * the back end; agreeing requests are forwarded as before.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { closeServer, listen, portOf } from "./helpers.js";
import { header, healthy, rawRequest, sleep, startListener, type TestListener } from "./raw-client.js";

const NODE = "127.0.72.1";

describe("HTTP listener: Host header rules", () => {
  const seen: { url: string; hosts: string[] }[] = [];
  let backend: Server;
  let lb: TestListener;

  before(async () => {
    backend = createServer((req, res) => {
      const hosts: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (req.rawHeaders[i]?.toLowerCase() === "host") hosts.push(req.rawHeaders[i + 1] ?? "");
      }
      seen.push({ url: req.url ?? "", hosts });
      req.resume();
      req.on("end", () => res.end(`ok ${req.url}`));
    });
    await listen(backend, "127.0.0.1");
    lb = await startListener({ address: NODE, backends: [healthy("i-a")], instancePort: portOf(backend) });
  });

  after(async () => {
    await lb.close();
    await closeServer(backend);
  });

  /** Sends `bytes`: a 400 comes back, the connection closes, the back end sees nothing. */
  async function refused(bytes: string): Promise<void> {
    const before = seen.length;
    const errors = lb.metrics.elb4xx;
    const { client, responses } = await rawRequest(NODE, lb.port, bytes);
    try {
      const r = responses[0];
      assert.ok(r);
      assert.equal(r.status, 400);
      assert.equal(header(r, "connection")?.toLowerCase(), "close");
      await client.waitClose(2000);
      assert.equal(client.pending.length, 0, "nothing follows the refusal");
    } finally {
      client.destroy();
    }
    await sleep(50);
    assert.deepEqual(seen.slice(before), [], "nothing reaches the back end");
    assert.equal(lb.metrics.elb4xx, errors + 1, "counted as the load balancer's 4xx");
  }

  /** Sends `bytes`: a 200 from the back end comes back. */
  async function forwarded(bytes: string): Promise<{ url: string; hosts: string[] }> {
    const before = seen.length;
    const { client, responses } = await rawRequest(NODE, lb.port, bytes);
    client.destroy();
    assert.equal(responses[0]?.status, 200);
    const got = seen.slice(before);
    assert.equal(got.length, 1);
    return got[0] as { url: string; hosts: string[] };
  }

  it("two Host headers with the same value: 400", async () => {
    await refused("GET / HTTP/1.1\r\nHost: lb.test\r\nHost: lb.test\r\n\r\n");
  });

  it("two Host headers with different values, in any case and apart: 400", async () => {
    await refused("GET / HTTP/1.1\r\nHost: lb.test\r\nAccept: */*\r\nhOST: evil.test\r\n\r\n");
  });

  it("two Host headers on a POST with a body: 400, the body is not forwarded", async () => {
    await refused("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nHost: b\r\n\r\nhello");
  });

  it("a Host that disagrees with an absolute-form target: 400", async () => {
    await refused("GET http://lb.test/x HTTP/1.1\r\nHost: evil.test\r\n\r\n");
    await refused("GET http://lb.test:8080/x HTTP/1.1\r\nHost: lb.test\r\n\r\n");
    await refused("GET https://user@lb.test/x HTTP/1.1\r\nHost: lb.test:8443\r\n\r\n");
  });

  it("a Host that agrees with an absolute-form target is forwarded", async () => {
    assert.deepEqual(await forwarded("GET http://lb.test/a?q=1 HTTP/1.1\r\nHost: LB.test\r\n\r\n"), {
      url: "http://lb.test/a?q=1",
      hosts: ["LB.test"],
    });
    // The scheme's default port on one side only is the same authority.
    assert.equal(
      (await forwarded("GET http://lb.test:80/b HTTP/1.1\r\nHost: lb.test\r\n\r\n")).url,
      "http://lb.test:80/b",
    );
    assert.equal(
      (await forwarded("GET HTTPS://lb.test/c HTTP/1.1\r\nHost: lb.test:443\r\n\r\n")).url,
      "HTTPS://lb.test/c",
    );
  });

  it("one Host header with an origin-form target is forwarded, as are requests without Host", async () => {
    assert.deepEqual(await forwarded("GET /plain HTTP/1.1\r\nHost: lb.test\r\n\r\n"), {
      url: "/plain",
      hosts: ["lb.test"],
    });
    assert.equal((await forwarded("GET /old HTTP/1.0\r\n\r\n")).url, "/old");
  });
});
