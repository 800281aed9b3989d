import type { Server, Socket } from "node:net";
import type { Logger } from "../util/logger.js";

/** Binds `server` on address:port; resolves false (logged) instead of throwing on EADDRINUSE etc. */
export function bindServer(server: Server, address: string, port: number, log: Logger): Promise<boolean> {
  return new Promise((resolve) => {
    const onError = (err: Error): void => {
      server.off("listening", onListening);
      log.error("listener bind failed", { address, port, err });
      resolve(false);
    };
    const onListening = (): void => {
      server.off("error", onError);
      server.on("error", (err) => log.error("listener error", { address, port, err }));
      resolve(true);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ host: address, port });
  });
}

/**
 * Stops accepting at once and resolves when every connection has ended; after `graceMs` the
 * remaining connections are cut with `force`.
 */
export function drainServer<S extends Server>(
  server: S,
  graceMs: number,
  force: (s: S) => void,
): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(force, graceMs, server);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    // node:http closes idle keep-alive connections on close(); a net.Server has none to close.
  });
}

/**
 * Every socket `server` accepts, until it closes. For a TLS server these are the raw sockets,
 * including those still in their handshake, which a forced drain must cut too (they are not yet
 * anyone's connection).
 */
export function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  return sockets;
}
