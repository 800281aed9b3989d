/**
 * Raw-socket test helpers for the HTTP data plane: a client that writes exact bytes and parses
 * the response(s) it gets back, back ends that identify themselves, and a stand-alone
 * HttpListener with InService back ends.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { DesyncMitigationMode } from "../../src/model/attributes.js";
import type { Stickiness } from "../../src/model/node-spec.js";
import { roundRobin } from "../../src/proxy/balancer/round-robin.js";
import { BackendHealth } from "../../src/proxy/health/state.js";
import { HttpListener } from "../../src/proxy/http/listener.js";
import { LoadBalancerMetrics } from "../../src/proxy/metrics.js";
import { PoolRegistry } from "../../src/proxy/pools.js";
import { silentLogger } from "../../src/util/logger.js";
import { closeServer, freePort, listen, portOf } from "./helpers.js";

export interface RawResponse {
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  /** The head as received, without the final empty line. */
  readonly head: string;
  readonly headers: readonly (readonly [string, string])[];
  /** The body, de-chunked when chunked. */
  readonly body: Buffer;
  readonly chunked: boolean;
  readonly trailers: readonly (readonly [string, string])[];
}

/** The values of field `name` (case-insensitive) in a response's headers. */
export function headerAll(r: RawResponse, name: string): string[] {
  const l = name.toLowerCase();
  return r.headers.filter(([n]) => n.toLowerCase() === l).map(([, v]) => v);
}

/** The first value of field `name`, or undefined. */
export function header(r: RawResponse, name: string): string | undefined {
  return headerAll(r, name)[0];
}

function fields(lines: readonly string[]): [string, string][] {
  return lines.map((l) => {
    const i = l.indexOf(":");
    if (i < 0) throw new Error(`malformed header line ${JSON.stringify(l)}`);
    return [l.slice(0, i).trim(), l.slice(i + 1).trim()];
  });
}

/** One response from buf[0]: null when more bytes are needed; throws when it is malformed. */
function parseOne(buf: Buffer, ended: boolean, noBody: boolean): { res: RawResponse; used: number } | null {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString("latin1");
  const [statusLine = "", ...lines] = head.split("\r\n");
  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (m === null) throw new Error(`malformed status line ${JSON.stringify(statusLine.slice(0, 80))}`);
  const headers = fields(lines);
  const status = Number(m[2]);
  const base = { version: m[1] as string, status, reason: m[3] ?? "", head, headers };
  let p = end + 4;
  const te = headers.find(([n]) => n.toLowerCase() === "transfer-encoding")?.[1];
  const cl = headers.find(([n]) => n.toLowerCase() === "content-length")?.[1];
  if (noBody || status < 200 || status === 204 || status === 304) {
    return { res: { ...base, body: Buffer.alloc(0), chunked: false, trailers: [] }, used: p };
  }
  if (te !== undefined && /chunked/i.test(te)) {
    const parts: Buffer[] = [];
    for (;;) {
      const le = buf.indexOf("\r\n", p);
      if (le < 0) return null;
      const size = Number.parseInt((buf.subarray(p, le).toString("latin1").split(";")[0] ?? "").trim(), 16);
      if (!Number.isFinite(size)) throw new Error("malformed chunk size");
      p = le + 2;
      if (size === 0) {
        const trailerLines: string[] = [];
        for (;;) {
          const te2 = buf.indexOf("\r\n", p);
          if (te2 < 0) return null;
          const line = buf.subarray(p, te2).toString("latin1");
          p = te2 + 2;
          if (line === "") break;
          trailerLines.push(line);
        }
        const res = { ...base, body: Buffer.concat(parts), chunked: true, trailers: fields(trailerLines) };
        return { res, used: p };
      }
      if (buf.length < p + size + 2) return null;
      parts.push(buf.subarray(p, p + size));
      if (buf.toString("latin1", p + size, p + size + 2) !== "\r\n") throw new Error("chunk without CRLF");
      p += size + 2;
    }
  }
  if (cl !== undefined) {
    const n = Number(cl);
    if (buf.length - p < n) return null;
    return { res: { ...base, body: buf.subarray(p, p + n), chunked: false, trailers: [] }, used: p + n };
  }
  if (!ended) return null;
  return { res: { ...base, body: buf.subarray(p), chunked: false, trailers: [] }, used: buf.length };
}

