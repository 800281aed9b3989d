/**
 * HTTP/1.x request-head parser for the proxy's hot path. It finds the head's end, splits the
 * header lines, decides the body framing the proxy will use, and classifies the request the way
 * AWS's http_desync_guardian does for ELB's desync mitigation modes (most severe finding wins).
 * Only the head is decoded (latin1); the bytes themselves are forwarded verbatim by the engine.
 */

import { fail, incomplete, type RequestLimits, type RequestParseError } from "./request-limits.js";
import {
  appendFolded,
  COLON,
  CONN_CLOSE,
  CONN_KEEP_ALIVE,
  CONN_UPGRADE,
  CR,
  connectionOptions,
  equalLower,
  HTAB,
  headerKind,
  headText,
  hostMatchesTarget,
  httpMinor,
  isOws,
  K_CL,
  K_CONNECTION,
  K_EXPECT,
  K_HOST,
  K_TE,
  K_UPGRADE,
  LF,
  NAME_BAD,
  NAME_CLASS,
  NAME_ODD,
  nameIs,
  owsEnd,
  owsStart,
  parseDecimal,
  SLASH,
  SP,
  TOKEN,
  VALUE_BAD,
  VALUE_CLASS,
  VALUE_CTL,
} from "./tokens.js";

export type { RequestLimits, RequestParseError } from "./request-limits.js";

/** http_desync_guardian's tiers, least to most severe. */
export type DesyncClass = "Compliant" | "Acceptable" | "Ambiguous" | "Severe";

/** A complete, framable request head. */
export interface ParsedRequest {
  readonly method: string;
  /** Request-target exactly as sent. */
  readonly target: string;
  /** HTTP/1.<minor>: 0 or 1. */
  readonly minor: number;
  /** Flat [name0, value0, name1, value1, ...]: names as sent, values with leading/trailing OWS removed. */
  readonly headers: string[];
  /** Message body framing the proxy will use: -1 = no Content-Length used. */
  readonly contentLength: number;
  /** Body framed by Transfer-Encoding: chunked (wins over Content-Length when both are present). */
  readonly chunked: boolean;
  /** Client wants the connection kept (HTTP/1.1 default unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive"). */
  readonly keepAlive: boolean;
  /** An Upgrade request: "Connection" lists "upgrade" and an Upgrade header is present. */
  readonly upgrade: boolean;
  /** The Host header value, undefined when absent. */
  readonly host: string | undefined;
  /** "Expect: 100-continue" present. */
  readonly expectContinue: boolean;
  readonly desync: DesyncClass;
  /** Why it is not Compliant (one short phrase); "" when Compliant. */
  readonly desyncReason: string;
  /** Bytes of the head including the terminating empty line (and any empty lines before it). */
  readonly headLength: number;
}

const CLASSES: readonly DesyncClass[] = ["Compliant", "Acceptable", "Ambiguous", "Severe"];
const ACCEPTABLE = 1;
const AMBIGUOUS = 2;
const SEVERE = 3;

// The verdict of the parse in progress: parsing is synchronous, so module state is safe.
let level = 0;
let why = "";

function raise(l: number, reason: string): void {
  if (l > level) {
    level = l;
    why = reason;
  }
}

/** Whether r is a refusal rather than a parsed head. */
export function isParseError(r: ParsedRequest | RequestParseError): r is RequestParseError {
  return (r as RequestParseError).error !== undefined;
}

/**
 * Parses the request head that starts at buf[offset]. Returns null when the head is incomplete
 * and still within limits, a RequestParseError when it must be refused, else the parsed head.
 */
