/**
 * Classic ELB access logs, written locally: one line per HTTP/HTTPS request, or per TCP/SSL
 * connection, in ELB's format, one file per EmitInterval named as ELB names its objects
 * (`<account>_elasticloadbalancing_<region>_<lb>_<YYYYMMDDTHHmmZ>_<node-ip>_<random>.log`, the
 * interval's start time in the name). Lines go into a buffered write stream; the request path
 * never waits on the disk, and a stream that falls too far behind drops lines rather than grow.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../util/logger.js";

export const DEFAULT_ACCOUNT = "000000000000";
export const DEFAULT_REGION = "us-east-1";
/** Bytes a stream may hold unwritten before lines are dropped. */
const MAX_BUFFERED = 4 * 1024 * 1024;

export interface AccessLogOptions {
  /** This load balancer's directory (created if missing). */
  readonly dir: string;
  readonly loadBalancer: string;
  readonly nodeIp: string;
  /** Minutes: 5 or 60. */
  readonly emitInterval: number;
  readonly log: Logger;
  readonly account?: string;
  readonly region?: string;
}

/** The parts of an HTTP request a line needs: a node:http IncomingMessage has them. */
export interface AccessLogRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly httpVersion: string;
  readonly headers: {
    host?: string | undefined;
    "user-agent"?: string | undefined;
    "content-length"?: string | undefined;
  };
}

/** Where the request went: a back end's host and port, or nowhere. */
export interface AccessLogBackend {
  readonly host: string;
  readonly port: number;
}

/**
 * One TCP/SSL connection, for its line. Times are ms; -1 when the event did not happen
 * (no back end reached, no byte from the client, none from the back end).
 */
export interface ConnectionLogEntry {
  /** `performance.now()` when the connection was accepted (after the handshake for SSL). */
  readonly startedAt: number;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly backend: AccessLogBackend | null;
  /** From accepting the connection to sending the back end its first byte of client data. */
  readonly requestMs: number;
  /** Establishing the back-end connection (with its TLS handshake for SSL back ends). */
  readonly backendMs: number;
  /** From the back end's first byte to handing it to the client. */
  readonly responseMs: number;
  readonly receivedBytes: number;
  readonly sentBytes: number;
  /** SSL listeners: the negotiated cipher and protocol; null for TCP. */
  readonly ssl: { readonly cipher: string; readonly protocol: string } | null;
}

export class AccessLog {
  readonly #dir: string;
  readonly #loadBalancer: string;
  readonly #account: string;
  readonly #region: string;
  readonly #log: Logger;
  #nodeIp: string;
  #intervalMs: number;
  #stream: WriteStream | null = null;
  #streamEnd = 0;
  #timer: NodeJS.Timeout | null = null;
  #closing: Promise<void>[] = [];
  #closed = false;
  /** Lines dropped because the disk fell behind. */
  dropped = 0;

  constructor(opts: AccessLogOptions) {
    this.#dir = opts.dir;
    this.#loadBalancer = opts.loadBalancer;
    this.#account = opts.account ?? DEFAULT_ACCOUNT;
    this.#region = opts.region ?? DEFAULT_REGION;
    this.#log = opts.log;
    this.#nodeIp = opts.nodeIp;
    this.#intervalMs = intervalMs(opts.emitInterval);
    // Created when a load balancer's logging is turned on (a config apply), not on a request.
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
  }

