/**
 * The unauthenticated endpoints every Ballast process answers for its operators' tools:
 *
 *   GET /metrics  → Prometheus text (numbers only: no names of principals, no secrets)
 *   GET /healthz  → 200 {"status":"alive"} while the process runs its event loop
 *   GET /readyz   → 200 or 503 with a short JSON body saying why
 *
 * `observabilityRoute` answers them on any node:http server (the control plane's API port);
 * `startObservabilityServer` is a listener of its own (an agent's metrics address, or the control
 * plane's --metrics-listen). Nothing is read from the request but its method and path.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "./logger.js";
import { EXPOSITION_CONTENT_TYPE } from "./prometheus.js";

export interface Readiness {
  readonly ready: boolean;
  /** A few fields that say why (shown in the body beside `status`). */
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface ObservabilityHandlers {
  /** The exposition; absent: /metrics is not served here. */
  readonly metrics?: () => Promise<string>;
  readonly readiness: () => Promise<Readiness>;
  readonly logger: Logger;
}

export type ObservabilityPath = "/metrics" | "/healthz" | "/readyz";

/** The observability path `req` asks for, if any (a query string is ignored). */
export function observabilityPath(req: IncomingMessage, withMetrics: boolean): ObservabilityPath | undefined {
  const url = req.url ?? "";
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  if (path === "/healthz" || path === "/readyz") return path;
  if (withMetrics && path === "/metrics") return path;
  return undefined;
}

/** Answers `req` if it asks for an observability path; false when it is someone else's. */
export function observabilityRoute(
  h: ObservabilityHandlers,
  req: IncomingMessage,
  res: ServerResponse,
): boolean {
  const path = observabilityPath(req, h.metrics !== undefined);
  if (path === undefined) return false;
  if (req.method !== "GET" && req.method !== "HEAD") {
    json(
      res,
      405,
      { error: { code: "MethodNotAllowed", message: `${path} answers GET and HEAD only` } },
      {
        allow: "GET, HEAD",
      },
    );
    return true;
  }
  answer(h, path, res).catch((e: unknown) => {
    h.logger.error("observability endpoint failed", { err: e, path });
    if (!res.headersSent) json(res, 500, { error: { code: "InternalError", message: String(e) } });
    else res.destroy();
  });
  return true;
}

async function answer(h: ObservabilityHandlers, path: ObservabilityPath, res: ServerResponse): Promise<void> {
  if (path === "/healthz") {
    json(res, 200, { status: "alive", uptimeSeconds: Math.round(process.uptime()) });
    return;
  }
  if (path === "/readyz") {
    const r = await h.readiness();
    json(res, r.ready ? 200 : 503, { status: r.ready ? "ready" : "not ready", ...r.detail });
    return;
  }
  const text = await (h.metrics as () => Promise<string>)();
  res.writeHead(200, { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" }).end(text);
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res
    .writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers })
    .end(`${JSON.stringify(body)}\n`);
}

/** Connections a listener of its own accepts at once; more are closed on accept. */
export const MAX_CONNECTIONS = 64;

export interface ObservabilityServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on `host:port` (0: a free port; read it from the result) for the three paths alone. */
export async function startObservabilityServer(
  h: ObservabilityHandlers,
  host: string,
  port: number,
): Promise<ObservabilityServer> {
  const server: Server = createServer((req, res) => {
    if (!observabilityRoute(h, req, res))
      json(res, 404, {
        error: { code: "NotFound", message: "this listener serves /metrics, /healthz and /readyz" },
      });
  });
  // Scrapers and probes are few: a flood of connections must not take the process's descriptors,
  // and one that keeps its connection idle must not hold a descriptor for long.
  server.maxConnections = MAX_CONNECTIONS;
  server.keepAliveTimeout = 15_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.listen(port, host);
  await Promise.race([
    once(server, "listening"),
    once(server, "error").then(([e]) => {
      throw e;
    }),
  ]);
  return {
    host,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A host as it goes in a URL or a `host:port` (IPv6 in brackets). */
export function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** `HOST:PORT` (IPv6 in brackets) → its parts; undefined when it is not one. */
export function parseListenAddress(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}