export function parseRequestHead(
  buf: Buffer,
  offset: number,
  limits: RequestLimits,
): ParsedRequest | RequestParseError | null {
  const len = buf.length;
  const max = limits.maxHeadBytes;
  level = 0;
  why = "";
  let bareLf = false;
  let p = offset;
  // RFC 9112 §2.2: empty lines before the request line are skipped.
  for (;;) {
    if (p - offset > max) return fail(431, "request head too large");
    if (p >= len) return null;
    const c = buf[p];
    if (c === LF) {
      bareLf = true;
      p++;
    } else if (c === CR) {
      if (p + 1 >= len) return null;
      if (buf[p + 1] !== LF) return fail(400, "bare CR before the request line");
      p += 2;
    } else break;
  }
  // From here on, positions are in s: s[0] is buf[p].
  const s = headText(buf, p, Math.min(len, offset + max));
  if (s === undefined) return incomplete(buf, offset, p, limits);

  // Request line: method SP request-target SP HTTP-version.
  let lf = s.indexOf("\n");
  let le = lf;
  if (s.charCodeAt(le - 1) === CR) le--;
  else bareLf = true;
  let i = 0;
  while (i < le && TOKEN[s.charCodeAt(i)] === 1) i++;
  if (i > 127) return fail(405, "method longer than 127 characters");
  if (i === 0 || i === le) return fail(400, "malformed request line");
  if (s.charCodeAt(i) !== SP) return fail(400, "method is not a token");
  const method = methodName(s, i);
  const ts = i + 1;
  let j = ts;
  while (j < le) {
    const c = s.charCodeAt(j);
    if (c <= SP || c === 127) break;
    j++;
  }
  if (j === ts || j === le || s.charCodeAt(j) !== SP) return fail(400, "malformed request line");
  if (limits.maxTargetBytes !== undefined && j - ts > limits.maxTargetBytes) {
    return fail(414, "request target too long");
  }
  const minor = httpMinor(s, j + 1, le);
  if (minor < 0) return fail(400, minor === -1 ? "malformed request line" : "unsupported HTTP version");
  const target = s.slice(ts, j);

  // Header lines up to the empty line.
  const headers: string[] = [];
  let lastKind = -1;
  let clIdx = -1;
  let clCount = 0;
  let teIdx = -1;
  let teCount = 0;
  let teSpacing = false;
  let connIdx = -1;
  let connCount = 0;
  let hasUpgrade = false;
  let hostIdx = -1;
  let expectIdx = -1;
  let ls = lf + 1;
  for (;;) {
    const c0 = s.charCodeAt(ls);
    if (c0 === CR && s.charCodeAt(ls + 1) === LF) {
      ls += 2;
      break;
    }
    if (c0 === LF) {
      bareLf = true;
      ls++;
      break;
    }
    lf = s.indexOf("\n", ls);
    le = lf;
    if (s.charCodeAt(le - 1) === CR) le--;
    else bareLf = true;
    if (c0 === SP || c0 === HTAB) {
      // obs-fold: a continuation of the previous header's value, joined with one SP.
      if (lastKind < 0) return fail(400, "whitespace before the first header");
      let a = ls;
      let b = le;
      a = owsStart(s, a, b);
      b = owsEnd(s, a, b);
      const framing = lastKind === K_CL || lastKind === K_TE;
      checkValue(s, a, b, framing);
      if (framing) raise(SEVERE, "line folding on a framing header");
      else raise(AMBIGUOUS, "obsolete line folding");
      appendFolded(headers, s.slice(a, b));
      ls = lf + 1;
      continue;
    }
    let k = ls;
    let nameClass = 0;
    while (k < le) {
      const c = s.charCodeAt(k);
      if (c === COLON) break;
      const cl = NAME_CLASS[c] as number;
      if (cl > nameClass) nameClass = cl;
      k++;
    }
    if (k === le) return fail(400, "header line without a colon");
    if (k === ls) return fail(400, "empty header name");
    let ne = k;
    while (ne > ls && isOws(s.charCodeAt(ne - 1))) ne--;
    if (ne !== k) raise(SEVERE, "whitespace between header name and colon");
    else if (nameClass === NAME_BAD) raise(SEVERE, "space or control character in a header name");
    else if (nameClass === NAME_ODD) raise(AMBIGUOUS, "non-token character in a header name");
    let a = k + 1;
    let b = le;
    a = owsStart(s, a, b);
    b = owsEnd(s, a, b);
    const kind = headerKind(s, ls, ne);
    checkValue(s, a, b, kind === K_CL || kind === K_TE);
    const index = headers.length;
    headers.push(s.slice(ls, k), s.slice(a, b));
    switch (kind) {
      case K_CL:
        if (clCount++ === 0) clIdx = index;
        break;
      case K_TE:
        if (teCount++ === 0) teIdx = index;
        // Compliant spacing is "Transfer-Encoding: chunked" or "Transfer-Encoding:chunked".
        if (b !== le || a - k > 2 || (a - k === 2 && s.charCodeAt(k + 1) !== SP)) teSpacing = true;
        break;
      case K_CONNECTION:
        if (connCount++ === 0) connIdx = index;
        break;
      case K_UPGRADE:
        hasUpgrade = true;
        break;
      case K_HOST:
        // RFC 9112 §3.2: more than one Host field line is a 400.
        if (hostIdx >= 0) return fail(400, "more than one Host header");
        hostIdx = index;
        break;
      case K_EXPECT:
        if (expectIdx < 0) expectIdx = index;
        break;
    }
    lastKind = kind;
    ls = lf + 1;
  }
  if (bareLf) raise(ACCEPTABLE, "bare LF line ending");
  // RFC 9112 §3.2.2 / RFC 9110 §7.2: an absolute-form target names the host; a Host header that
  // names another is refused. Origin-form ("/…", the common case) costs one comparison here.
  if (
    hostIdx >= 0 &&
    target.charCodeAt(0) !== SLASH &&
    !hostMatchesTarget(headers[hostIdx + 1] as string, target)
  ) {
    return fail(400, "Host header disagrees with the request target");
  }

  // Framing: Transfer-Encoding wins over Content-Length (RFC 9112 §6.3).
  let contentLength = -1;
  let chunked = false;
  if (teCount > 0) {
    chunked = true;
    if (clCount > 0) raise(SEVERE, "conflicting Content-Length and Transfer-Encoding");
    if (teCount > 1) raise(SEVERE, "multiple Transfer-Encoding headers");
    if (minor === 0) raise(SEVERE, "Transfer-Encoding in an HTTP/1.0 request");
    const te = headers[teIdx + 1] as string;
    if (te !== "chunked") {
      if (equalLower(te, "chunked")) raise(ACCEPTABLE, "Transfer-Encoding chunked in unusual case");
      else raise(SEVERE, "Transfer-Encoding other than chunked");
    } else if (teSpacing) raise(ACCEPTABLE, "unusual spacing around Transfer-Encoding chunked");
  } else if (clCount > 0) {
    contentLength =
      clCount === 1 ? singleContentLength(headers[clIdx + 1] as string) : multipleContentLength(headers);
    if (contentLength < 0) return fail(400, "invalid Content-Length");
  }
  if (method === "GET" || method === "HEAD") {
    if (chunked || contentLength > 0) raise(AMBIGUOUS, "GET or HEAD request with a body");
    else if (contentLength === 0) raise(ACCEPTABLE, "GET or HEAD request with Content-Length: 0");
  }

  let conn = 0;
  if (connCount === 1) conn = connectionOptions(headers[connIdx + 1] as string);
  else if (connCount > 1) {
    for (let h = 0; h < headers.length; h += 2) {
      if (nameIs(headers[h] as string, "connection")) {
        conn |= connectionOptions(headers[h + 1] as string);
      }
    }
  }
  const close = (conn & CONN_CLOSE) !== 0;
  return {
    method,
    target,
    minor,
    headers,
    contentLength,
    chunked,
    keepAlive: minor === 1 ? !close : (conn & CONN_KEEP_ALIVE) !== 0 && !close,
    upgrade: hasUpgrade && (conn & CONN_UPGRADE) !== 0,
    host: hostIdx < 0 ? undefined : headers[hostIdx + 1],
    expectContinue: expectIdx >= 0 && equalLower(headers[expectIdx + 1] as string, "100-continue"),
    desync: CLASSES[level] as DesyncClass,
    desyncReason: why,
    headLength: p + ls - offset,
  };
}

