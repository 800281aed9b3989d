/**
 * Byte tables and small helpers shared by the HTTP/1 head parsers: table lookups instead of
 * regular expressions, on the hot path of every request.
 */

/** Carriage return. */
export const CR = 13;
/** Line feed. */
export const LF = 10;
/** Space. */
export const SP = 32;
/** Horizontal tab. */
export const HTAB = 9;
/** ":" */
export const COLON = 58;
/** "/" */
export const SLASH = 47;

/** 1 for RFC 9110 tchar bytes (the characters of a method or a header name), else 0. */
export const TOKEN: Uint8Array = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TOKEN[c] = 1;
for (let c = 65; c <= 90; c++) TOKEN[c] = 1;
for (let c = 97; c <= 122; c++) TOKEN[c] = 1;

/** Header-name byte class: a tchar. */
export const NAME_TOKEN = 0;
/** Header-name byte class: visible (or obs-text) but outside the token set. */
export const NAME_ODD = 1;
/** Header-name byte class: SP, a control character or DEL. */
export const NAME_BAD = 2;
/** Class of each byte in a header name (NAME_TOKEN, NAME_ODD or NAME_BAD). */
export const NAME_CLASS: Uint8Array = new Uint8Array(256).fill(NAME_ODD);
for (let c = 0; c < 256; c++) {
  if (TOKEN[c] === 1) NAME_CLASS[c] = NAME_TOKEN;
  else if (c <= SP || c === 127) NAME_CLASS[c] = NAME_BAD;
}

/** Header-value byte class: field-vchar, SP, HTAB or obs-text. */
export const VALUE_OK = 0;
/** Header-value byte class: a control character other than HTAB, NUL, CR, LF; or DEL. */
export const VALUE_CTL = 1;
/** Header-value byte class: NUL, CR or LF. */
export const VALUE_BAD = 2;
/** Class of each byte in a header value (VALUE_OK, VALUE_CTL or VALUE_BAD). */
export const VALUE_CLASS: Uint8Array = new Uint8Array(256);
for (let c = 0; c < 32; c++) VALUE_CLASS[c] = VALUE_CTL;
VALUE_CLASS[127] = VALUE_CTL;
VALUE_CLASS[HTAB] = VALUE_OK;
VALUE_CLASS[0] = VALUE_BAD;
VALUE_CLASS[CR] = VALUE_BAD;
VALUE_CLASS[LF] = VALUE_BAD;

