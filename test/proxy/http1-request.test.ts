import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type DesyncClass,
  isParseError,
  type ParsedRequest,
  parseRequestHead,
  type RequestLimits,
} from "../../src/proxy/http1/request.js";

const LIMITS: RequestLimits = { maxHeadBytes: 64 * 1024, maxTargetBytes: 8192 };

function parse(raw: string, limits: RequestLimits = LIMITS): ParsedRequest {
  const r = parseRequestHead(Buffer.from(raw, "latin1"), 0, limits);
  assert.ok(r !== null, "head is complete");
  assert.ok(!isParseError(r), `parsed: ${isParseError(r) ? r.reason : ""}`);
  return r;
}

function status(raw: string, limits: RequestLimits = LIMITS): number | null {
  const r = parseRequestHead(Buffer.from(raw, "latin1"), 0, limits);
  return r === null ? null : isParseError(r) ? r.error : 0;
}

const GET =
  "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5\r\nAccept: */*\r\n" +
  "Accept-Encoding: gzip\r\nCookie: a=b\r\nX-Request-Id: 42\r\n\r\n";

describe("parseRequestHead: fields", () => {
  it("parses a plain GET", () => {
    const r = parse(GET);
    assert.equal(r.method, "GET");
    assert.equal(r.target, "/index.html?q=1");
    assert.equal(r.minor, 1);
    assert.deepEqual(r.headers.slice(0, 4), ["Host", "example.com", "User-Agent", "curl/8.5"]);
    assert.equal(r.headers.length, 12);
    assert.equal(r.contentLength, -1);
    assert.equal(r.chunked, false);
    assert.equal(r.keepAlive, true);
    assert.equal(r.upgrade, false);
    assert.equal(r.host, "example.com");
    assert.equal(r.expectContinue, false);
    assert.equal(r.desync, "Compliant");
    assert.equal(r.desyncReason, "");
    assert.equal(r.headLength, GET.length);
  });

  it("parses a POST with Content-Length, the body outside the head", () => {
    const head = "POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    const r = parse(`${head}hello`);
    assert.equal(r.contentLength, 5);
    assert.equal(r.chunked, false);
    assert.equal(r.headLength, head.length);
    assert.equal(r.desync, "Compliant");
  });

  it("parses a chunked POST", () => {
    const r = parse(
      "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert.equal(r.chunked, true);
    assert.equal(r.contentLength, -1);
    assert.equal(r.desync, "Compliant");
  });

  it("parses an HTTP/1.0 GET without Host", () => {
    const r = parse("GET / HTTP/1.0\r\nAccept: */*\r\n\r\n");
    assert.equal(r.minor, 0);
    assert.equal(r.host, undefined);
    assert.equal(r.keepAlive, false);
  });

  it("keeps HTTP/1.0 alive only with Connection: keep-alive", () => {
    assert.equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAlive, true);
    assert.equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keepAlive, false);
  });

  it("honours Connection: close on HTTP/1.1, across several Connection headers", () => {
    assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keepAlive, false);
    assert.equal(parse("GET / HTTP/1.1\r\nConnection: foo\r\nConnection: Close\r\n\r\n").keepAlive, false);
    assert.equal(parse("GET / HTTP/1.1\r\nConnection: foo, bar\r\n\r\n").keepAlive, true);
  });

  it("recognises an Upgrade request", () => {
    const r = parse(
      "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n" +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert.equal(r.upgrade, true);
    assert.equal(parse("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n").upgrade, false);
    assert.equal(parse("GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n").upgrade, false);
  });

  it("recognises Expect: 100-continue", () => {
    const r = parse("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n");
    assert.equal(r.expectContinue, true);
    assert.equal(parse("PUT /f HTTP/1.1\r\nExpect: 200-ok\r\n\r\n").expectContinue, false);
  });

  it("returns null at every split point of a valid head", () => {
    for (const raw of [
      GET,
      "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
      "\r\nGET / HTTP/1.1\nA: b\n\n",
    ]) {
      const buf = Buffer.from(raw, "latin1");
      const headLength = parse(raw).headLength;
      for (let n = 0; n < headLength; n++) {
        assert.equal(parseRequestHead(buf.subarray(0, n), 0, LIMITS), null, `split at ${n}`);
      }
    }
  });

  it("finds the end of heads around and beyond the 2 KiB decoding window", () => {
    for (let pad = 1990; pad < 2060; pad++) {
      for (const eol of ["\r\n", "\n"]) {
        const head = `GET / HTTP/1.1${eol}X-Pad: ${"p".repeat(pad)}${eol}Host: h${eol}${eol}`;
        const buf = Buffer.from(`${head}${"b".repeat(3000)}`, "latin1");
        const r = parseRequestHead(buf, 0, LIMITS);
        assert.ok(r && !isParseError(r), `pad ${pad}`);
        assert.equal(r.headLength, head.length, `pad ${pad}`);
        assert.equal(r.host, "h");
        assert.equal(parseRequestHead(buf.subarray(0, head.length - 1), 0, LIMITS), null, `pad ${pad}`);
      }
    }
    const big = `GET / HTTP/1.1\r\nCookie: ${"c".repeat(20000)}\r\n\r\n`;
    assert.equal(parse(big).headLength, big.length);
  });

  it("accepts a head of exactly maxHeadBytes and refuses one byte more", () => {
    const head = "GET / HTTP/1.1\r\nX: aaaa\r\n\r\n";
    assert.equal(status(head, { maxHeadBytes: head.length }), 0);
    assert.equal(status(head, { maxHeadBytes: head.length - 1 }), 431);
    assert.equal(status(`\r\n${head}`, { maxHeadBytes: head.length + 2 }), 0);
  });

  it("skips empty lines before the request line", () => {
    const raw = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const r = parse(raw);
    assert.equal(r.method, "GET");
    assert.equal(r.headLength, raw.length);
    assert.equal(r.desync, "Compliant");
  });

  it("parses at a non-zero offset: a pipelined second request", () => {
    const first = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
    const second = "GET /b HTTP/1.1\r\nHost: b\r\n\r\n";
    const buf = Buffer.from(first + second, "latin1");
    const r1 = parseRequestHead(buf, 0, LIMITS);
    assert.ok(r1 && !isParseError(r1));
    const r2 = parseRequestHead(buf, r1.headLength + r1.contentLength, LIMITS);
    assert.ok(r2 && !isParseError(r2));
    assert.equal(r2.target, "/b");
    assert.equal(r2.host, "b");
    assert.equal(r2.headLength, second.length);
  });

  it("joins a folded value with one space and interns common methods", () => {
    const r = parse("POST / HTTP/1.1\r\nX-Long: a\r\n \t b\r\nX-Empty:\r\n\r\n");
    assert.deepEqual(r.headers, ["X-Long", "a b", "X-Empty", ""]);
    assert.equal(parse("PURGE /x HTTP/1.1\r\n\r\n").method, "PURGE");
  });
});

