import { join } from "node:path";
import type { AccessLogSpec } from "../model/node-spec.js";
import type { Logger } from "../util/logger.js";
import { AccessLog } from "./access-log.js";

export interface AccessLogsOptions {
  /** Where access logs go (`<dir>/<lb>/`); without it none are written. */
  readonly dir: string | undefined;
  /** The region in access-log file names (default us-east-1). */
  readonly region: string | undefined;
  readonly log: Logger;
}

/** The open access logs of an agent's load balancers: one per load balancer with logging on. */
export class AccessLogs {
  readonly #opts: AccessLogsOptions;
  readonly #byLoadBalancer = new Map<string, AccessLog>();

  constructor(opts: AccessLogsOptions) {
    this.#opts = opts;
  }

  /** Opens, updates or closes a load balancer's log per its spec; null when off. */
  apply(loadBalancer: string, nodeIp: string, spec: AccessLogSpec): AccessLog | null {
    const dir = this.#opts.dir;
    if (!spec.enabled || dir === undefined) {
      this.close(loadBalancer);
      return null;
    }
    const open = this.#byLoadBalancer.get(loadBalancer);
    if (open !== undefined) {
      open.update(nodeIp, spec.emitIntervalMinutes);
      return open;
    }
    const region = this.#opts.region;
    const log = new AccessLog({
      dir: join(dir, loadBalancer),
      loadBalancer,
      nodeIp,
      emitInterval: spec.emitIntervalMinutes,
      log: this.#opts.log,
      ...(region === undefined ? {} : { region }),
    });
    this.#byLoadBalancer.set(loadBalancer, log);
    return log;
  }

  /** Flushes and closes one load balancer's log (it left the node, or logging was turned off). */
  close(loadBalancer: string): void {
    const log = this.#byLoadBalancer.get(loadBalancer);
    if (log === undefined) return;
    this.#byLoadBalancer.delete(loadBalancer);
    void log.close();
  }

  async closeAll(): Promise<void> {
    const logs = [...this.#byLoadBalancer.values()];
    this.#byLoadBalancer.clear();
    await Promise.all(logs.map((l) => l.close()));
  }
}