/** A client on a raw socket: what it writes is sent as is; what arrives is kept until parsed. */
export class RawClient {
  readonly socket: Socket;
  error: Error | null = null;
  #buf: Buffer = Buffer.alloc(0);
  #ended = false;
  #closed = false;
  #closedAt = 0;
  #wake: (() => void) | null = null;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (c: Buffer) => {
      this.#buf = this.#buf.length === 0 ? c : Buffer.concat([this.#buf, c]);
      this.#poke();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#poke();
    });
    socket.on("error", (err) => {
      this.error = err;
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#closed = true;
      this.#closedAt = performance.now();
      this.#poke();
    });
  }

  static async connect(host: string, port: number): Promise<RawClient> {
    const socket = connect({ host, port });
    const c = new RawClient(socket);
    await once(socket, "connect");
    return c;
  }

  /** The peer ended or the socket closed. */
  get ended(): boolean {
    return this.#ended;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes received and not consumed by `response()` / `bytes()`. */
  get pending(): Buffer {
    return this.#buf;
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(data);
  }

  end(data?: string | Buffer): void {
    if (data === undefined) this.socket.end();
    else this.socket.end(data);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The next whole response (`noBody`: it answers a HEAD). */
  async response(timeoutMs = 5000, noBody = false): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = parseOne(this.#buf, this.#ended, noBody);
      if (r !== null) {
        this.#buf = this.#buf.subarray(r.used);
        return r.res;
      }
      if (this.#ended) {
        const got = JSON.stringify(this.#buf.toString("latin1").slice(0, 120));
        throw new Error(`connection ended before a whole response; received ${got}`);
      }
      await this.#next(deadline, "a response");
    }
  }

  /** Exactly `n` raw bytes (a tunnel's), consumed. */
  async bytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.#buf.length < n) {
      if (this.#ended) throw new Error(`connection ended after ${this.#buf.length} of ${n} bytes`);
      await this.#next(deadline, `${n} bytes`);
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Waits for the socket to close; returns how long that took (ms) from the call. */
  async waitClose(timeoutMs = 5000): Promise<number> {
    const t0 = performance.now();
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) await this.#next(deadline, "the connection to close");
    return Math.max(0, this.#closedAt - t0);
  }

  /** Whether the connection is still open after `ms` (it is left open). */
  async staysOpen(ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return !this.#closed && !this.#ended;
  }

  #poke(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  #next(deadline: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const left = deadline - Date.now();
      if (left <= 0) {
        reject(new Error(`timed out waiting for ${what}`));
        return;
      }
      const t = setTimeout(() => {
        this.#wake = null;
        reject(new Error(`timed out waiting for ${what}`));
      }, left);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}

/** Connects, writes `bytes`, and reads `count` responses. */
export async function rawRequest(
  host: string,
  port: number,
  bytes: string | Buffer,
  count = 1,
): Promise<{ client: RawClient; responses: RawResponse[] }> {
  const client = await RawClient.connect(host, port);
  client.write(bytes);
  const responses: RawResponse[] = [];
  try {
    for (let i = 0; i < count; i++) responses.push(await client.response());
  } catch (err) {
    client.destroy();
    throw err;
  }
  return { client, responses };
}

/** A GET request head for `path`. */
export function get(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: lb.test\r\n${extra}\r\n`;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** node:http back ends on several loopback addresses sharing one port (a listener's instancePort). */
export async function sharedPortBackends(
  hosts: readonly string[],
  make: (i: number) => Handler,
): Promise<Server[]> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const first = await listen(createServer(make(0)), hosts[0]);
    const out = [first];
    try {
      for (let i = 1; i < hosts.length; i++)
        out.push(await listen(createServer(make(i)), hosts[i], portOf(first)));
      return out;
    } catch {
      for (const s of out) await closeServer(s);
    }
  }
  throw new Error("no common free port for the back ends");
}

/** A raw TCP back end; `close()` also cuts its open connections. */
export async function rawBackend(
  onConnection: (s: Socket) => void,
): Promise<{ server: NetServer; port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    onConnection(s);
  });
  await listen(server, "127.0.0.1");
  return {
    server,
    port: portOf(server),
    close: async () => {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
}

/** A back end's health, InService at once. */
export function healthy(instanceId: string, address = "127.0.0.1"): BackendHealth {
  const h = new BackendHealth(instanceId, address);
  h.record(true, { healthyThreshold: 1, unhealthyThreshold: 1 });
  return h;
}

/** Marks a back end OutOfService (one failed check with threshold 1). */
export function markUnhealthy(h: BackendHealth): void {
  h.record(false, { healthyThreshold: 1, unhealthyThreshold: 1 });
}

export interface TestListener {
  readonly listener: HttpListener;
  readonly metrics: LoadBalancerMetrics;
  readonly pools: PoolRegistry;
  readonly address: string;
  readonly port: number;
  /** Applies the listener's spec again with `over` changed, routing to the same back ends. */
  configure(over: RouteSettings): void;
  close(): Promise<void>;
}

/** What a test sets of a plain HTTP listener's spec. */
export interface RouteSettings {
  readonly desyncMode?: DesyncMitigationMode;
  readonly stickiness?: Stickiness;
  readonly idleTimeoutSeconds?: number;
}

/**
 * Applies to `listener` the spec of a plain HTTP listener of load balancer "lb" (defensive, no
 * stickiness, its current idle timeout unless `over` says otherwise) routing to `backends`.
 */
export function route(
  listener: HttpListener,
  backends: readonly BackendHealth[],
  instancePort: number,
  over: RouteSettings = {},
): void {
  listener.apply({
    loadBalancer: "lb",
    backends,
    tls: null,
    spec: {
      port: listener.port,
      protocol: "HTTP",
      engine: "http",
      idleTimeoutSeconds: over.idleTimeoutSeconds ?? listener.idleTimeoutMs / 1000,
      desyncMode: over.desyncMode ?? "defensive",
      stickiness: over.stickiness ?? { kind: "none" },
      tls: null,
      upstream: {
        port: instancePort,
        protocol: "HTTP",
        tls: false,
        proxyProtocol: false,
        authentication: null,
      },
    },
  });
}

/** A bound HttpListener on `address` routing to `backends` on `instancePort` (round robin). */
export async function startListener(opts: {
  address: string;
  backends: readonly BackendHealth[];
  instancePort: number;
  idleTimeoutMs?: number;
  surgeCapacity?: number;
  maxConnections?: number;
  policy?: RouteSettings;
}): Promise<TestListener> {
  const metrics = new LoadBalancerMetrics();
  const pools = new PoolRegistry(opts.maxConnections);
  const port = await freePort(opts.address);
  const listener = new HttpListener({
    address: opts.address,
    port,
    metrics,
    pools,
    balancer: roundRobin,
    log: silentLogger,
    ...(opts.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: opts.idleTimeoutMs }),
    ...(opts.surgeCapacity === undefined ? {} : { surgeCapacity: opts.surgeCapacity }),
  });
  route(listener, opts.backends, opts.instancePort, opts.policy);
  if (!(await listener.listen())) throw new Error(`cannot bind ${opts.address}:${port}`);
  return {
    listener,
    metrics,
    pools,
    address: opts.address,
    port,
    configure: (over) => route(listener, opts.backends, opts.instancePort, { ...opts.policy, ...over }),
    close: async () => {
      await listener.close(200);
      await pools.closeAll(200);
    },
  };
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
