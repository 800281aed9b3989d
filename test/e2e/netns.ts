/**
 * A small multi-host network for tests: one network namespace per "host", each joined by a veth
 * pair to a bridge in the test's own namespace, addresses in a random private /24
 * (10.A.B.0/24; the bridge, where back ends listen, is .254). Host i also gets a pool /24
 * (10.A.B+i.0/24) that is local to it (`ip route add local … dev lo`) and routed to it from the
 * test's namespace, so agents hand out node addresses other hosts reach. Names carry the test's
 * pid; `remove()` deletes everything.
 *
 * Where namespaces cannot be made (no root, no `ip`), `Network.loopback()` gives the same shape on
 * 127.A.B.0/24 in one namespace, and says so.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";

export interface HostAddress {
  /** The network namespace, undefined on the loopback fallback. */
  readonly netns: string | undefined;
  /** Its address on the shared /24. */
  readonly address: string;
  /** Its pool: node addresses it may hand out. */
  readonly pool: string;
  /** An address of its pool kept for its DNS responder. */
  readonly dnsAddress: string;
}

export class Network {
  readonly isolated: boolean;
  /** Where the test's own servers (back ends) listen. */
  readonly gateway: string;
  readonly hosts: readonly HostAddress[];
  readonly #cleanups: string[][];

  private constructor(isolated: boolean, gateway: string, hosts: HostAddress[], cleanups: string[][]) {
    this.isolated = isolated;
    this.gateway = gateway;
    this.hosts = hosts;
    this.#cleanups = cleanups;
  }

  /** Namespaces when possible, else loopback; `why` says which and why. */
  static create(hostCount: number): { network: Network; why: string } {
    // BALLAST_TEST_LOOPBACK=1 runs the fallback on purpose (to test it where namespaces work).
    if (process.env.BALLAST_TEST_LOOPBACK === "1")
      return { network: Network.loopback(hostCount), why: "loopback (BALLAST_TEST_LOOPBACK=1)" };
    try {
      return { network: Network.namespaces(hostCount), why: "network namespaces" };
    } catch (e) {
      return {
        network: Network.loopback(hostCount),
        why: `loopback fallback (network namespaces could not be made: ${String(e).split("\n")[0]})`,
      };
    }
  }

  static namespaces(hostCount: number): Network {
    const pid = process.pid;
    const a = 100 + Math.floor(Math.random() * 150);
    const b = 8 * Math.floor(Math.random() * 30);
    const net = `10.${a}.${b}`;
    const bridge = `bbr${pid}`;
    const cleanups: string[][] = [];
    const ip = (...args: string[]): void => {
      execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
    };
    try {
      ip("link", "add", bridge, "type", "bridge");
      cleanups.push(["link", "del", bridge]);
      ip("addr", "add", `${net}.254/24`, "dev", bridge);
      ip("link", "set", bridge, "up");
      const hosts: HostAddress[] = [];
      for (let i = 1; i <= hostCount; i++) {
        const ns = `bns${i}-${pid}`;
        const outer = `bv${i}-${pid}`;
        const inner = `bp${i}-${pid}`;
        ip("netns", "add", ns);
        cleanups.push(["netns", "del", ns]);
        ip("link", "add", outer, "type", "veth", "peer", "name", inner);
        cleanups.push(["link", "del", outer]);
        ip("link", "set", inner, "netns", ns);
        ip("link", "set", outer, "master", bridge);
        ip("link", "set", outer, "up");
        const address = `${net}.${10 + i}`;
        const pool = `10.${a}.${b + i}`;
        ip("-n", ns, "addr", "add", `${address}/24`, "dev", inner);
        ip("-n", ns, "link", "set", inner, "up");
        ip("-n", ns, "link", "set", "lo", "up");
        ip("-n", ns, "route", "add", "local", `${pool}.0/24`, "dev", "lo");
        ip("route", "add", `${pool}.0/24`, "via", address);
        cleanups.push(["route", "del", `${pool}.0/24`]);
        hosts.push({ netns: ns, address, pool: `${pool}.0/24`, dnsAddress: `${pool}.254` });
      }
      return new Network(true, `${net}.254`, hosts, cleanups);
    } catch (e) {
      new Network(true, "", [], cleanups).remove();
      throw e;
    }
  }

  static loopback(hostCount: number): Network {
    const a = 100 + Math.floor(Math.random() * 150);
    const b = 8 * Math.floor(Math.random() * 30);
    const hosts: HostAddress[] = [];
    for (let i = 1; i <= hostCount; i++)
      hosts.push({
        netns: undefined,
        address: `127.${a}.${b}.${10 + i}`,
        pool: `127.${a}.${b + i}.0/24`,
        dnsAddress: `127.${a}.${b + i}.254`,
      });
    return new Network(false, `127.${a}.${b}.254`, hosts, []);
  }

  /** Spawns `command args` on host `i` (inside its namespace). */
  spawnOn(host: HostAddress, command: string, args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
    const [cmd, argv] =
      host.netns === undefined ? [command, args] : ["ip", ["netns", "exec", host.netns, command, ...args]];
    return spawn(cmd, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
  }

  remove(): void {
    for (const args of [...this.#cleanups].reverse()) {
      try {
        execFileSync("ip", args, { stdio: "ignore" });
      } catch {
        // Already gone with its namespace or bridge.
      }
    }
    this.#cleanups.length = 0;
  }
}
