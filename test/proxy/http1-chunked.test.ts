import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChunkedScanner } from "../../src/proxy/http1/chunked.js";

const BODY = '5\r\nhello\r\n1A;name=value;q="x y"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n';

function scanAll(raw: string, scanner = new ChunkedScanner()): number {
  const buf = Buffer.from(raw, "latin1");
  return scanner.scan(buf, 0, buf.length);
}

describe("ChunkedScanner", () => {
  it("finds the end of a body given in one go", () => {
    assert.equal(scanAll(BODY), BODY.length);
  });

  it("finds the end of a body fed one byte at a time", () => {
    const buf = Buffer.from(BODY, "latin1");
    const s = new ChunkedScanner();
    for (let i = 0; i < buf.length - 1; i++) assert.equal(s.scan(buf, i, i + 1), -1, `byte ${i}`);
    assert.equal(s.scan(buf, buf.length - 1, buf.length), buf.length);
  });

  it("finds the end across every two-piece split", () => {
    const buf = Buffer.from(BODY, "latin1");
    for (let n = 0; n < buf.length; n++) {
      const s = new ChunkedScanner();
      assert.equal(s.scan(buf, 0, n), -1, `split at ${n}`);
      assert.equal(s.scan(buf, n, buf.length), buf.length, `split at ${n}`);
    }
  });

  it("accepts extensions, upper-case hex, leading zeros and whitespace before ';'", () => {
    const rows = [
      "A;ext\r\n0123456789\r\n0\r\n\r\n",
      "0000000003\r\nabc\r\n0;last=1\r\n\r\n",
      "3 ;a=b\r\nabc\r\n0\r\n\r\n",
      '3\t; a = "q"\r\nabc\r\n0\r\n\r\n',
    ];
    for (const raw of rows) assert.equal(scanAll(raw), raw.length, JSON.stringify(raw));
  });

  it("passes trailers", () => {
    const raw = "3\r\nabc\r\n0\r\nX-Checksum: abc\r\nExpires: never\r\n\r\n";
    assert.equal(scanAll(raw), raw.length);
  });

  it("returns the index of the end when the next pipelined request follows", () => {
    const body = "4\r\nwiki\r\n0\r\n\r\n";
    const raw = `POST / HTTP/1.1\r\n\r\n${body}GET /next HTTP/1.1\r\n\r\n`;
    const buf = Buffer.from(raw, "latin1");
    const start = raw.indexOf("4\r\n");
    assert.equal(new ChunkedScanner().scan(buf, start, buf.length), start + body.length);
  });

  it("resets for the next body, and reports an ended body as ending at start", () => {
    const s = new ChunkedScanner();
    const buf = Buffer.from("0\r\n\r\n0\r\n\r\n", "latin1");
    assert.equal(s.scan(buf, 0, buf.length), 5);
    assert.equal(s.scan(buf, 5, buf.length), 5);
    s.reset();
    assert.equal(s.scan(buf, 5, buf.length), 10);
  });

  it("handles the largest safe size", () => {
    assert.equal(scanAll("1fffffffffffff\r\nabc"), -1);
  });

  const malformed: [string, string][] = [
    ["non-hex size", "g\r\nabc\r\n"],
    ["empty size", "\r\n"],
    ["sign before size", "+5\r\nhello\r\n"],
    ["0x prefix", "0x5\r\nhello\r\n"],
    ["missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n"],
    ["LF only after data", "5\r\nhello\n0\r\n\r\n"],
    ["bare LF after size", "5\nhello\r\n0\r\n\r\n"],
    ["bare CR after size", "5\rhello\r\n"],
    ["whitespace without extension", "5 \r\nhello\r\n"],
    ["junk after size", "5x\r\nhello\r\n"],
    ["control byte in extension", "5;a\x00\r\nhello\r\n"],
    ["LF in extension", "5;a\nhello\r\n"],
    ["size overflow", "fffffffffffffffff\r\n"],
    ["2^53", "20000000000000\r\n"],
    ["bare LF ending trailers", "0\r\nX: y\r\n\n"],
    ["bare LF ending a trailer", "0\r\nX: y\n\r\n"],
    ["trailer starting with a space", "0\r\n X: y\r\n\r\n"],
    ["NUL in a trailer", "0\r\nX: \x00\r\n\r\n"],
    ["bare LF as the last line", "0\r\n\n"],
    ["extension too long", `5;${"e".repeat(20000)}\r\nhello\r\n0\r\n\r\n`],
  ];
  for (const [name, raw] of malformed) {
    it(`rejects ${name}`, () => assert.equal(scanAll(raw), -2));
  }

  it("stays malformed", () => {
    const s = new ChunkedScanner();
    assert.equal(scanAll("zz", s), -2);
    assert.equal(scanAll("0\r\n\r\n", s), -2);
  });

  it("bounds the trailer section", () => {
    const s = new ChunkedScanner({ maxTrailerBytes: 100 });
    const raw = `0\r\n${"X: y\r\n".repeat(50)}\r\n`;
    assert.equal(scanAll(raw, s), -2);
    assert.equal(scanAll(raw), raw.length);
  });
});
