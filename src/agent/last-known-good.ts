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
 *
 * Written per change, not whole: a delta document appends one record to `last-known-good.log` —
 * the specs it changed, the load balancers that left, their addresses and the new revision — with
 * one fsync. The snapshot (`last-known-good.json`, the format above plus a `generation`) is written
 * whole on a full document, and again when the log outgrows it. Each record carries the snapshot's
 * generation: records of another generation (a crash between a new snapshot and the log's removal)
 * are skipped. Reading takes the snapshot and replays the log on top; a last line cut short by a
 * crash (no newline) was never acknowledged and is ignored. No file name comes from a load
 * balancer's name.
 */
import { randomUUID } from "node:crypto";
import { chmod, type FileHandle, mkdir, open, readFile, rename, unlink } from "node:fs/promises";
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
  /** The snapshot's generation: log records of this one apply on top of it (absent in older files). */
  readonly generation?: string;
  /**
   * Read only: the log had a damaged record (not a torn last line) here, and what is above is the
   * snapshot with the records before it. The agent serves that, writes a new snapshot (which
   * retires the damaged log), and the control plane's next delta, from this older revision,
   * brings back whatever the lost records carried.
   */
  readonly damagedLog?: string;
}

/** One accepted delta, as appended to the log. */
export interface LastKnownGoodChange {
  readonly revision: number;
  /** The specs as they run now, of the load balancers the delta changed or added. */
  readonly loadBalancers: readonly NodeSpec[];
  /** Load balancers that left (explicit removals). */
  readonly left: readonly string[];
  /** Node addresses of the changed load balancers. */
  readonly addresses: Readonly<Record<string, string>>;
}

/** What a write left on disk: the snapshot's generation and size, and the log's size (bytes). */
export interface LastKnownGoodFiles {
  readonly generation: string;
  readonly snapshotBytes: number;
  readonly logBytes: number;
}

export const LKG_FILE = "last-known-good.json";
export const LKG_LOG_FILE = "last-known-good.log";
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
  const snapshot = parseLastKnownGood(JSON.parse(text), path);
  const lkg = snapshot.generation === undefined ? snapshot : await replayLog(dir, snapshot);
  const k = key ?? agentSecretKey(dir);
  return { ...lkg, loadBalancers: mapPrivateKeys(lkg.loadBalancers, (v, c) => k.open(v, c)) };
}

