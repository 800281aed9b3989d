/**
 * The hosts of the propagation benchmark's --netns mode: two network namespaces joined by a veth
 * pair (the benchmark re-executes itself in the control plane's), commands run on the agent's
 * host, and a probe there that waits for a node's port to accept.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";

export interface Inner {
  readonly agentNs: string;
  readonly controlAddress: string;
}

export function parseInner(v: string | undefined): Inner | undefined {
  if (v === undefined) return undefined;
  const [agentNs, controlAddress] = v.split(",");
  if (!agentNs || !controlAddress) throw new Error("--netns-inner is AGENT_NS,CONTROL_ADDRESS");
  return { agentNs, controlAddress };
}

/** `ip` as root; throws with its message. */
function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * Two namespaces joined by a veth pair, then this benchmark again inside the control plane's;
 * everything is removed at the end, whatever happens.
 */
export async function runInNamespaces(): Promise<void> {
  const pid = process.pid;
  const controlNs = `bpc-${pid}`;
  const agentNs = `bpa-${pid}`;
  const r = 1 + (pid % 250);
  const controlAddress = `169.254.${r}.1`;
  const agentAddress = `169.254.${r}.2`;
  const made: string[] = [];
  const cleanup = (): void => {
    for (const ns of made.reverse()) {
      try {
        ip("netns", "del", ns);
      } catch {
        // Already gone.
      }
    }
    made.length = 0;
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.once(signal, () => {
      cleanup();
      process.exit(128 + (signal === "SIGHUP" ? 1 : signal === "SIGINT" ? 2 : 15));
    });
  try {
    for (const ns of [controlNs, agentNs]) {
      ip("netns", "add", ns);
      made.push(ns);
      ip("-n", ns, "link", "set", "lo", "up");
    }
    // Created in the control plane's namespace, one end moved: deleting the namespaces removes both.
    ip("-n", controlNs, "link", "add", `bvc${pid}`, "type", "veth", "peer", "name", `bva${pid}`);
    ip("-n", controlNs, "link", "set", `bva${pid}`, "netns", agentNs);
    ip("-n", controlNs, "addr", "add", `${controlAddress}/30`, "dev", `bvc${pid}`);
    ip("-n", agentNs, "addr", "add", `${agentAddress}/30`, "dev", `bva${pid}`);
    ip("-n", controlNs, "link", "set", `bvc${pid}`, "up");
    ip("-n", agentNs, "link", "set", `bva${pid}`, "up");
    process.stderr.write(`namespaces ${controlNs} (${controlAddress}) and ${agentNs} (${agentAddress})\n`);
    const args = process.argv.slice(2).filter((a) => a !== "--netns");
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        controlNs,
        process.execPath,
        process.argv[1] ?? "",
        ...args,
        "--netns-inner",
        `${agentNs},${controlAddress}`,
      ],
      { stdio: "inherit" },
    );
    const code = await new Promise<number>((resolve) => child.once("exit", (c) => resolve(c ?? 1)));
    if (code !== 0) throw new Error(`the benchmark in ${controlNs} exited ${code}`);
  } finally {
    cleanup();
  }
}

/** The command line of a process on the agent's host: in its namespace with --netns. */
export function onAgentHost(argv: string[], inner: Inner | undefined): [string, string[]] {
  if (inner === undefined) return [argv[0] ?? "", argv.slice(1)];
  return ["ip", ["netns", "exec", inner.agentNs, ...argv]];
}

/**
 * Tries `host:port` every millisecond until it accepts, on the agent's host: a small process
 * there reads `HOST PORT` lines and answers `ok` (or `timeout` after 120 s) for each.
 */
const PROBE = `
import { connect } from "node:net";
import { createInterface } from "node:readline";
const accepts = (host, port) => new Promise((resolve) => {
  const s = connect({ host, port });
  s.once("connect", () => { s.destroy(); resolve(true); });
  s.once("error", () => resolve(false));
});
for await (const line of createInterface({ input: process.stdin })) {
  if (line.startsWith("GET ")) {
    // One metric of a process on this host: "GET URL NAME" answers its value, or "-".
    const [, url, name] = line.split(" ");
    let value = "-";
    try {
      const text = await (await fetch(url)).text();
      value = new RegExp("^" + name + " (\\\\S+)$", "m").exec(text)?.[1] ?? "-";
    } catch {}
    process.stdout.write(value + "\\n");
    continue;
  }
  const [host, port] = line.split(" ");
  const deadline = Date.now() + 120000;
  let ok = false;
  while (!(ok = await accepts(host, Number(port))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  process.stdout.write(ok ? "ok\\n" : "timeout\\n");
}
`;

export class Probe {
  readonly #child: ChildProcess;
  readonly #answers: ((line: string) => void)[] = [];

  constructor(inner: Inner | undefined) {
    const [cmd, argv] = onAgentHost([process.execPath, "--input-type=module", "-e", PROBE], inner);
    this.#child = spawn(cmd, argv, { stdio: ["pipe", "pipe", "inherit"] });
    let buf = "";
    this.#child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.#answers.shift()?.(line);
      }
    });
  }

  /** Resolves once `host:port` accepts a connection; rejects after 120 s. */
  accepted(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#answers.push((line) =>
        line === "ok" ? resolve() : reject(new Error(`${host}:${port} never accepted`)),
      );
      this.#child.stdin?.write(`${host} ${port}\n`);
    });
  }

  /** The value of metric `name` at `url` (fetched on the agent's host), or undefined. */
  metric(url: string, name: string): Promise<number | undefined> {
    return new Promise((resolve) => {
      this.#answers.push((line) => resolve(line === "-" ? undefined : Number(line)));
      this.#child.stdin?.write(`GET ${url} ${name}\n`);
    });
  }

  close(): void {
    this.#child.stdin?.end();
  }
}
