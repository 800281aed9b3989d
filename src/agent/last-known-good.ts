/**
 * The agent's own copy of what it runs, on its own disk (principle 2). Written atomically
 * (temporary file, fsync, rename, fsync of the directory) before a new configuration is applied,
 * and read at start so the agent serves with no control plane at all.
 *
 * Format 2 holds resolved node specs. A file of format 1 (raw policies and attributes, the
 * revision under `version`) is read too and resolved on the way in, so an upgraded agent keeps
 * serving what it served before; the next accepted document rewrites the file as format 2.
 *
 * TLS private keys never rest in plain text: in the file each listener's `tls.privateKey` is sealed
 * (AES-256-GCM, `enc:v1:`) with the agent's own key — `BALLAST_AGENT_SECRET_KEY` (base64) or
 * `<agent-dir>/secret.key`, created 0600 — bound to the load balancer and listener port. In memory
 * the specs are plain. A file written before (plain keys) is read as it is and sealed when next
 * written. The file and the key file are readable by their owner only.
 */
import { chmod, mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isUsableTls, NODE_SPEC_FORMAT, type NodeSpec, nodeSpecProblem } from "../model/node-spec.js";
import { type NodeSource, resolveNode } from "../model/resolve-node.js";
import { SecretKey } from "../util/secret-key.js";

export interface LastKnownGood {
  readonly format: typeof NODE_SPEC_FORMAT;
  /** The journal revision of the last document accepted from the control plane. */
  readonly revision: number;
  readonly zone: string;
  readonly loadBalancers: readonly NodeSpec[];
  /** Node address per load balancer, so a restart keeps every address. */
  readonly addresses: Readonly<Record<string, string>>;
  readonly savedAt: string;
}

export const LKG_FILE = "last-known-good.json";
/** The agent's key comes from this variable when set, so a host's agents and control plane differ. */
export const AGENT_SECRET_KEY_ENV = "BALLAST_AGENT_SECRET_KEY";

/** The agent's secret key for a data directory (see the module comment). */
export function agentSecretKey(dir: string, env: NodeJS.ProcessEnv = process.env): SecretKey {
  return SecretKey.load(dir, env, AGENT_SECRET_KEY_ENV);
}

/** The specs with every listener's private key sealed (`seal`) or opened (`open`). */
export function mapPrivateKeys(
  specs: readonly NodeSpec[],
  fn: (privateKey: string, context: string) => string,
): NodeSpec[] {
  return specs.map((spec) => ({
    ...spec,
    listeners: spec.listeners.map((l) =>
      isUsableTls(l.tls)
        ? {
            ...l,
            tls: {
              ...l.tls,
              privateKey: fn(l.tls.privateKey, `ballast-agent/${spec.name}/${l.port}/privateKey`),
            },
          }
        : l,
    ),
  }));
}

export async function readLastKnownGood(dir: string, key?: SecretKey): Promise<LastKnownGood | undefined> {
  const path = join(dir, LKG_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const lkg = parseLastKnownGood(JSON.parse(text), path);
  const k = key ?? agentSecretKey(dir);
  return { ...lkg, loadBalancers: mapPrivateKeys(lkg.loadBalancers, (v, c) => k.open(v, c)) };
}

/** A parsed file of either format as format 2; throws, naming `path`, when it is neither. */
export function parseLastKnownGood(v: unknown, path: string): LastKnownGood {
  const f = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  const common =
    typeof f.zone === "string" &&
    Array.isArray(f.loadBalancers) &&
    typeof f.addresses === "object" &&
    f.addresses !== null;
  if (common && f.format === NODE_SPEC_FORMAT && isRevision(f.revision)) {
    for (const lb of f.loadBalancers as unknown[]) {
      const problem = nodeSpecProblem(lb);
      if (problem !== null) throw new Error(`${path}: ${problem}`);
    }
    return f as unknown as LastKnownGood;
  }
  if (common && f.format === 1 && isRevision(f.version)) {
    return {
      format: NODE_SPEC_FORMAT,
      revision: f.version,
      zone: f.zone as string,
      loadBalancers: (f.loadBalancers as NodeSource[]).map(resolveNode),
      addresses: f.addresses as Record<string, string>,
      savedAt: typeof f.savedAt === "string" ? f.savedAt : "",
    };
  }
  throw new Error(`${path} is not a last-known-good file of format 1 or ${NODE_SPEC_FORMAT}`);
}

function isRevision(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

export async function writeLastKnownGood(dir: string, lkg: LastKnownGood, key?: SecretKey): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const k = key ?? agentSecretKey(dir);
  const sealed: LastKnownGood = {
    ...lkg,
    loadBalancers: mapPrivateKeys(lkg.loadBalancers, (v, c) => k.seal(v, c)),
  };
  const path = join(dir, LKG_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    // A leftover temporary file keeps its old mode through open(); make sure of 0600.
    await chmod(tmp, 0o600);
    await fh.writeFile(JSON.stringify(sealed));
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
