/**
 * Header rewriting at the proxy boundary. Hop-by-hop fields (RFC 9110 §7.6.1) never cross it, in
 * either direction, nor do fields the `Connection` header names. Names are compared lowercased
 * only when their length matches a field of interest, which keeps the common case to one
 * `length` read per field.
 */

const DROP = 1;
const XFF = 2;

/** What to do with a request field: keep (0), drop, or merge into X-Forwarded-For. */
function requestFieldKind(name: string): number {
  switch (name.length) {
    case 2:
      return name.toLowerCase() === "te" ? DROP : 0;
    case 6:
      // undici does not forward `Expect`; node:http has already answered 100-continue.
      return name.toLowerCase() === "expect" ? DROP : 0;
    case 7: {
      const l = name.toLowerCase();
      return l === "upgrade" || l === "trailer" ? DROP : 0;
    }
    case 10: {
      const l = name.toLowerCase();
      return l === "connection" || l === "keep-alive" ? DROP : 0;
    }
    case 15:
      return name.toLowerCase() === "x-forwarded-for" ? XFF : 0;
    case 16: {
      const l = name.toLowerCase();
      return l === "proxy-connection" || l === "x-forwarded-port" ? DROP : 0;
    }
    case 17: {
      const l = name.toLowerCase();
      return l === "transfer-encoding" || l === "x-forwarded-proto" ? DROP : 0;
    }
    default:
      return 0;
  }
}

function responseFieldDropped(name: string): boolean {
  switch (name.length) {
    case 2:
      return name.toLowerCase() === "te";
    case 7: {
      const l = name.toLowerCase();
      return l === "upgrade" || l === "trailer";
    }
    case 10: {
      const l = name.toLowerCase();
      return l === "connection" || l === "keep-alive";
    }
    case 16:
      return name.toLowerCase() === "proxy-connection";
    case 17:
      return name.toLowerCase() === "transfer-encoding";
    default:
      return false;
  }
}

/** Lowercased tokens of every `Connection` field in a flat name/value list, or null if none. */
function connectionTokens(raw: readonly (string | Buffer)[]): Set<string> | null {
  let tokens: Set<string> | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i];
    if (n === undefined || n.length !== 10) continue;
    if (String(n).toLowerCase() !== "connection") continue;
    tokens ??= new Set();
    for (const t of String(raw[i + 1]).split(",")) {
      const tok = t.trim().toLowerCase();
      if (tok !== "" && tok !== "close" && tok !== "keep-alive") tokens.add(tok);
    }
  }
  return tokens;
}

/**
 * The fields to send to the back end: the client's, minus hop-by-hop fields, with X-Forwarded-For
 * appended to (the client's own value is kept) and X-Forwarded-Proto/-Port set by us.
 */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  clientIp: string,
  port: string,
  proto = "http",
): string[] {
  const nominated = connectionTokens(rawHeaders);
  const out: string[] = [];
  let xff: string | null = null;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    const kind = requestFieldKind(name);
    if (kind === DROP) continue;
    if (kind === XFF) {
      xff = xff === null ? value : `${xff}, ${value}`;
      continue;
    }
    if (nominated?.has(name.toLowerCase())) continue;
    out.push(name, value);
  }
  out.push(
    "X-Forwarded-For",
    xff === null ? clientIp : `${xff}, ${clientIp}`,
    "X-Forwarded-Proto",
    proto,
    "X-Forwarded-Port",
    port,
  );
  return out;
}

/** The back end's response fields as strings for `writeHead`, minus hop-by-hop fields. */
export function downstreamResponseHeaders(raw: readonly (string | Buffer)[]): string[] {
  const nominated = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i] as string | Buffer;
    const v = raw[i + 1] as string | Buffer;
    const name = typeof n === "string" ? n : n.toString("latin1");
    if (responseFieldDropped(name)) continue;
    if (nominated?.has(name.toLowerCase())) continue;
    out.push(name, typeof v === "string" ? v : v.toString("latin1"));
  }
  return out;
}
