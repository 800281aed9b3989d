import type { ListenerSpec } from "../model/node-spec.js";

/**
 * What a running listener cannot change without being replaced: its engine and both sides' TLS
 * ("HTTPS:HTTP", "TCP:SSL", …). Everything else a listener applies in place.
 */
export function listenerKind(spec: ListenerSpec): string {
  return `${spec.protocol}:${spec.upstream.protocol}`;
}
