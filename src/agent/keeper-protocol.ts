/**
 * Messages between an agent's keeper (the long-lived process that owns the listening sockets) and
 * its workers (the agent processes that serve), over the IPC channel the keeper spawned them with.
 */

/** Worker → keeper. */
export type WorkerMessage =
  /** A listening socket for address:port; answered with `sockets` and the handle (or an error). */
  | { readonly kind: "acquire"; readonly id: number; readonly address: string; readonly port: number }
  /** The listener on address:port was removed from the configuration: close the socket. */
  | { readonly kind: "release"; readonly address: string; readonly port: number }
  /** The last-known-good configuration is applied and every listener bound: hand over to me. */
  | { readonly kind: "ready" };

/** Keeper → worker. */
export type KeeperMessage =
  | { readonly kind: "socket"; readonly id: number; readonly error?: string }
  /** A successor has taken over: stop accepting, drain for up to `graceMs`, exit. */
  | { readonly kind: "drain"; readonly graceMs: number };

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  if (typeof m !== "object" || m === null) return false;
  const k = (m as { kind?: unknown }).kind;
  return k === "acquire" || k === "release" || k === "ready";
}

export function isKeeperMessage(m: unknown): m is KeeperMessage {
  if (typeof m !== "object" || m === null) return false;
  const k = (m as { kind?: unknown }).kind;
  return k === "socket" || k === "drain";
}
