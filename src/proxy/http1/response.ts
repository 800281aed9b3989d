/**
 * HTTP/1.x response-head parser for the proxy's back-end side: status line, headers, and the
 * framing of the body that follows (RFC 9112 §6.3). Stricter than the request side needs to be
 * lenient: a back end that frames ambiguously gets its response refused (the engine sends 502).
 */

import {
  appendFolded,
  COLON,
  CONN_CLOSE,
  CONN_KEEP_ALIVE,
  CR,
  connectionOptions,
  HTAB,
  headerKind,
  headText,
  httpMinor,
  K_CL,
  K_CONNECTION,
  K_TE,
  LF,
  lastCodingIsChunked,
  NAME_BAD,
  NAME_CLASS,
  owsEnd,
  owsStart,
  parseDecimal,
  SP,
  VALUE_BAD,
  VALUE_CLASS,
} from "./tokens.js";

/** A complete response head. */
export interface ParsedResponse {
  readonly status: number;
  readonly reason: string;
  /** HTTP/1.<minor>: 0 or 1. */
  readonly minor: number;
  /** Flat [name0, value0, name1, value1, ...]: names as sent, values with leading/trailing OWS removed. */
  readonly headers: string[];
  /** The Content-Length the body is framed by; -1 when absent or overridden by Transfer-Encoding. */
  readonly contentLength: number;
  /** Body framed by Transfer-Encoding whose final coding is chunked. */
  readonly chunked: boolean;
  /**
   * The back end keeps the connection open after this response: by version and Connection, and
   * false when the body could only be delimited by closing (no framing on a status with a body,
   * Transfer-Encoding not ending in chunked, or both Transfer-Encoding and Content-Length).
   */
  readonly keepAlive: boolean;
  /** Bytes of the head including the terminating empty line. */
  readonly headLength: number;
}

/** A response head that cannot be forwarded; `error` says why. */
export interface ResponseParseError {
  readonly error: string;
}

const HTTP_PREFIX = "HTTP/";

/** Whether r is an error rather than a parsed head. */
export function isResponseParseError(r: ParsedResponse | ResponseParseError): r is ResponseParseError {
  return (r as ParsedResponse).status === undefined;
}

/**
 * Parses the response head that starts at buf[offset]. Returns null when it is incomplete and
 * within maxHeadBytes, a ResponseParseError when it is malformed or too large, else the head.
 */