/** Value of each hexadecimal digit byte, -1 for other bytes. */
export const HEX: Int8Array = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[65 + c] = 10 + c;
  HEX[97 + c] = 10 + c;
}

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/** buf[start, end) decoded as latin1 (one byte, one char), through Node's fast internal slicer. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return start === end ? "" : (buf as Latin1Buffer).latin1Slice(start, end);
}

/** Whether `s` equals `lower` ignoring ASCII case; `lower` must be lowercase ASCII. */
export function equalLower(s: string, lower: string): boolean {
  if (s.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** connectionOptions() bit: Connection lists "close". */
export const CONN_CLOSE = 1;
/** connectionOptions() bit: Connection lists "keep-alive". */
export const CONN_KEEP_ALIVE = 2;
/** connectionOptions() bit: Connection lists "upgrade". */
export const CONN_UPGRADE = 4;

/** The CONN_* bits for the comma-separated options of a Connection header value (case-insensitive). */
export function connectionOptions(s: string): number {
  let bits = 0;
  let i = 0;
  const n = s.length;
  while (i < n) {
    let j = s.indexOf(",", i);
    if (j < 0) j = n;
    const a = owsStart(s, i, j);
    const b = owsEnd(s, a, j);
    if (sliceEqualLower(s, a, b, "close")) bits |= CONN_CLOSE;
    else if (sliceEqualLower(s, a, b, "keep-alive")) bits |= CONN_KEEP_ALIVE;
    else if (sliceEqualLower(s, a, b, "upgrade")) bits |= CONN_UPGRADE;
    i = j + 1;
  }
  return bits;
}

/** Whether the last comma-separated element of s (OWS trimmed, parameters included) is `chunked`. */
export function lastCodingIsChunked(s: string): boolean {
  let b = s.length;
  while (b > 0 && isOws(s.charCodeAt(b - 1))) b--;
  let a = s.lastIndexOf(",", b - 1) + 1;
  while (a < b && isOws(s.charCodeAt(a))) a++;
  return sliceEqualLower(s, a, b, "chunked");
}

/** Whether s[start, end) equals `lower` ignoring ASCII case; `lower` must be lowercase ASCII. */
export function sliceEqualLower(s: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = s.charCodeAt(start + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The first index in [a, b) of s that is not OWS (b when there is none). */
export function owsStart(s: string, a: number, b: number): number {
  while (a < b && isOws(s.charCodeAt(a))) a++;
  return a;
}

/** One past the last index in [a, b) of s that is not OWS (a when there is none). */
export function owsEnd(s: string, a: number, b: number): number {
  while (b > a && isOws(s.charCodeAt(b - 1))) b--;
  return b;
}

/** Joins an obs-fold continuation line's value to the last header value, with one SP. */
export function appendFolded(headers: string[], part: string): void {
  if (part === "") return;
  const last = headers.length - 1;
  const prev = headers[last] as string;
  headers[last] = prev === "" ? part : `${prev} ${part}`;
}

/** SP or HTAB. */
export function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

/** The decimal value of s when it is only ASCII digits and a safe integer (leading zeros allowed), else -1. */
export function parseDecimal(s: string): number {
  const n = s.length;
  if (n === 0) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
    if (v > Number.MAX_SAFE_INTEGER) return -1;
  }
  return v;
}

/** 0 or 1 for "HTTP/1.0" or "HTTP/1.1" in s[a, b); -2 for another well-formed version; -1 for garbage. */
export function httpMinor(s: string, a: number, b: number): number {
  if (b - a !== 8 || !s.startsWith("HTTP/", a) || s.charCodeAt(a + 6) !== 46) return -1;
  const major = s.charCodeAt(a + 5) - 48;
  const minor = s.charCodeAt(a + 7) - 48;
  if (!(major >= 0 && major <= 9 && minor >= 0 && minor <= 9)) return -1;
  return major === 1 && minor <= 1 ? minor : -2;
}

/** Whether header name s, ignoring trailing SP/HTAB, equals `lower` ignoring ASCII case. */
export function nameIs(s: string, lower: string): boolean {
  let b = s.length;
  while (b > 0 && isOws(s.charCodeAt(b - 1))) b--;
  return sliceEqualLower(s, 0, b, lower);
}

/** headerKind(): a header the parsers do not act on. */
export const K_OTHER = 0;
/** headerKind(): Content-Length. */
export const K_CL = 1;
/** headerKind(): Transfer-Encoding. */
export const K_TE = 2;
/** headerKind(): Connection. */
export const K_CONNECTION = 3;
/** headerKind(): Upgrade. */
export const K_UPGRADE = 4;
/** headerKind(): Host. */
export const K_HOST = 5;
/** headerKind(): Expect. */
export const K_EXPECT = 6;

/** Which header s[a, b) names (case-insensitive), as a K_* constant. */
export function headerKind(s: string, a: number, b: number): number {
  switch (b - a) {
    case 4:
      return sliceEqualLower(s, a, b, "host") ? K_HOST : K_OTHER;
    case 6:
      return sliceEqualLower(s, a, b, "expect") ? K_EXPECT : K_OTHER;
    case 7:
      return sliceEqualLower(s, a, b, "upgrade") ? K_UPGRADE : K_OTHER;
    case 10:
      return sliceEqualLower(s, a, b, "connection") ? K_CONNECTION : K_OTHER;
    case 14:
      return sliceEqualLower(s, a, b, "content-length") ? K_CL : K_OTHER;
    case 17:
      return sliceEqualLower(s, a, b, "transfer-encoding") ? K_TE : K_OTHER;
    default:
      return K_OTHER;
  }
}

const WINDOW = 2048;
const END_CRLF = Buffer.from("\n\r\n", "latin1");
const END_LF = Buffer.from("\n\n", "latin1");

/**
 * The head starting at buf[start], latin1-decoded through at least its first empty line ("\n\r\n"
 * or "\n\n" after start), when that line ends by `stop`; undefined when it does not (yet). One
 * decode of a small window covers ordinary heads; longer ones are found with the buffer's search.
 */
export function headText(buf: Buffer, start: number, stop: number): string | undefined {
  const w = Math.min(stop, start + WINDOW);
  const s = latin1(buf, start, w);
  if (s.indexOf("\n\r\n") >= 0 || s.indexOf("\n\n") >= 0) return s;
  if (w >= stop) return undefined;
  const a = buf.indexOf(END_CRLF, w - 2);
  const b = buf.indexOf(END_LF, w - 1);
  const end = Math.min(a < 0 ? Number.POSITIVE_INFINITY : a + 3, b < 0 ? Number.POSITIVE_INFINITY : b + 2);
  return end <= stop ? latin1(buf, start, end) : undefined;
}

/**
 * Whether a Host header value agrees with a request-target that is not origin-form. Only an
 * absolute-form target ("scheme://authority…") names a host; for asterisk-form ("*") and
 * authority-form (CONNECT) this holds. The authority (userinfo dropped) must equal the Host value
 * ignoring ASCII case, or differ from it only by the scheme's default port (":80" for http,
 * ":443" for https) on one side.
 */
export function hostMatchesTarget(host: string, target: string): boolean {
  const sep = target.indexOf("://");
  if (sep <= 0) return true;
  for (let i = 0; i < sep; i++) {
    const c = target.charCodeAt(i) | 0x20;
    const alpha = c >= 97 && c <= 122;
    // A scheme is ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1).
    if (!alpha && (i === 0 || !((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46))) return true;
  }
  const a = sep + 3;
  let b = a;
  while (b < target.length) {
    const c = target.charCodeAt(b);
    if (c === SLASH || c === 63 || c === 35) break; // "/", "?", "#"
    b++;
  }
  const at = target.lastIndexOf("@", b - 1);
  const authority = target.slice(at >= a ? at + 1 : a, b).toLowerCase();
  const h = host.toLowerCase();
  if (h === authority) return true;
  const scheme = target.slice(0, sep).toLowerCase();
  const port = scheme === "http" ? ":80" : scheme === "https" ? ":443" : "";
  return port !== "" && (h === `${authority}${port}` || authority === `${h}${port}`);
}
