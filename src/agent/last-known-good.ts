/**
 * The agent's own copy of what it runs, on its own disk (principle 2). Written atomically
 * (temporary file, fsync, rename, fsync of the directory) before a new configuration is applied,
 * and read at start so the agent serves with no control plane at all.
 */
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { NodeLoadBalancer } from "../model/agent-protocol.js";

export interface LastKnownGood {
  readonly format: 1;
  /** The version of the last document accepted from the control plane. */
  readonly version: number;
  readonly zone: string;
  readonly loadBalancers: readonly NodeLoadBalancer[];
  /** Node address per load balancer, so a restart keeps every address. */
  readonly addresses: Readonly<Record<string, string>>;
  readonly savedAt: string;
}

export const LKG_FILE = "last-known-good.json";

export async function readLastKnownGood(dir: string): Promise<LastKnownGood | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, LKG_FILE), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const v = JSON.parse(text) as Partial<LastKnownGood>;
  if (v.format !== 1 || typeof v.version !== "number" || !Array.isArray(v.loadBalancers)) {
    throw new Error(`${join(dir, LKG_FILE)} is not a last-known-good file of format 1`);
  }
  return v as LastKnownGood;
}

export async function writeLastKnownGood(dir: string, lkg: LastKnownGood): Promise<void> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LKG_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(JSON.stringify(lkg));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const d = await open(dirname(path), "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
