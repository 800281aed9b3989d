/** What the failover benchmark's two halves share: processes, signed calls, figures. */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import { type ClientCredentials, SignedClient } from "../src/cli/signed-client.js";

export const ACCESS_KEY_ID = "AKIABENCHFAILOVER001";
export const SECRET = "bench-failover-secret-0123456789abcdefghij";
export const ADMIN: ClientCredentials = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET };
export const MAIN = new URL("../src/cli/main.js", import.meta.url).pathname;

export function ballastEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    BALLAST_BOOTSTRAP_ACCESS_KEY_ID: ACCESS_KEY_ID,
    BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: SECRET,
    BALLAST_LOG_LEVEL: "info",
  };
}

/** A spawned ballast process and everything it printed. */
export class Proc {
  readonly child: ChildProcess;
  #out = "";

  constructor(child: ChildProcess) {
    this.child = child;
    const add = (d: Buffer): void => {
      this.#out += d.toString();
      if (this.#out.length > 4_000_000) this.#out = this.#out.slice(-2_000_000);
    };
    child.stdout?.on("data", add);
    child.stderr?.on("data", add);
  }

  output(): string {
    return this.#out;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first match of `re` in the output; rejects if the process exits first. */
  async waitFor(re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.#out);
      if (m) return m;
      if (!this.alive) throw new Error(`process exited before ${re}:\n${this.#out.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${this.#out.slice(-3000)}`);
      await sleep(20);
    }
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (!this.alive) return;
    const exited = once(this.child, "exit");
    this.child.kill(signal);
    await exited;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` every `intervalMs` until it returns a value; throws after `timeoutMs`. */
export async function until<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs: number,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`,
      );
    await sleep(intervalMs);
  }
}

export function sdk(apiUrl: string): ElasticLoadBalancingClient {
  return new ElasticLoadBalancingClient({
    endpoint: apiUrl,
    region: "us-east-1",
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
    maxAttempts: 1,
  });
}

export function admin(apiUrl: string): SignedClient {
  return new SignedClient(apiUrl, ADMIN);
}

/** p50 and worst of a sample, in ms; "-" when empty. */
export function summary(values: readonly number[]): { p50: string; worst: string; n: number } {
  if (values.length === 0) return { p50: "-", worst: "-", n: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = sorted[Math.floor((sorted.length - 1) / 2)] as number;
  return { p50: p50.toFixed(0), worst: (sorted.at(-1) as number).toFixed(0), n: sorted.length };
}

/** Progress on stderr, so stdout keeps only the tables. */
export function progress(line: string): void {
  process.stderr.write(`# ${line}\n`);
}
