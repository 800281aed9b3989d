/**
 * A whole-state export: one self-checking JSON document, written atomically, that a fresh store
 * (SQLite or PostgreSQL) can be rebuilt from. The checksum covers everything but itself, so a
 * flipped byte or a truncated copy is refused before anything is written to a store.
 *
 * The export holds credential secrets (a rebuilt store must accept the same keys), so files are
 * written readable by their owner only.
 */
import { createHash, randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { BallastError } from "../../model/errors.js";
import { ACCESS_KINDS, ENTITY_KINDS, type EntityKind } from "../../model/types.js";
import { canonicalJson } from "../journal.js";
import type { RevisionMeta, Store } from "../store.js";
import { type ApplyResult, applyState } from "./apply.js";
import { type AnyDoc, entityKey } from "./entity.js";
import { emptyEntityMaps, type State, type StateEntry, stateAt, stateEntries } from "./snapshot.js";

export const EXPORT_FORMAT = "ballast-state";
export const EXPORT_VERSION = 1;

export interface ExportDocument {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: typeof EXPORT_VERSION;
  /** The journal revision the state is as of. */
  readonly revision: number;
  readonly exportedAt: string;
  /** Sorted by kind, then key. */
  readonly entities: readonly StateEntry[];
  /** sha256 of the canonical JSON of every other field. */
  readonly checksum: string;
}

/**
 * The state at `at` (default: the head), from the journal's replay rather than the drivers'
 * current tables: consistent at one revision, and the journal's truth if the two ever disagree.
 */
export async function exportState(store: Store, options: { at?: number } = {}): Promise<ExportDocument> {
  const at = options.at ?? (await store.head());
  const state = await stateAt(store, at);
  const body = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    revision: state.revision,
    exportedAt: new Date().toISOString(),
    entities: stateEntries(state),
  } as const;
  return { ...body, checksum: checksumOf(body) };
}

export function checksumOf(body: unknown): string {
  return createHash("sha256").update(canonicalJson(body)).digest("hex");
}

export function serializeExport(doc: ExportDocument): string {
  return `${JSON.stringify(doc)}\n`;
}

export function parseExport(text: string, source = "export"): ExportDocument {
  const fail: (why: string) => never = (why) => {
    throw new BallastError("ValidationError", `${source} is not a usable Ballast state export: ${why}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(`it is not valid JSON, so it is truncated or corrupted (${(e as Error).message})`);
  }
  if (!isRecord(raw)) return fail("it is not a JSON object");
  if (raw.format !== EXPORT_FORMAT)
    return fail(`format is ${JSON.stringify(raw.format)}, not "${EXPORT_FORMAT}"`);
  if (raw.version !== EXPORT_VERSION) {
    return fail(
      `version ${JSON.stringify(raw.version)} is not supported (this Ballast reads version ${EXPORT_VERSION})`,
    );
  }
  if (typeof raw.checksum !== "string") return fail("it has no checksum");
  const { checksum, ...body } = raw;
  const actual = checksumOf(body);
  if (actual !== checksum) {
    return fail(
      `checksum mismatch: the file says ${checksum.slice(0, 12)}…, its content hashes to ${actual.slice(0, 12)}…; it was altered or corrupted`,
    );
  }
  if (!Number.isSafeInteger(raw.revision) || (raw.revision as number) < 0)
    return fail("revision is not a whole number");
  if (typeof raw.exportedAt !== "string" || Number.isNaN(Date.parse(raw.exportedAt))) {
    return fail("exportedAt is not a time");
  }
  if (!Array.isArray(raw.entities)) return fail("entities is not a list");
  const seen = new Set<string>();
  for (const [i, e] of (raw.entities as unknown[]).entries()) {
    if (!isRecord(e)) fail(`entity ${i} is not an object`);
    if (typeof e.kind !== "string" || !(ENTITY_KINDS as readonly string[]).includes(e.kind)) {
      fail(`entity ${i} has unknown kind ${JSON.stringify(e.kind)}`);
    }
    if (typeof e.key !== "string" || e.key === "") fail(`entity ${i} has no key`);
    if (!isRecord(e.doc)) fail(`entity ${i} (${e.kind} '${e.key}') has no document`);
    const kind = e.kind as EntityKind;
    const docKey: unknown = entityKey(kind, e.doc as unknown as AnyDoc);
    if (docKey !== e.key)
      fail(`entity ${i} is keyed '${e.key}' but its document names ${JSON.stringify(docKey)}`);
    const id = `${kind}\u0000${e.key}`;
    if (seen.has(id)) fail(`${kind} '${e.key}' appears twice`);
    seen.add(id);
  }
  return raw as unknown as ExportDocument;
}

export function exportToState(doc: ExportDocument): State {
  const maps = emptyEntityMaps();
  for (const e of doc.entities) (maps[e.kind] as Map<string, AnyDoc>).set(e.key, e.doc);
  return { revision: doc.revision, entities: maps };
}

export interface ImportOptions {
  /**
   * Replace the store's credentials with the export's (default true: an export is a disaster
   * recovery artifact and a rebuilt store needs its keys). Pass false to import into a running
   * store without touching who can sign in — see restore.ts for the lock-out this avoids.
   */
  readonly includeCredentials?: boolean;
}

/** Makes the store's state equal the export's, as one new revision; the journal keeps its history. */
export async function importState(
  store: Store,
  doc: ExportDocument,
  meta: RevisionMeta,
  options: ImportOptions = {},
): Promise<ApplyResult> {
  // Re-check: a document built or edited in memory gets the same scrutiny as one read from disk.
  parseExport(JSON.stringify(doc), "the document to import");
  const kinds = ENTITY_KINDS.filter((k) => !ACCESS_KINDS.includes(k) || options.includeCredentials !== false);
  return applyState(store, exportToState(doc), { kinds }, meta);
}

/** Writes an export to `path` atomically: a private temp file, fsync, rename, fsync of the folder. */
export async function writeExportFile(
  store: Store,
  path: string,
  options: { at?: number } = {},
): Promise<ExportDocument> {
  const doc = await exportState(store, options);
  await writeFileAtomic(path, serializeExport(doc));
  return doc;
}

export async function readExportFile(path: string): Promise<ExportDocument> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new BallastError("ValidationError", `cannot read export ${path}: ${(e as Error).message}`);
  }
  return parseExport(text, `export ${path}`);
}

export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(text, "utf8");
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
