/**
 * Header rewriting at the proxy boundary, as head strings written straight to the sockets.
 * Hop-by-hop fields (RFC 9110 §7.6.1) never cross it, nor do fields the `Connection` header
 * names. The request's framing is re-stated from the parsed framing (one Content-Length or
 * `Transfer-Encoding: chunked`, never both), since the body bytes are forwarded as received.
 * Names are lowercased only when their length matches a field of interest, which keeps the
 * common case to one `length` read per field.
 */

const KEEP = 0;
const DROP = 1;
const XFF = 2;
const HOST = 3;
const UPGRADE = 4;

/** What to do with a request field. */
function requestFieldKind(name: string): number {
  switch (name.length) {
    case 2:
      return name.toLowerCase() === "te" ? DROP : KEEP;
    case 4:
      return name.toLowerCase() === "host" ? HOST : KEEP;
    case 7:
      return name.toLowerCase() === "upgrade" ? UPGRADE : KEEP;
    case 10: {
      const l = name.toLowerCase();
      return l === "connection" || l === "keep-alive" ? DROP : KEEP;
    }
    case 14:
      return name.toLowerCase() === "content-length" ? DROP : KEEP;
    case 15:
      return name.toLowerCase() === "x-forwarded-for" ? XFF : KEEP;
    case 16: {
      const l = name.toLowerCase();
      return l === "proxy-connection" || l === "x-forwarded-port" ? DROP : KEEP;
    }
    case 17: {
      const l = name.toLowerCase();
      return l === "transfer-encoding" || l === "x-forwarded-proto" ? DROP : KEEP;
    }
    default:
      return KEEP;
  }
}

/** Whether a response field stops at the proxy (`Upgrade` crosses only on a 101). */
function responseFieldDropped(name: string, switching: boolean): boolean {
  switch (name.length) {
    case 2:
      return name.toLowerCase() === "te";
    case 7:
      return !switching && name.toLowerCase() === "upgrade";
    case 10: {
      const l = name.toLowerCase();
      return l === "connection" || l === "keep-alive";
    }
    case 16:
      return name.toLowerCase() === "proxy-connection";
    default:
      return false;
  }
}

/** Lowercased tokens the `Connection` fields nominate as hop-by-hop (besides close/keep-alive/upgrade), or null. */
function connectionTokens(headers: readonly string[]): Set<string> | null {
  let tokens: Set<string> | null = null;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const n = headers[i] as string;
    if (n.length !== 10 || n.toLowerCase() !== "connection") continue;
    for (const t of (headers[i + 1] as string).split(",")) {
      const tok = t.trim().toLowerCase();
      if (tok === "" || tok === "close" || tok === "keep-alive" || tok === "upgrade") continue;
      tokens ??= new Set();
      tokens.add(tok);
    }
  }
  return tokens;
}

/** What the request head sent to a back end is built from. */
export interface UpstreamRequest {
  readonly method: string;
  readonly target: string;
  /** HTTP/1.<minor> of the client's request. */
  readonly minor: number;
  readonly headers: readonly string[];
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly upgrade: boolean;
}

/**
 * The request head for the back end: the client's fields minus
 * hop-by-hop ones, the framing re-stated, a Host when the client sent none (HTTP/1.0), and
 * X-Forwarded-For appended to, X-Forwarded-Proto and X-Forwarded-Port set. An Upgrade request
 * keeps `Upgrade` and says `Connection: Upgrade`. HTTP/1.1 requests go as HTTP/1.1 (keep-alive);
 * HTTP/1.0 ones as HTTP/1.0 asking for keep-alive, so the back end never answers a 1.0 client
 * with a chunked body it could not read.
 */
export function upstreamRequestHead(
  req: UpstreamRequest,
  clientIp: string,
  port: string,
  proto: string,
  defaultHost: string,
): string {
  const headers = req.headers;
  const nominated = connectionTokens(headers);
  let head =
    req.minor === 0 ? `${req.method} ${req.target} HTTP/1.0\r\n` : `${req.method} ${req.target} HTTP/1.1\r\n`;
  let xff: string | null = null;
  let host = false;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    const kind = requestFieldKind(name);
    if (kind === DROP) continue;
    const value = headers[i + 1] as string;
    if (kind === XFF) {
      xff = xff === null ? value : `${xff}, ${value}`;
      continue;
    }
    if (kind === UPGRADE && !req.upgrade) continue;
    if (kind === HOST) host = true;
    if (nominated?.has(name.toLowerCase())) continue;
    head += `${name}: ${value}\r\n`;
  }
  if (!host) head += `Host: ${defaultHost}\r\n`;
  if (req.chunked) head += "Transfer-Encoding: chunked\r\n";
  else if (req.contentLength >= 0) head += `Content-Length: ${req.contentLength}\r\n`;
  if (req.upgrade) head += "Connection: Upgrade\r\n";
  else if (req.minor === 0) head += "Connection: keep-alive\r\n";
  head += `X-Forwarded-For: ${xff === null ? clientIp : `${xff}, ${clientIp}`}\r\nX-Forwarded-Proto: ${proto}\r\nX-Forwarded-Port: ${port}\r\n\r\n`;
  return head;
}

/** What the response head sent to the client is built from. */
export interface DownstreamResponse {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly string[];
}

/**
 * The response head for the client: the back end's status and fields minus hop-by-hop ones
 * (its framing fields are kept: the body bytes pass as received), `extra` lines appended
 * (each ending in CRLF, e.g. a stickiness Set-Cookie), and the connection's fate stated.
 * `connection` is "keep-alive", "close", "upgrade" (a 101) or "" (HTTP/1.1 keep-alive: implicit).
 */
export function downstreamResponseHead(
  res: DownstreamResponse,
  connection: "" | "keep-alive" | "close" | "upgrade",
  extra: string,
): string {
  const headers = res.headers;
  const switching = connection === "upgrade";
  const nominated = connectionTokens(headers);
  let head = `HTTP/1.1 ${res.status} ${res.reason}\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    if (responseFieldDropped(name, switching)) continue;
    if (nominated?.has(name.toLowerCase())) continue;
    head += `${name}: ${headers[i + 1] as string}\r\n`;
  }
  head += extra;
  if (connection === "close") head += "Connection: close\r\n";
  else if (connection === "keep-alive") head += "Connection: keep-alive\r\n";
  else if (switching) head += "Connection: Upgrade\r\n";
  return `${head}\r\n`;
}

/** The value of the first field named `lower` (compared case-insensitively), or undefined. */
export function fieldValue(headers: readonly string[], lower: string): string | undefined {
  const len = lower.length;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const n = headers[i] as string;
    if (n.length === len && n.toLowerCase() === lower) return headers[i + 1];
  }
  return undefined;
}
