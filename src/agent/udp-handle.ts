/**
 * Starting and stopping a dgram socket's receiving without closing it: a socket shared by several
 * processes (an agent's keeper and its workers) is read only by the one that answers it.
 */
import type { Socket } from "node:dgram";

interface UdpHandle {
  recvStart(): number;
  recvStop(): number;
}

/**
 * node keeps a dgram socket's handle behind a symbol and offers no pause; the handle's own
 * recvStart/recvStop (what bind and close call) are reached through it.
 */
function handleOf(socket: Socket): UdpHandle {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  const held = state === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[state];
  const handle = (held as { handle?: Partial<UdpHandle> } | undefined)?.handle;
  if (typeof handle?.recvStop !== "function" || typeof handle.recvStart !== "function")
    throw new Error("this node's dgram socket has no handle to pause");
  return handle as UdpHandle;
}

/** Stops (false) or resumes (true) reading datagrams; unread ones wait in the kernel's queue. */
export function setReceiving(socket: Socket, on: boolean): void {
  const handle = handleOf(socket);
  if (on) handle.recvStart();
  else handle.recvStop();
}