/** Classifies the bytes of a header value; `framing` for Content-Length and Transfer-Encoding. */
function checkValue(s: string, a: number, b: number, framing: boolean): void {
  let worst = 0;
  for (let i = a; i < b; i++) {
    const cl = VALUE_CLASS[s.charCodeAt(i)] as number;
    if (cl > worst) worst = cl;
  }
  if (worst === VALUE_BAD) raise(SEVERE, "NUL or CR in a header value");
  else if (worst === VALUE_CTL) {
    if (framing) raise(SEVERE, "control character in a framing header");
    else raise(ACCEPTABLE, "control character in a header value");
  }
}

/** The value of the only Content-Length, -1 when it is not a number. */
function singleContentLength(v: string): number {
  const n = parseDecimal(v);
  if (n < 0) raise(SEVERE, "invalid Content-Length value");
  else if (v.length > 1 && v.charCodeAt(0) === 48) raise(AMBIGUOUS, "leading zeros in Content-Length");
  return n;
}

/** The first valid value of several Content-Length headers, -1 when none is valid. */
function multipleContentLength(headers: string[]): number {
  let first = -1;
  let differ = false;
  for (let h = 0; h < headers.length; h += 2) {
    if (!nameIs(headers[h] as string, "content-length")) continue;
    const n = singleContentLength(headers[h + 1] as string);
    if (n < 0) continue;
    if (first < 0) first = n;
    else if (n !== first) differ = true;
  }
  if (differ) raise(SEVERE, "conflicting Content-Length values");
  else raise(AMBIGUOUS, "multiple Content-Length headers");
  return first;
}

/** s[0, n) as the method, shared constants for the common ones. */
function methodName(s: string, n: number): string {
  if (n === 3 && s.startsWith("GET")) return "GET";
  if (n === 4 && s.startsWith("POST")) return "POST";
  if (n === 4 && s.startsWith("HEAD")) return "HEAD";
  return s.slice(0, n);
}
