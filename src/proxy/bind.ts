import type { Server, Socket } from "node:net";
import type { Logger } from "../util/logger.js";

/**
 * Where listening sockets come from when they must outlive this process: an agent run under a
 * keeper asks it for each address:port (src/agent/keeper.ts), so the socket stays open, with its
 * accept queue, while one agent process hands over to the next or a crashed one is replaced.
 */
export interface ListenSocketSource {
  /** A bound TCP handle for address:port, for `server.listen(handle)`; throws if it cannot bind. */
  acquire(address: string, port: number): Promise<object>;
  /** The listener on address:port is gone for good (removed, not handed over): close the socket. */
  release(address: string, port: number): void;
}

/** Binds `server` on address:port; resolves false (logged) instead of throwing on EADDRINUSE etc. */
export async function bindServer(
  server: Server,
  address: string,
  port: number,
  log: Logger,
  source?: ListenSocketSource,
): Promise<boolean> {
  let handle: object | undefined;
  if (source !== undefined) {
    try {
      handle = await source.acquire(address, port);
    } catch (err) {
      log.error("listener bind failed", { address, port, err });
      return false;
    }
  }
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
    if (handle === undefined) server.listen({ host: address, port });
    else server.listen(handle);
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
