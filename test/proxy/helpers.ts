import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, request, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from "node:net";
import type { Backend } from "../../src/model/node-spec.js";
import type { NodeSource } from "../../src/model/resolve-node.js";
import type { HealthCheck, Listener } from "../../src/model/types.js";

/** Binds port 0 on `host`, frees it, and returns the port: a port the test can give a listener. */
export async function freePort(host: string): Promise<number> {
  const s = createNetServer();
  s.listen(0, host);
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, "close");
  return port;
}

export function portOf(s: Server | NetServer): number {
  return (s.address() as AddressInfo).port;
}

export async function listen<S extends Server | NetServer>(s: S, host = "127.0.0.1", port = 0): Promise<S> {
  s.listen(port, host);
  await once(s, "listening");
  return s;
}

/** An HTTP back end that answers with its name and echoes what it was sent, for assertions. */
export interface EchoBackend {
  readonly server: Server;
  readonly port: number;
  readonly name: string;
  hits: number;
  lastHeaders: IncomingHttpHeaders;
  lastRawHeaders: string[];
}

export async function echoBackend(name: string, host = "127.0.0.1", port = 0): Promise<EchoBackend> {
  const b: EchoBackend = {
    server: createServer(),
    port: 0,
    name,
    hits: 0,
    lastHeaders: {},
    lastRawHeaders: [],
  };
  b.server.on("request", (req, res) => {
    if (req.url === "/health") {
      res.end("ok");
      return;
    }
    b.hits++;
    b.lastHeaders = req.headers;
    b.lastRawHeaders = req.rawHeaders;
    if (req.url?.startsWith("/slow/")) {
      const ms = Number(req.url.slice(6));
      setTimeout(() => res.end(`${name} slow`), ms);
      return;
    }
    if (req.url?.startsWith("/big/")) {
      const size = Number(req.url.slice(5));
      res.writeHead(200, { "content-type": "application/octet-stream", "x-backend": name });
      sendBytes(res, size);
      return;
    }
    if (req.method === "POST" || req.method === "PUT") {
      // Echo the body back, streaming.
      res.writeHead(200, {
        "x-backend": name,
        "x-request-te": String(req.headers["transfer-encoding"] ?? ""),
      });
      req.pipe(res);
      return;
    }
    res.writeHead(200, {
      "content-type": "text/plain",
      "x-backend": name,
      Connection: "keep-alive, X-Hop",
      "X-Hop": "secret",
    });
    res.end(name);
  });
  await listen(b.server, host, port);
  return Object.assign(b, { port: portOf(b.server) });
}

/** Writes `size` bytes of "a" to `res` as the client takes them, then ends it; stops if `res` closes first. */
export function sendBytes(res: ServerResponse, size: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  const pump = (): void => {
    while (sent < size) {
      const n = Math.min(chunk.length, size - sent);
      sent += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once("drain", pump);
        return;
      }
    }
    res.end();
  };
  res.on("close", () => {
    sent = size;
  });
  pump();
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request, no agent (a fresh connection), body collected. */
export function fetchRaw(
  host: string,
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | Buffer[] } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({
      host,
      port,
      path,
      method: opts.method ?? "GET",
      headers: opts.headers,
      agent: false,
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    if (Array.isArray(opts.body)) {
      for (const c of opts.body) req.write(c);
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}

/** Polls `cond` every 20 ms, at most `ms` long; throws with `what` if it never holds. */
export async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function backend(instanceId: string, address = "127.0.0.1"): Backend {
  return { instanceId, address, zone: "zone-a" };
}

export function httpListener(port: number, instancePort: number): Listener {
  return { protocol: "HTTP", loadBalancerPort: port, instanceProtocol: "HTTP", instancePort };
}

export function tcpListener(port: number, instancePort: number): Listener {
  return { protocol: "TCP", loadBalancerPort: port, instanceProtocol: "TCP", instancePort };
}

/** A fast health check for tests (the API enforces ELB's minimums; the runtime takes any positive). */
export function fastHealthCheck(target: string, over: Partial<HealthCheck> = {}): HealthCheck {
  return { target, interval: 0.05, timeout: 0.5, unhealthyThreshold: 2, healthyThreshold: 2, ...over };
}

export function lbSpec(
  name: string,
  listeners: readonly Listener[],
  backends: readonly Backend[],
  healthCheck: HealthCheck,
  revision = 1,
): NodeSource {
  return { name, revision, dnsName: `${name}.test`, listeners, healthCheck, backends };
}

/**
 * Back ends on several loopback addresses sharing one port, as a listener's instancePort is one
 * port for all its back ends. Retries a few times if the port is taken on another address.
 */
export async function echoBackends(hosts: readonly string[]): Promise<EchoBackend[]> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const first = await echoBackend("b0", hosts[0]);
    const out = [first];
    try {
      for (let i = 1; i < hosts.length; i++) out.push(await echoBackend(`b${i}`, hosts[i], first.port));
      return out;
    } catch {
      for (const b of out) b.server.close();
    }
  }
  throw new Error("no common free port for the back ends");
}

export async function closeServer(s: Server | NetServer): Promise<void> {
  if (!s.listening) return;
  if ("closeAllConnections" in s) s.closeAllConnections();
  await new Promise<void>((r) => s.close(() => r()));
}
