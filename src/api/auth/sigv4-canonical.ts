/**
 * The pure parts of AWS Signature Version 4: canonical request, string to sign, signing key.
 * Everything here works on bytes, so a malformed percent escape or a non-UTF-8 sequence in a
 * request can never throw; it just canonicalises to something that will not match.
 */
import { createHash, createHmac } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const TERMINATOR = "aws4_request";

const HEX = "0123456789ABCDEF";

function isUnreserved(b: number): boolean {
  return (
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    (b >= 0x30 && b <= 0x39) || // 0-9
    b === 0x2d || // -
    b === 0x2e || // .
    b === 0x5f || // _
    b === 0x7e // ~
  );
}

/** RFC 3986 encoding as SigV4 defines it: every byte but the unreserved ones as %XX, upper case. */
export function uriEncode(bytes: Buffer, keepSlash = false): string {
  let out = "";
  for (const b of bytes) {
    if (isUnreserved(b) || (keepSlash && b === 0x2f)) out += String.fromCharCode(b);
    else out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Percent-decoding to bytes; an invalid escape stays literal instead of throwing. `+` stays `+`. */
export function percentDecode(s: string): Buffer {
  const src = Buffer.from(s, "utf8");
  const out = Buffer.alloc(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i] as number;
    if (b === 0x25 && i + 2 < src.length) {
      const hi = hexValue(src[i + 1] as number);
      const lo = hexValue(src[i + 2] as number);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = b;
  }
  return out.subarray(0, n);
}

export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf("?");
  const raw = q < 0 ? url : url.slice(0, q);
  return { path: raw === "" ? "/" : raw, query: q < 0 ? "" : url.slice(q + 1) };
}

/** Query parameters as received, decoded (names and values), in order. */
export function parseQuery(query: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? "" : part.slice(eq + 1);
    out.push([percentDecode(k).toString("utf8"), percentDecode(v).toString("utf8")]);
  }
  return out;
}

/**
 * The canonical URI for every service but S3: the path normalised (`.`/`..`/empty segments
 * removed) and URI-encoded again, so an already-encoded path ends up encoded twice.
 */
export function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") segments.pop();
    else segments.push(seg);
  }
  const trailing = segments.length > 0 && path.endsWith("/") ? "/" : "";
  const normalized = `/${segments.join("/")}${trailing}`;
  return uriEncode(Buffer.from(normalized, "utf8"), true);
}

/** Sorted by encoded name then encoded value; `omit` drops the signature of a presigned URL. */
export function canonicalQuery(query: string, omit?: string): string {
  const pairs: [string, string][] = [];
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const k = uriEncode(percentDecode(eq < 0 ? part : part.slice(0, eq)));
    const v = uriEncode(percentDecode(eq < 0 ? "" : part.slice(eq + 1)));
    if (omit !== undefined && k === omit) continue;
    pairs.push([k, v]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

/** The value of one header as received; Node joins repeated headers, arrays are joined with ",". */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  if (!Object.hasOwn(headers, name)) return undefined;
  const v: unknown = headers[name];
  if (typeof v === "string") return v;
  return Array.isArray(v) ? v.join(",") : undefined;
}

/** Trim and collapse runs of spaces, as the spec says (quoted strings are not special-cased). */
export function canonicalHeaderValue(v: string): string {
  return v.trim().replace(/\s+/g, " ");
}

export function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export interface CanonicalRequestInput {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly omitQueryParam?: string;
  /** Lower-cased header names as listed in SignedHeaders, and their received values. */
  readonly signedHeaders: readonly (readonly [string, string])[];
  readonly signedHeadersLine: string;
  readonly payloadHash: string;
}

export function canonicalRequest(input: CanonicalRequestInput): string {
  const headers = input.signedHeaders.map(([k, v]) => `${k}:${canonicalHeaderValue(v)}\n`).join("");
  return [
    input.method.toUpperCase(),
    canonicalUri(input.path),
    canonicalQuery(input.query, input.omitQueryParam),
    headers,
    input.signedHeadersLine,
    input.payloadHash,
  ].join("\n");
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join("\n");
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac("sha256", `AWS4${secret}`).update(date).digest();
  const kRegion = createHmac("sha256", kDate).update(region).digest();
  const kService = createHmac("sha256", kRegion).update(service).digest();
  return createHmac("sha256", kService).update(TERMINATOR).digest();
}

/**
 * Derived signing keys, so a caller's requests of one day pay one HMAC instead of five. Keyed by
 * the secret itself as well as its scope: a rotated or replaced secret derives a new key, never
 * a stale one. Memory only, like the credential it comes from; bounded (cleared when full).
 */
export class SigningKeyCache {
  readonly #keys = new Map<string, Buffer>();
  readonly #max: number;

  constructor(max = 1000) {
    this.#max = max;
  }

  get size(): number {
    return this.#keys.size;
  }

  key(secret: string, date: string, region: string, service: string): Buffer {
    const id = `${date}\n${region}\n${service}\n${secret}`;
    let key = this.#keys.get(id);
    if (key === undefined) {
      key = signingKey(secret, date, region, service);
      if (this.#keys.size >= this.#max) this.#keys.clear();
      this.#keys.set(id, key);
    }
    return key;
  }
}

export function signatureHex(key: Buffer, toSign: string): string {
  return createHmac("sha256", key).update(toSign).digest("hex");
}

/** `20121212T000000Z`, the ISO 8601 basic format SigV4 uses. */
export function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Parses `20121212T000000Z`; undefined if it is not exactly that shape or not a real instant. */
export function parseAmzDate(s: string): Date | undefined {
  const m = AMZ_DATE.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m;
  const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  const date = new Date(t);
  return Number.isNaN(t) || amzDate(date) !== s ? undefined : date;
}