/** The snapshot with the log's records of its generation applied, in order (specs still sealed). */
async function replayLog(dir: string, snapshot: LastKnownGood): Promise<LastKnownGood> {
  const path = join(dir, LKG_LOG_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return snapshot;
    throw e;
  }
  const running = new Map(snapshot.loadBalancers.map((lb) => [lb.name, lb]));
  const addresses: Record<string, string> = { ...snapshot.addresses };
  let revision = snapshot.revision;
  let savedAt = snapshot.savedAt;
  const lines = text.split("\n");
  // The last element is what follows the last newline: empty, or a record cut short by a crash.
  for (const [i, line] of lines.slice(0, -1).entries()) {
    if (line === "") continue;
    const at = `${path} line ${i + 1}`;
    let r: ReturnType<typeof parseLogRecord>;
    try {
      r = parseLogRecord(JSON.parse(line) as unknown, at);
    } catch (e) {
      // Everything after a damaged record is unordered guesswork: stop at it (see damagedLog).
      const damagedLog = e instanceof SyntaxError ? `${at} is not JSON` : (e as Error).message;
      return { ...withRecords(), damagedLog };
    }
    if (r.generation !== snapshot.generation) continue;
    for (const lb of r.change.loadBalancers) running.set(lb.name, lb);
    for (const name of r.change.left) {
      running.delete(name);
      delete addresses[name];
    }
    Object.assign(addresses, r.change.addresses);
    revision = r.change.revision;
    savedAt = r.savedAt;
  }
  return withRecords();

  function withRecords(): LastKnownGood {
    const loadBalancers = [...running.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    return { ...snapshot, revision, loadBalancers, addresses, savedAt };
  }
}

function parseLogRecord(
  v: unknown,
  at: string,
): { generation: string; savedAt: string; change: LastKnownGoodChange } {
  const r = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  const names = (x: unknown): x is string[] =>
    Array.isArray(x) && x.every((n) => typeof n === "string" && n !== "");
  const addresses = r.addresses;
  if (
    typeof r.generation !== "string" ||
    !isRevision(r.revision) ||
    !Array.isArray(r.loadBalancers) ||
    !names(r.left) ||
    typeof addresses !== "object" ||
    addresses === null ||
    !Object.values(addresses).every((a) => typeof a === "string")
  )
    throw new Error(`${at} is not a last-known-good record`);
  for (const lb of r.loadBalancers as unknown[]) {
    const problem = nodeSpecProblem(lb);
    if (problem !== null) throw new Error(`${at}: ${problem}`);
  }
  return {
    generation: r.generation,
    savedAt: typeof r.savedAt === "string" ? r.savedAt : "",
    change: {
      revision: r.revision,
      loadBalancers: r.loadBalancers as NodeSpec[],
      left: r.left,
      addresses: addresses as Record<string, string>,
    },
  };
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
    if (f.generation !== undefined && typeof f.generation !== "string")
      throw new Error(`${path}: generation is not a string`);
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
  await writeSnapshot(dir, lkg, key);
}

/**
 * Writes the whole configuration as a new snapshot (a new generation), then removes the log: its
 * records are in the snapshot. Crash-safe: temporary file, fsync, rename, fsync of the directory.
 */
export async function writeSnapshot(
  dir: string,
  lkg: LastKnownGood,
  key?: SecretKey,
): Promise<LastKnownGoodFiles> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const k = key ?? agentSecretKey(dir);
  const generation = randomUUID();
  const sealed: LastKnownGood = {
    ...lkg,
    generation,
    loadBalancers: mapPrivateKeys(lkg.loadBalancers, (v, c) => k.seal(v, c)),
  };
  const text = JSON.stringify(sealed);
  const path = join(dir, LKG_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    // A leftover temporary file keeps its old mode through open(); make sure of 0600.
    await chmod(tmp, 0o600);
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
  try {
    await unlink(join(dir, LKG_LOG_FILE));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  return { generation, snapshotBytes: Buffer.byteLength(text), logBytes: 0 };
}

/**
 * Appends one accepted delta to the log of snapshot `generation`, with one fsync (and one of the
 * directory when the log is new). Returns the log's size after it.
 */
export async function appendLastKnownGood(
  dir: string,
  generation: string,
  change: LastKnownGoodChange,
  key?: SecretKey,
): Promise<number> {
  const k = key ?? agentSecretKey(dir);
  const record = {
    generation,
    revision: change.revision,
    savedAt: new Date().toISOString(),
    loadBalancers: mapPrivateKeys(change.loadBalancers, (v, c) => k.seal(v, c)),
    left: change.left,
    addresses: change.addresses,
  };
  const path = join(dir, LKG_LOG_FILE);
  const fh = await open(path, "a+", 0o600);
  let size: number;
  let created: boolean;
  try {
    const before = (await fh.stat()).size;
    created = before === 0;
    await dropTornTail(fh, before);
    await fh.write(`${JSON.stringify(record)}\n`);
    await fh.sync();
    size = (await fh.stat()).size;
  } finally {
    await fh.close();
  }
  if (created) await syncDir(dir);
  return size;
}

/** A record cut short by a crash (no final newline) is cut off, so the next one starts on its own line. */
async function dropTornTail(fh: FileHandle, size: number): Promise<void> {
  if (size === 0) return;
  const last = Buffer.alloc(1);
  await fh.read(last, 0, 1, size - 1);
  if (last[0] === 0x0a) return;
  const whole = await fh.readFile();
  await fh.truncate(whole.lastIndexOf(0x0a) + 1);
}

async function syncDir(path: string): Promise<void> {
  const d = await open(path, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