describe("parseRequestHead: refusals", () => {
  const long = "x".repeat(70 * 1024);
  const rows: [string, string, number | null, RequestLimits?][] = [
    ["oversize header, complete", `GET / HTTP/1.1\r\nX-Big: ${long}\r\n\r\n`, 431],
    ["oversize header, incomplete", `GET / HTTP/1.1\r\nX-Big: ${long}`, 431],
    ["oversize leading empty lines", "\r\n".repeat(40 * 1024), 431],
    ["long target, request line incomplete", `GET /${long}`, 414],
    ["long target, complete", `GET /${"y".repeat(9000)} HTTP/1.1\r\n\r\n`, 414],
    [
      "long target over the head limit, no target limit",
      `GET /${long} HTTP/1.1\r\n\r\n`,
      431,
      { maxHeadBytes: 65536 },
    ],
    ["long target within limit", `GET /${"y".repeat(8000)} HTTP/1.1\r\n\r\n`, 0],
    ["128-character method", `${"M".repeat(128)} / HTTP/1.1\r\n\r\n`, 405],
    ["128-character method, incomplete", "M".repeat(128), 405],
    ["127-character method", `${"M".repeat(127)} / HTTP/1.1\r\n\r\n`, 0],
    ["TLS handshake bytes", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400],
    ["method not a token", "G(T / HTTP/1.1\r\n\r\n", 400],
    ["HTTP/0.9 request line", "GET /\r\n\r\n", 400],
    ["two spaces", "GET  / HTTP/1.1\r\n\r\n", 400],
    ["trailing space", "GET / HTTP/1.1 \r\n\r\n", 400],
    ["space in target", "GET /a b HTTP/1.1\r\n\r\n", 400],
    ["control byte in target", "GET /a\x01 HTTP/1.1\r\n\r\n", 400],
    ["HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 400],
    ["HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", 400],
    ["lower-case version", "GET / http/1.1\r\n\r\n", 400],
    ["garbage version", "GET / HTTP/1.x\r\n\r\n", 400],
    ["header line without a colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 400],
    ["empty header name", "GET / HTTP/1.1\r\n: a\r\n\r\n", 400],
    ["fold before the first header", "GET / HTTP/1.1\r\n folded: a\r\n\r\n", 400],
    ["bare CR before the request line", "\rGET / HTTP/1.1\r\n\r\n", 400],
    ["only Content-Length is not a number", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400],
    ["only Content-Length is too big", "POST / HTTP/1.1\r\nContent-Length: 9007199254740992\r\n\r\n", 400],
    ["only Content-Length is empty", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400],
    ["all Content-Lengths invalid", "POST / HTTP/1.1\r\nContent-Length: a\r\nContent-Length: b\r\n\r\n", 400],
  ];
  for (const [name, raw, want, limits] of rows) {
    it(`${name} → ${want}`, () => assert.equal(status(raw, limits), want));
  }
});

describe("parseRequestHead: desync classification", () => {
  const P = "POST /p HTTP/1.1\r\nHost: a\r\n";
  /** A POST with these header lines. */
  const post = (...lines: string[]): string => `${P}${lines.join("\r\n")}\r\n\r\n`;
  const CL = "Content-Length";
  const TE = "Transfer-Encoding";
  const rows: [DesyncClass, string, string][] = [
    ["Severe", "conflicting Content-Length and Transfer-Encoding", post(`${CL}: 5`, `${TE}: chunked`)],
    ["Severe", "conflicting Content-Length and Transfer-Encoding", post(`${TE}: chunked`, `${CL}: 5`)],
    ["Severe", "conflicting Content-Length and Transfer-Encoding", post(`${CL}: +5`, `${TE}: chunked`)],
    ["Severe", "conflicting Content-Length values", post(`${CL}: 5`, `${CL}: 6`)],
    ...["+5", "5 5", "0x5", "5,6", "5, 5", "-1", "5.0", "99999999999999999999"].map(
      (v): [DesyncClass, string, string] => [
        "Severe",
        "invalid Content-Length value",
        post(`${CL}: 5`, `${CL}: ${v}`),
      ],
    ),
    ...[
      "chunked, identity",
      "xchunked",
      "chunked;x",
      "identity",
      '"chunked"',
      "gzip, chunked",
      "chunked chunked",
      "",
    ].map((v): [DesyncClass, string, string] => [
      "Severe",
      "Transfer-Encoding other than chunked",
      post(`${TE}: ${v}`),
    ]),
    ["Severe", "multiple Transfer-Encoding headers", post(`${TE}: chunked`, `${TE}: chunked`)],
    ["Severe", "whitespace between header name and colon", post(`${CL} : 5`)],
    ["Severe", "whitespace between header name and colon", post(`${TE}\t: chunked`)],
    ["Severe", "whitespace between header name and colon", post("X-Foo : a")],
    ["Severe", "space or control character in a header name", post("Content Length: 5")],
    ["Severe", "space or control character in a header name", post(`\x01${TE}: chunked`)],
    ["Severe", "space or control character in a header name", post("\rX: a")],
    ["Severe", "NUL or CR in a header value", post(`${TE}: chunked\x00`)],
    ["Severe", "NUL or CR in a header value", post(`${TE}: chunked\r `)],
    ["Severe", "NUL or CR in a header value", post("X-Foo: a\x00b")],
    ["Severe", "NUL or CR in a header value", post(`X-Foo: a\r${CL}: 5`)],
    ["Severe", "control character in a framing header", post(`${TE}: \x0bchunked`)],
    ["Severe", "control character in a framing header", post(`${TE}: chunked\x0c`)],
    ["Severe", "control character in a framing header", post(`${CL}: 5`, `${CL}: \x015`)],
    ["Severe", "Transfer-Encoding in an HTTP/1.0 request", `POST / HTTP/1.0\r\n${TE}: chunked\r\n\r\n`],
    ["Severe", "line folding on a framing header", post(`${CL}:`, " 5")],
    ["Severe", "line folding on a framing header", post(`${TE}: chunked`, " , identity")],
    ["Ambiguous", "multiple Content-Length headers", post(`${CL}: 5`, `${CL}: 5`)],
    ["Ambiguous", "leading zeros in Content-Length", post(`${CL}: 007`)],
    ["Ambiguous", "obsolete line folding", post("X-Long: a", " b")],
    ["Ambiguous", "obsolete line folding", post("X-Long: a", "   ")],
    ["Ambiguous", "non-token character in a header name", post("X@Foo: a")],
    ["Ambiguous", "non-token character in a header name", post("X[1]: a")],
    ["Ambiguous", "non-token character in a header name", post('X"y: a')],
    ["Ambiguous", "non-token character in a header name", post("Transfer-Encod\xfdng: chunked")],
    ["Ambiguous", "GET or HEAD request with a body", `GET / HTTP/1.1\r\n${CL}: 5\r\n\r\n`],
    ["Ambiguous", "GET or HEAD request with a body", `HEAD / HTTP/1.1\r\n${TE}: chunked\r\n\r\n`],
    ["Acceptable", "bare LF line ending", "GET / HTTP/1.1\nHost: a\n\n"],
    ["Acceptable", "bare LF line ending", "GET / HTTP/1.1\r\nHost: a\n\r\n"],
    ["Acceptable", "bare LF line ending", "\nGET / HTTP/1.1\r\n\r\n"],
    ["Acceptable", "control character in a header value", post("User-Agent: a\x01b")],
    ["Acceptable", "control character in a header value", post("User-Agent: a\x7fb")],
    ["Acceptable", "Transfer-Encoding chunked in unusual case", post(`${TE}: Chunked`)],
    ["Acceptable", "unusual spacing around Transfer-Encoding", post(`${TE}:  chunked `)],
    ["Acceptable", "unusual spacing around Transfer-Encoding", post(`${TE}:\tchunked`)],
    ["Acceptable", "GET or HEAD request with Content-Length: 0", `GET / HTTP/1.1\r\n${CL}: 0\r\n\r\n`],
    ["Compliant", "", post(`${TE}:chunked`)],
    ["Compliant", "", post("transfer-encoding: chunked")],
    ["Compliant", "", post("X-Name: caf\xe9")],
    ["Compliant", "", post("X-Name: a\tb")],
    ["Compliant", "", post(`${CL}: 0`)],
    ["Compliant", "", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"],
    // The most severe finding wins.
    ["Severe", "conflicting", `POST / HTTP/1.1\n${CL}: 1\n${TE}: chunked\n\n`],
    ["Ambiguous", "multiple", post("X: \x01", `${CL}: 1`, `${CL}: 1`)],
  ];
  for (const [desync, reason, raw] of rows) {
    it(`${JSON.stringify(raw.startsWith(P) ? raw.slice(P.length) : raw)} → ${desync}`, () => {
      const r = parse(raw);
      assert.equal(r.desync, desync, r.desyncReason);
      if (reason === "") assert.equal(r.desyncReason, "");
      else assert.ok(r.desyncReason.includes(reason), `reason ${JSON.stringify(r.desyncReason)}`);
    });
  }

  it("frames CL+TE as chunked", () => {
    const r = parse(`${P}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`);
    assert.equal(r.chunked, true);
    assert.equal(r.contentLength, -1);
  });

  it("frames differing Content-Lengths by the first", () => {
    assert.equal(parse(`${P}Content-Length: 5\r\nContent-Length: 6\r\n\r\n`).contentLength, 5);
    assert.equal(parse(`${P}Content-Length: x\r\nContent-Length: 6\r\n\r\n`).contentLength, 6);
  });

  it("frames a name with whitespace before the colon as the header it names", () => {
    assert.equal(parse(`${P}Content-Length : 5\r\n\r\n`).contentLength, 5);
    assert.equal(parse(`${P}Transfer-Encoding\t: chunked\r\n\r\n`).chunked, true);
    assert.deepEqual(parse(`${P}Content-Length : 5\r\n\r\n`).headers.slice(2), ["Content-Length ", "5"]);
  });

  it("frames a folded Content-Length by its unfolded value", () => {
    assert.equal(parse(`${P}Content-Length:\r\n 5\r\n\r\n`).contentLength, 5);
  });

  it("frames any Transfer-Encoding as chunked", () => {
    assert.equal(parse(`${P}Transfer-Encoding: identity\r\n\r\n`).chunked, true);
  });

  it("keeps leading-zero lengths as numbers", () => {
    assert.equal(parse(`${P}Content-Length: 007\r\n\r\n`).contentLength, 7);
  });
});

describe("parseRequestHead: Host", () => {
  it("refuses more than one Host header with 400, whatever their values and case", () => {
    assert.equal(status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
    assert.equal(status("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nHOST: b\r\n\r\n"), 400);
    assert.equal(status("GET / HTTP/1.0\r\nhost: a\r\nHost:\r\n\r\n"), 400);
  });

  it("refuses a Host that disagrees with an absolute-form target with 400", () => {
    assert.equal(status("GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n"), 400);
    assert.equal(status("GET http://a.test:81/ HTTP/1.1\r\nHost: a.test\r\n\r\n"), 400);
    assert.equal(status("GET http://a.test HTTP/1.1\r\nHost: a.test:443\r\n\r\n"), 400);
    assert.equal(status("GET http://a.test?x HTTP/1.1\r\nHost: a.tes\r\n\r\n"), 400);
    assert.equal(status("GET https://u:p@a.test/ HTTP/1.1\r\nHost: u\r\n\r\n"), 400);
  });

  it("accepts a Host that agrees with an absolute-form target", () => {
    for (const [target, host] of [
      ["http://a.test/x", "a.test"],
      ["http://A.Test/x", "a.TEST"],
      ["http://a.test:80/x", "a.test"],
      ["http://a.test/x", "a.test:80"],
      ["https://a.test/x", "a.test:443"],
      ["http://a.test:8080?q", "a.test:8080"],
      ["http://user@a.test/x", "a.test"],
      ["http://[::1]:8080/x", "[::1]:8080"],
      ["ws+x.y-z://a.test#f", "a.test"],
    ]) {
      const r = parse(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.equal(r.target, target);
      assert.equal(r.host, host);
    }
  });

  it("leaves origin-form, asterisk-form and authority-form targets and a missing Host alone", () => {
    assert.equal(parse("GET /http://b.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n").host, "a.test");
    assert.equal(parse("OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n").target, "*");
    assert.equal(parse("CONNECT b.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n").target, "b.test:443");
    assert.equal(parse("GET http://b.test/ HTTP/1.1\r\n\r\n").host, undefined);
  });
});
