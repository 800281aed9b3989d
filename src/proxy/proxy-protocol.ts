/**
 * Proxy Protocol version 1, as Classic ELB sends it: a TCP/SSL listener whose upstream spec says
 * `proxyProtocol` opens every back-end connection with one human-readable line
 * (`PROXY TCP4 <client ip> <node ip> <client port> <listener port>\r\n`) before any client byte.
 */
import { isIPv4, isIPv6 } from "node:net";

/** `::ffff:192.0.2.1` (a v4 client on a dual-stack socket) as `192.0.2.1`; anything else unchanged. */
function unmapped(address: string): string {
  const lower = address.toLowerCase();
  if (lower.startsWith("::ffff:") && isIPv4(address.slice(7))) return address.slice(7);
  return address;
}

/**
 * The version 1 header for a connection from client to node (the load balancer's address and
 * listener port). TCP4 or TCP6 by the addresses' family; `PROXY UNKNOWN` when an address is
 * missing or the two families differ, as the specification prescribes.
 */
export function proxyProtocolHeader(
  clientAddress: string | undefined,
  clientPort: number | undefined,
  nodeAddress: string | undefined,
  nodePort: number | undefined,
): string {
  if (clientAddress === undefined || nodeAddress === undefined) return "PROXY UNKNOWN\r\n";
  if (clientPort === undefined || nodePort === undefined) return "PROXY UNKNOWN\r\n";
  const client = unmapped(clientAddress);
  const node = unmapped(nodeAddress);
  let family: string;
  if (isIPv4(client) && isIPv4(node)) family = "TCP4";
  else if (isIPv6(client) && isIPv6(node)) family = "TCP6";
  else return "PROXY UNKNOWN\r\n";
  return `PROXY ${family} ${client} ${node} ${clientPort} ${nodePort}\r\n`;
}
