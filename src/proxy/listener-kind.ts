import type { Listener } from "../model/types.js";

/**
 * The listener kind a Listener needs — "HTTP", "TCP" or "<front>:<back>" such as "HTTPS:HTTP" —
 * or null for a combination ELB does not have (a layer-7 front end on a layer-4 back end).
 */
export function listenerKind(l: Listener): string | null {
  if (l.protocol === "HTTP" && l.instanceProtocol === "HTTP") return "HTTP";
  if (l.protocol === "TCP" && l.instanceProtocol === "TCP") return "TCP";
  const httpBackend = l.instanceProtocol === "HTTP" || l.instanceProtocol === "HTTPS";
  const tcpBackend = l.instanceProtocol === "TCP" || l.instanceProtocol === "SSL";
  if ((l.protocol === "HTTP" || l.protocol === "HTTPS") && httpBackend)
    return `${l.protocol}:${l.instanceProtocol}`;
  if ((l.protocol === "TCP" || l.protocol === "SSL") && tcpBackend)
    return `${l.protocol}:${l.instanceProtocol}`;
  return null;
}

/** Whether a listener kind terminates TLS on the client side. */
export function terminatesTls(kind: string): boolean {
  return kind.startsWith("HTTPS:") || kind.startsWith("SSL:");
}