export function parseResponseHead(
  buf: Buffer,
  offset: number,
  maxHeadBytes: number,
): ParsedResponse | ResponseParseError | null {
  const len = buf.length;
  // From here on, positions are in s: s[0] is buf[offset].
  const s = headText(buf, offset, Math.min(len, offset + maxHeadBytes));
  if (s === undefined) {
    const n = Math.min(len - offset, HTTP_PREFIX.length);
    for (let i = 0; i < n; i++) {
      if (buf[offset + i] !== HTTP_PREFIX.charCodeAt(i)) return { error: "malformed status line" };
    }
    return len - offset >= maxHeadBytes ? { error: "response head too large" } : null;
  }

  // Status line: HTTP-version SP 3DIGIT SP [reason-phrase]; the SP before an empty reason may be missing.
  let lf = s.indexOf("\n");
  let le = s.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
  const minor = httpMinor(s, 0, 8);
  if (minor < 0 || s.charCodeAt(8) !== SP) return { error: "malformed status line" };
  const status = digit(s.charCodeAt(9)) * 100 + digit(s.charCodeAt(10)) * 10 + digit(s.charCodeAt(11));
  if (!(status >= 100) || le < 12 || (le > 12 && s.charCodeAt(12) !== SP)) {
    return { error: "malformed status line" };
  }
  const reason = le > 13 ? s.slice(13, le) : "";
  // The reason phrase is re-sent in the rebuilt status line: no CR, NUL or other controls in it.
  if (!valueOk(s, 13, le)) return { error: "control character in the reason phrase" };

  const headers: string[] = [];
  let lastKind = -1;
  let clCount = 0;
  let contentLength = -1;
  let teCount = 0;
  let teIdx = -1;
  let conn = 0;
  let ls = lf + 1;
  for (;;) {
    const c0 = s.charCodeAt(ls);
    if (c0 === CR && s.charCodeAt(ls + 1) === LF) {
      ls += 2;
      break;
    }
    if (c0 === LF) {
      ls++;
      break;
    }
    lf = s.indexOf("\n", ls);
    le = s.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
    let a: number;
    let b = le;
    if (c0 === SP || c0 === HTAB) {
      // obs-fold: joined to the previous value with one SP; refused on framing and Connection.
      if (lastKind < 0) return { error: "whitespace before the first header" };
      if (lastKind === K_CL || lastKind === K_TE || lastKind === K_CONNECTION) {
        return { error: "line folding on a framing header" };
      }
      a = ls;
      a = owsStart(s, a, b);
      b = owsEnd(s, a, b);
      if (!valueOk(s, a, b)) return { error: "NUL or CR in a header value" };
      appendFolded(headers, s.slice(a, b));
      ls = lf + 1;
      continue;
    }
    let k = ls;
    while (k < le) {
      const c = s.charCodeAt(k);
      if (c === COLON) break;
      if (NAME_CLASS[c] === NAME_BAD) return { error: "invalid header name" };
      k++;
    }
    if (k === le || k === ls) return { error: "malformed header line" };
    a = k + 1;
    a = owsStart(s, a, b);
    b = owsEnd(s, a, b);
    if (!valueOk(s, a, b)) return { error: "NUL or CR in a header value" };
    const value = s.slice(a, b);
    headers.push(s.slice(ls, k), value);
    lastKind = headerKind(s, ls, k);
    if (lastKind === K_CL) {
      const n = parseDecimal(value);
      if (n < 0) return { error: "invalid Content-Length" };
      if (clCount++ > 0 && n !== contentLength) return { error: "conflicting Content-Length values" };
      contentLength = n;
    } else if (lastKind === K_TE) {
      teCount++;
      teIdx = headers.length - 1;
    } else if (lastKind === K_CONNECTION) {
      conn |= connectionOptions(value);
    }
    ls = lf + 1;
  }

  let keepAlive =
    minor === 1 ? (conn & CONN_CLOSE) === 0 : (conn & (CONN_CLOSE | CONN_KEEP_ALIVE)) === CONN_KEEP_ALIVE;
  let chunked = false;
  if (teCount > 0) {
    // Both framings: whatever is in front of the load balancer might believe Content-Length, and
    // RFC 9112 §6.3 would have it removed. A response that ambiguous is refused (502).
    if (clCount > 0) return { error: "both Content-Length and Transfer-Encoding" };
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; not ending in chunked → read to close.
    chunked = lastCodingIsChunked(headers[teIdx] as string);
    if (!chunked) keepAlive = false;
    contentLength = -1;
  } else if (contentLength < 0 && status >= 200 && status !== 204 && status !== 304) {
    keepAlive = false;
  }
  return { status, reason, minor, headers, contentLength, chunked, keepAlive, headLength: ls };
}

/**
 * Body framing for a response to `method`: "none" (HEAD, 1xx, 204, 304, 2xx to CONNECT),
 * "length", "chunked", or "close" (read until the back end closes).
 */
export function responseBodyKind(method: string, r: ParsedResponse): "none" | "length" | "chunked" | "close" {
  const s = r.status;
  if (method === "HEAD" || s < 200 || s === 204 || s === 304) return "none";
  if (method === "CONNECT" && s < 300) return "none";
  if (r.chunked) return "chunked";
  return r.contentLength >= 0 ? "length" : "close";
}

function digit(c: number): number {
  return c >= 48 && c <= 57 ? c - 48 : Number.NaN;
}

function valueOk(s: string, a: number, b: number): boolean {
  for (let i = a; i < b; i++) if (VALUE_CLASS[s.charCodeAt(i)] === VALUE_BAD) return false;
  return true;
}