  /** A new node address or EmitInterval takes effect with the next file. */
  update(nodeIp: string, emitInterval: number): void {
    const ms = intervalMs(emitInterval);
    if (nodeIp === this.#nodeIp && ms === this.#intervalMs) return;
    this.#nodeIp = nodeIp;
    this.#intervalMs = ms;
    this.#endStream();
  }

  /**
   * One completed request, on client connection `sock` (taken at arrival: node:http detaches it
   * from the request when the response ends). `startedAt` is the `performance.now()` of its arrival; `elbStatus` and
   * `backendStatus` are 0 when there was none ("-"), `backendMs` is -1 when no back end answered.
   */
  record(
    req: AccessLogRequest,
    sock: Socket,
    startedAt: number,
    backend: AccessLogBackend | null,
    elbStatus: number,
    backendStatus: number,
    backendMs: number,
    sentBytes: number,
  ): void {
    const stream = this.#writable();
    if (stream === null) return;
    const answered = backendMs >= 0;
    const given = req.headers.host;
    const host = quoted(
      given === undefined ? hostOnly(sock.localAddress ?? "-", true) : hostOnly(given, false),
    );
    const cl = req.headers["content-length"];
    const received = cl === undefined ? 0 : Number(cl) || 0;
    const ua = req.headers["user-agent"];
    const tls = (sock as Partial<TLSSocket>).encrypted === true ? (sock as TLSSocket) : null;
    stream.write(
      `${timestamp(startedAt)} ${this.#loadBalancer} ` +
        `${sock.remoteAddress ?? "-"}:${sock.remotePort ?? 0} ` +
        `${backend === null ? "-" : `${backend.host}:${backend.port}`} ` +
        `${answered ? "0.000000" : "-1"} ${answered ? (backendMs / 1000).toFixed(6) : "-1"} ${answered ? "0.000000" : "-1"} ` +
        `${elbStatus === 0 ? "-" : elbStatus} ${backendStatus === 0 ? "-" : backendStatus} ${received} ${sentBytes} ` +
        `"${req.method ?? "-"} ${tls === null ? "http" : "https"}://${host}:${sock.localPort ?? 0}${quoted(req.url ?? "/")} HTTP/${req.httpVersion}" ` +
        `"${ua === undefined ? "-" : quoted(ua)}" ` +
        `${tls === null ? "- -" : `${tls.getCipher().name || "-"} ${tls.getProtocol() ?? "-"}`}\n`,
    );
  }

  /**
   * One TCP/SSL connection, in ELB's form for those listeners: no status codes, the request
   * `"- - - "`, the user agent `"-"`, bytes counted both ways, the cipher and protocol for SSL.
   */
  recordConnection(e: ConnectionLogEntry): void {
    const stream = this.#writable();
    if (stream === null) return;
    stream.write(
      `${timestamp(e.startedAt)} ${this.#loadBalancer} ${e.clientAddress}:${e.clientPort} ` +
        `${e.backend === null ? "-" : `${e.backend.host}:${e.backend.port}`} ` +
        `${seconds(e.requestMs)} ${seconds(e.backendMs)} ${seconds(e.responseMs)} - - ` +
        `${e.receivedBytes} ${e.sentBytes} "- - - " "-" ` +
        `${e.ssl === null ? "- -" : `${e.ssl.cipher || "-"} ${e.ssl.protocol || "-"}`}\n`,
    );
  }

  /** Flushes and closes the current file; later records are ignored. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#endStream();
    await Promise.all(this.#closing);
  }

  /** The current interval's stream, or null when closed or too far behind (the line is dropped). */
  #writable(): WriteStream | null {
    if (this.#closed) return null;
    const now = Date.now();
    const stream = now >= this.#streamEnd || this.#stream === null ? this.#rotate(now) : this.#stream;
    if (stream.writableLength > MAX_BUFFERED) {
      this.dropped++;
      return null;
    }
    return stream;
  }

  #rotate(now: number): WriteStream {
    this.#endStream();
    const start = Math.floor(now / this.#intervalMs) * this.#intervalMs;
    this.#streamEnd = start + this.#intervalMs;
    const name =
      `${this.#account}_elasticloadbalancing_${this.#region}_${this.#loadBalancer}_` +
      `${fileTime(start)}_${this.#nodeIp}_${randomBytes(4).toString("hex")}.log`;
    const stream = createWriteStream(join(this.#dir, name), { flags: "a", mode: 0o600 });
    stream.on("error", (err) => this.#log.warn("access log write failed", { file: name, err: String(err) }));
    this.#stream = stream;
    // The file is closed when its interval ends, with or without traffic.
    this.#timer = setTimeout(() => this.#endStream(), this.#streamEnd - now);
    this.#timer.unref();
    return stream;
  }

  #endStream(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const stream = this.#stream;
    if (stream === null) return;
    this.#stream = null;
    this.#streamEnd = 0;
    const closed = new Promise<void>((resolve) => {
      stream.once("close", () => resolve());
      stream.end();
    });
    this.#closing.push(closed);
    void closed.then(() => {
      this.#closing = this.#closing.filter((p) => p !== closed);
    });
  }
}

/** ISO 8601 with microseconds, as ELB writes it, from a `performance.now()` value. */
function timestamp(startedAt: number): string {
  return `${new Date(performance.timeOrigin + startedAt).toISOString().slice(0, -1)}000Z`;
}

/** A duration in seconds with six decimals, or -1. */
function seconds(ms: number): string {
  return ms < 0 ? "-1" : (ms / 1000).toFixed(6);
}

function intervalMs(minutes: number): number {
  return (minutes === 5 ? 5 : 60) * 60_000;
}

/** YYYYMMDDTHHmmZ, UTC. */
export function fileTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-24T00:35:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z`;
}

/**
 * The host part of a Host header value, or of the node's own address when the request had none
 * (an IPv4-mapped address unmapped, an IPv6 one bracketed).
 */
function hostOnly(host: string, fromSocket: boolean): string {
  if (fromSocket) {
    if (host.startsWith("::ffff:") && host.includes(".")) return host.slice(7);
    return host.includes(":") ? `[${host}]` : host;
  }
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.indexOf(":");
  return colon < 0 ? host : host.slice(0, colon);
}

/**
 * Keeps a client-supplied value inside its quoted field: backslashes and double quotes escaped,
 * control characters (which could end the line) percent-encoded.
 */
function quoted(v: string): string {
  let plain = true;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) return v;
  let out = "";
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += `\\${v[i]}`;
    else if (c < 0x20 || c === 0x7f) out += `%${c.toString(16).toUpperCase().padStart(2, "0")}`;
    else out += v[i];
  }
  return out;
}
