/**
 * Messages between an agent's keeper (the long-lived process that owns the listening sockets) and
 * its workers (the agent processes that serve), over the IPC channel the keeper spawned them with;
 * and between a keeper and the successor it hands its sockets to (an upgrade of the agent).
 */

/** A stream listener (the proxy's listeners, DNS over TCP) or a datagram socket (DNS over UDP). */
export type SocketProtocol = "tcp" | "udp";

/** Worker → keeper. */
export type WorkerMessage =
  /**
   * A socket for address:port (TCP unless `protocol` says udp); answered with `socket` and the
   * handle (or an error). Port 0 asks for a free port, the same one on every later acquire.
   */
  | {
      readonly kind: "acquire";
      readonly id: number;
      readonly address: string;
      readonly port: number;
      readonly protocol?: SocketProtocol;
    }
  /** The listener on address:port was removed from the configuration: close the socket. */
  | { readonly kind: "release"; readonly address: string; readonly port: number }
  /** The last-known-good configuration is applied and every listener bound: hand over to me. */
  | { readonly kind: "ready" };

/** Keeper → worker. */
export type KeeperMessage =
  /** The handle that comes with it is bound to `port` (the free port chosen for a port 0). */
  | { readonly kind: "socket"; readonly id: number; readonly port?: number; readonly error?: string }
  /** A successor has taken over: stop accepting, drain for up to `graceMs`, exit. */
  | { readonly kind: "drain"; readonly graceMs: number };

/** A keeper → the successor keeper it spawned: every socket it holds, then `handover-end`. */
export type HandoverMessage =
  | {
      readonly kind: "handover-socket";
      readonly key: string;
      readonly protocol: SocketProtocol;
      readonly port: number;
    }
  | { readonly kind: "handover-end"; readonly count: number };

/** The successor → the keeper it replaces. */
export type SuccessorMessage =
  /** Listening on the channel: the sockets may come (one sent before would be read by no one). */
  | { readonly kind: "successor-listening" }
  /** Every socket received and its own worker serves on them: drain yours and exit. */
  | { readonly kind: "successor-ready"; readonly sockets: number }
  | { readonly kind: "successor-failed"; readonly error: string };

function kindOf(m: unknown): unknown {
  return typeof m === "object" && m !== null ? (m as { kind?: unknown }).kind : undefined;
}

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  const k = kindOf(m);
  return k === "acquire" || k === "release" || k === "ready";
}

export function isKeeperMessage(m: unknown): m is KeeperMessage {
  const k = kindOf(m);
  return k === "socket" || k === "drain";
}

export function isHandoverMessage(m: unknown): m is HandoverMessage {
  const k = kindOf(m);
  return k === "handover-socket" || k === "handover-end";
}

export function isSuccessorMessage(m: unknown): m is SuccessorMessage {
  const k = kindOf(m);
  return k === "successor-listening" || k === "successor-ready" || k === "successor-failed";
}
