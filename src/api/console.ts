/**
 * The web console's files, served below `/console` by the control plane's API port: static files
 * only, from one directory (the Vite build, `dist/console`). GET and HEAD; any other method is 405.
 *
 *   /console                  → 308 to /console/
 *   /console/assets/<hashed>  → the file, cached for a year (the name changes with the content)
 *   /console/<file.ext>       → the file if it exists, else 404
 *   /console/<app route>      → index.html (the app routes in the browser), never cached
 *
 * Every answer carries a strict Content-Security-Policy (`default-src 'self'`): the console loads
 * nothing from another origin and runs no inline script. A path is resolved inside the directory
 * or refused: `..` segments, encoded separators, backslashes and NUL bytes never reach the disk.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import type { Logger } from "../util/logger.js";

export const CONSOLE_PREFIX = "/console";

export const CONSOLE_CSP =
  "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

const SECURITY_HEADERS = {
  "Content-Security-Policy": CONSOLE_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
} as const;

export function isConsolePath(url: string | undefined): boolean {
  if (url === undefined) return false;
  const path = url.split("?")[0] ?? "";
  return path === CONSOLE_PREFIX || path.startsWith(`${CONSOLE_PREFIX}/`);
}

export interface ConsoleOptions {
  /** The built console (index.html and assets/). */
  readonly root: string;
  readonly logger: Logger;
}

export function createConsoleHandler(
  opts: ConsoleOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const root = resolve(opts.root);
  const logger = opts.logger.child({ component: "console" });
  return (req, res) => {
    serve(req, res).catch((e: unknown) => {
      logger.error("console file failed", { url: req.url, err: e });
      if (!res.headersSent) plain(res, 500, "Internal error");
      else res.destroy();
    });
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      plain(res, 405, "Method not allowed: the console serves files (GET, HEAD)");
      return;
    }
    const path = (req.url ?? "").split("?")[0] ?? "";
    if (path === CONSOLE_PREFIX) {
      res.writeHead(308, { Location: `${CONSOLE_PREFIX}/`, ...SECURITY_HEADERS });
      res.end();
      return;
    }
    const relative = safeRelative(path.slice(CONSOLE_PREFIX.length + 1));
    if (relative === undefined) {
      plain(res, 400, "Bad path");
      return;
    }
    // An app route (no extension): the single page, which routes itself in the browser.
    const isFile = extname(relative) !== "";
    const file = isFile ? join(root, relative) : join(root, "index.html");
    if (file !== root && !file.startsWith(root + sep)) {
      plain(res, 400, "Bad path");
      return;
    }
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) {
      if (!isFile) {
        plain(res, 503, "The console is not built: run scripts/build-console");
        return;
      }
      plain(res, 404, "Not found");
      return;
    }
    const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
    const immutable = relative.startsWith("assets/");
    res.writeHead(200, {
      "Content-Type": type,
      "Content-Length": info.size,
      "Cache-Control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
      "Last-Modified": info.mtime.toUTCString(),
      ...SECURITY_HEADERS,
    });
    if (method === "HEAD") {
      res.end();
      return;
    }
    const stream = createReadStream(file);
    stream.on("error", (e) => {
      logger.error("console file read failed", { file, err: e });
      res.destroy();
    });
    stream.pipe(res);
  }
}

/**
 * The path below /console/ as plain segments, or undefined when it could escape the directory or
 * is not a plain file name: `..`, `.`, empty segments, backslashes, NUL, or an encoded `/`.
 */
export function safeRelative(raw: string): string | undefined {
  if (raw === "") return "index.html";
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  // Any separator that was encoded, any backslash or control byte: refused outright.
  if (/%2f|%5c/i.test(raw) || decoded.includes("\\") || hasControlCharacter(decoded)) return undefined;
  const segments = decoded.split("/");
  const trailing = segments.at(-1) === "";
  if (trailing) segments.pop();
  if (segments.some((s) => s === "" || s === "." || s === ".." || s.startsWith("."))) return undefined;
  return segments.join("/");
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20 || s.charCodeAt(i) === 0x7f) return true;
  return false;
}

function plain(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(`${text}\n`, "utf8");
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": body.length,
    "Cache-Control": "no-store",
    ...SECURITY_HEADERS,
  });
  res.end(body);
}
