/**
 * Ports checked before `ballast up` or `ballast control` creates anything: a busy port is one
 * line naming the port, what needed it and the flag that moves it, and leaves no data directory
 * behind. Each port is bound for a moment and released (TCP, and UDP where the service is DNS).
 * Port 0 means "any free port" and needs no check.
 */
import { createSocket } from "node:dgram";
import { createServer, isIPv6 } from "node:net";
import { CliError } from "./errors.js";

export interface PortNeed {
  /** What listens there, in words ("the AWS ELB API"). */
  readonly what: string;
  /** The flag that chooses the port. */
  readonly flag: string;
  readonly host: string;
  readonly port: number;
  /** DNS: UDP as well as TCP. */
  readonly udp?: boolean;
}

export async function checkPortsFree(needs: readonly PortNeed[]): Promise<void> {
  const fixed = needs.filter((n) => n.port !== 0);
  // One port asked for twice is refused before any is bound.
  const seen = new Map<string, PortNeed>();
  for (const need of fixed) {
    const key = `${need.host}:${need.port}`;
    const twice = seen.get(key);
    if (twice)
      throw new CliError(
        "PortInUse",
        `${where(need)} is asked for both ${twice.what} (${twice.flag}) and ${need.what} (${need.flag})`,
        "give them different ports",
      );
    seen.set(key, need);
  }
  for (const need of fixed) {
    await tryTcp(need);
    if (need.udp) await tryUdp(need);
  }
}

function where(need: PortNeed): string {
  return isIPv6(need.host) ? `[${need.host}]:${need.port}` : `${need.host}:${need.port}`;
}

function busy(need: PortNeed, proto: string, e: unknown): CliError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE")
    return new CliError(
      "PortInUse",
      `${where(need)}/${proto}, for ${need.what}, is already in use`,
      `see 'ss -lntup | grep :${need.port}'; stop it or choose another port with ${need.flag}`,
    );
  if (code === "EACCES")
    return new CliError(
      "PortNotPermitted",
      `${where(need)}/${proto}, for ${need.what}, needs privileges this user lacks`,
      `choose a port above 1023 with ${need.flag}`,
    );
  if (code === "EADDRNOTAVAIL")
    return new CliError(
      "AddressNotAvailable",
      `${need.host}, for ${need.what}, is not an address of this host`,
    );
  return new CliError("PortCheckFailed", `${where(need)}/${proto}, for ${need.what}: ${String(e)}`);
}

function tryTcp(need: PortNeed): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (e) => reject(busy(need, "tcp", e)));
    server.listen({ port: need.port, host: need.host, exclusive: true }, () => {
      server.close(() => resolve());
    });
  });
}

function tryUdp(need: PortNeed): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(need.host) ? "udp6" : "udp4");
    socket.once("error", (e) => {
      socket.close();
      reject(busy(need, "udp", e));
    });
    socket.bind(need.port, need.host, () => {
      socket.close(() => resolve());
    });
  });
}
