import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  isResponseParseError,
  type ParsedResponse,
  parseResponseHead,
  responseBodyKind,
} from "../../src/proxy/http1/response.js";

const MAX = 64 * 1024;

function parse(raw: string, offset = 0): ParsedResponse {
  const r = parseResponseHead(Buffer.from(raw, "latin1"), offset, MAX);
  assert.ok(r !== null, "head is complete");
  assert.ok(!isResponseParseError(r), `parsed: ${isResponseParseError(r) ? r.error : ""}`);
  return r;
}

function error(raw: string, max = MAX): string | null {
  const r = parseResponseHead(Buffer.from(raw, "latin1"), 0, max);
  return r === null ? null : isResponseParseError(r) ? r.error : "";
}

const OK = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n";

describe("parseResponseHead", () => {
  it("parses a 200 with Content-Length", () => {
    const r = parse(`${OK}hello`);
    assert.equal(r.status, 200);
    assert.equal(r.reason, "OK");
    assert.equal(r.minor, 1);
    assert.deepEqual(r.headers, ["Content-Type", "text/plain", "Content-Length", "5"]);
    assert.equal(r.contentLength, 5);
    assert.equal(r.chunked, false);
    assert.equal(r.keepAlive, true);
    assert.equal(r.headLength, OK.length);
    assert.equal(responseBodyKind("GET", r), "length");
  });

  it("parses a chunked response", () => {
    const r = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert.equal(r.chunked, true);
    assert.equal(r.contentLength, -1);
    assert.equal(r.keepAlive, true);
    assert.equal(responseBodyKind("GET", r), "chunked");
    assert.equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n").chunked, true);
  });

  it("reads an HTTP/1.0 response without Content-Length to the close", () => {
    const r = parse("HTTP/1.0 200 OK\r\nServer: old\r\n\r\n");
    assert.equal(r.minor, 0);
    assert.equal(r.keepAlive, false);
    assert.equal(r.contentLength, -1);
    assert.equal(responseBodyKind("GET", r), "close");
  });

  it("reads an HTTP/1.1 response without framing to the close", () => {
    const r = parse("HTTP/1.1 200 OK\r\n\r\n");
    assert.equal(r.keepAlive, false);
    assert.equal(responseBodyKind("GET", r), "close");
  });

  it("keeps HTTP/1.0 alive only with keep-alive and a length", () => {
    assert.equal(
      parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keepAlive,
      true,
    );
    assert.equal(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n").keepAlive, false);
  });

  it("honours Connection: close", () => {
    const r = parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert.equal(r.keepAlive, false);
  });

  it("has no body for HEAD, 1xx, 204 and 304, and 2xx to CONNECT", () => {
    const rows: [string, string][] = [
      ["HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"],
      ["GET", "HTTP/1.1 204 No Content\r\n\r\n"],
      ["GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"],
      ["GET", "HTTP/1.1 100 Continue\r\n\r\n"],
      ["GET", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"],
      ["CONNECT", "HTTP/1.1 200 Connection Established\r\n\r\n"],
    ];
    for (const [method, raw] of rows) assert.equal(responseBodyKind(method, parse(raw)), "none", raw);
    assert.equal(parse("HTTP/1.1 204 No Content\r\n\r\n").keepAlive, true);
  });

  it("parses a 101 Switching Protocols", () => {
    const r = parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    assert.equal(r.status, 101);
    assert.equal(responseBodyKind("GET", r), "none");
  });

  it("reads to the close when Transfer-Encoding does not end in chunked", () => {
    const r = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    assert.equal(r.chunked, false);
    assert.equal(r.contentLength, -1);
    assert.equal(r.keepAlive, false);
    assert.equal(responseBodyKind("GET", r), "close");
  });

  it("accepts an empty or missing reason, bare LF, folding and repeated equal lengths", () => {
    assert.equal(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").reason, "");
    assert.equal(parse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").reason, "");
    assert.equal(parse("HTTP/1.1 404 Not Found Here\r\nContent-Length: 0\r\n\r\n").reason, "Not Found Here");
    const lf = "HTTP/1.1 200 OK\nContent-Length: 2\n\n";
    assert.equal(parse(lf).headLength, lf.length);
    assert.deepEqual(
      parse("HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n").headers.slice(0, 2),
      ["X", "a b"],
    );
    assert.equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n").contentLength, 4);
  });

  it("parses at a non-zero offset", () => {
    const first = `${OK}hello`;
    const second = "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n";
    const r = parse(first + second, first.length);
    assert.equal(r.status, 304);
    assert.equal(r.headLength, second.length);
  });

  it("finds the end of heads around and beyond the 2 KiB decoding window", () => {
    for (let pad = 1990; pad < 2060; pad++) {
      const head = `HTTP/1.1 200 OK\r\nX-Pad: ${"p".repeat(pad)}\r\nContent-Length: 3000\r\n\r\n`;
      const buf = Buffer.from(`${head}${"b".repeat(3000)}`, "latin1");
      const r = parseResponseHead(buf, 0, MAX);
      assert.ok(r && !isResponseParseError(r), `pad ${pad}`);
      assert.equal(r.headLength, head.length, `pad ${pad}`);
      assert.equal(r.contentLength, 3000);
    }
  });

  it("returns null at every split point of a valid head", () => {
    const buf = Buffer.from(`${OK}hello`, "latin1");
    for (let n = 0; n < OK.length; n++) {
      assert.equal(parseResponseHead(buf.subarray(0, n), 0, MAX), null, `split at ${n}`);
    }
  });

  const errors: [string, string, string][] = [
    ["four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"],
    ["two-digit status", "HTTP/1.1 20 OK\r\n\r\n", "malformed status line"],
    ["status below 100", "HTTP/1.1 099 Odd\r\n\r\n", "malformed status line"],
    ["letters for status", "HTTP/1.1 abc OK\r\n\r\n", "malformed status line"],
    ["no status", "HTTP/1.1\r\n\r\n", "malformed status line"],
    ["HTTP/2", "HTTP/2 200 OK\r\n\r\n", "malformed status line"],
    ["HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", "malformed status line"],
    ["not HTTP", "ICY 200 OK\r\n\r\n", "malformed status line"],
    ["not HTTP, incomplete", "SSH-2.0-Open", "malformed status line"],
    ["header without colon", "HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", "malformed header line"],
    ["space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", "invalid header name"],
    ["NUL in a value", "HTTP/1.1 200 OK\r\nX: a\x00\r\nContent-Length: 0\r\n\r\n", "NUL or CR"],
    ["invalid Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", "invalid Content-Length"],
    [
      "differing Content-Lengths",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "conflicting",
    ],
    ["folded Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n 5\r\n\r\n", "line folding"],
    [
      "Content-Length and Transfer-Encoding",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "both Content-Length and Transfer-Encoding",
    ],
    ["CR in the reason", "HTTP/1.1 200 O\rSet-Cookie: a=b\r\nContent-Length: 0\r\n\r\n", "reason phrase"],
    ["NUL in the reason", "HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n", "reason phrase"],
    ["too large, incomplete", `HTTP/1.1 200 OK\r\nX: ${"a".repeat(MAX)}`, "too large"],
    ["too large, complete", `HTTP/1.1 200 OK\r\nX: ${"a".repeat(MAX)}\r\n\r\n`, "too large"],
  ];
  for (const [name, raw, want] of errors) {
    it(`refuses ${name}`, () => {
      const e = error(raw);
      assert.ok(e?.includes(want), `error ${JSON.stringify(e)}`);
    });
  }
});
