/**
 * What the runtime says once about a listener it cannot serve as specified: an unsupported
 * protocol, an unusable TLS context, an SSL policy not honoured exactly. Each is logged once per
 * load balancer, port and reason, however often the configuration is applied again.
 */
import type { ListenerSpec } from "../model/node-spec.js";
import type { Logger } from "../util/logger.js";

export class ListenerNotices {
  readonly #log: Logger;
  readonly #logged = new Set<string>();

  constructor(log: Logger) {
    this.#log = log;
  }

  tlsProblem(name: string, l: ListenerSpec, reason: string, keptRunning: boolean): void {
    const key = `${name}:${l.port}:tls:${reason}`;
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    this.#log.error(
      keptRunning
        ? "listener TLS context unusable; keeping the running one"
        : "listener TLS context unusable; reported unbound",
      { loadBalancer: name, port: l.port, protocol: l.protocol, reason },
    );
  }

  caveats(name: string, port: number, caveats: readonly string[]): void {
    if (caveats.length === 0) return;
    const key = `${name}:${port}:caveats:${caveats.join("|")}`;
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    this.#log.warn("SSL negotiation policy not honoured exactly", { loadBalancer: name, port, caveats });
  }

  unsupported(name: string, l: ListenerSpec): void {
    const key = `${name}:${l.port}:${l.protocol}:${l.upstream.protocol}`;
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    this.#log.warn("listener protocol not served; reported unbound", {
      loadBalancer: name,
      port: l.port,
      protocol: l.protocol,
      instanceProtocol: l.upstream.protocol,
    });
  }
}
