/**
 * A whole-state export: one self-checking JSON document, written atomically, that a fresh store
 * (SQLite or PostgreSQL) can be rebuilt from.
 *
 * Version 2 (this one writes): secret fields (credential secrets, TLS private keys) are sealed
 * with the store's secret key exactly as at rest (secrets/codec.ts), and the document carries
 * `mac`, an HMAC-SHA256 of everything else with a key derived from the secret key. A flipped byte,
 * a truncated copy, or a file made or edited by hand — which anyone can give a matching bare
 * SHA-256 — is refused before anything is written to a store. Reading one back needs the same
 * secret key (keep it apart from the exports: docs/OPERATIONS.md).
 *
 * Version 1 (before): plain secrets and a bare SHA-256 `checksum`. Such a file is refused unless
 * the importer says `acceptUnsigned` (an administrator's explicit choice, for backups taken before
 * the upgrade); its checksum is still checked.
 *
 * Files are written readable by their owner only.
 */
import { createHash, randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { BallastError } from "../../model/errors.js";
import { ACCESS_KINDS, ENTITY_KINDS, type EntityKind } from "../../model/types.js";
import type { SecretKey } from "../../util/secret-key.js";
import { canonicalJson } from "../journal.js";
import type { DocCodec } from "../secrets/codec.js";
import type { RevisionMeta, Store } from "../store.js";
import { type ApplyResult, applyState } from "./apply.js";
import { type AnyDoc, docsEqual, entityKey } from "./entity.js";
import { emptyEntityMaps, type State, type StateEntry, stateAt, stateEntries } from "./snapshot.js";

export const EXPORT_FORMAT = "ballast-state";
export const EXPORT_VERSION = 2;
/** The version before: plain secrets, a bare SHA-256; read only with `acceptUnsigned`. */
export const UNSIGNED_EXPORT_VERSION = 1;
/** The HKDF purpose of the export MAC key. */
const MAC_PURPOSE = "state export mac v2";

export interface ExportDocument {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: typeof EXPORT_VERSION | typeof UNSIGNED_EXPORT_VERSION;
  /** The journal revision the state is as of. */
  readonly revision: number;
  readonly exportedAt: string;
  /** Which secret key sealed and signed it (a fingerprint, not the key): names the key it needs. */
  readonly keyFingerprint?: string;
  /** Sorted by kind, then key; secret fields sealed (version 2). */
  readonly entities: readonly StateEntry[];
  /** Version 2: HMAC-SHA256 (hex) of the canonical JSON of every other field. */
  readonly mac?: string;
  /** Version 1 only: sha256 of the canonical JSON of every other field. */
  readonly checksum?: string;
}

export interface ParseExportOptions {
  /**
   * The secret key the MAC is checked with. Without it only the document's shape is checked — for
   * clients that do not hold the server's key; every import checks the MAC (importState).
   */
  readonly key?: SecretKey;
  /** Accept a version-1 file (bare checksum, plain secrets): the administrator's explicit choice. */
  readonly acceptUnsigned?: boolean;
}

/**
 * The state at `at` (default: the head), from the journal's replay rather than the drivers'
 * current tables: consistent at one revision, and the journal's truth if the two ever disagree.
 */
export async function exportState(store: Store, options: { at?: number } = {}): Promise<ExportDocument> {
  const at = options.at ?? (await store.head());
  const state = await stateAt(store, at);
  const { codec } = store;
  const body = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    revision: state.revision,
    exportedAt: new Date().toISOString(),
    keyFingerprint: codec.key.fingerprint,
    entities: stateEntries(state).map((e) => ({ ...e, doc: codec.seal(e.kind, e.key, e.doc) })),
  } as const;
  return { ...body, mac: macOf(codec.key, body) };
}

export function macOf(key: SecretKey, body: unknown): string {
  return key.mac(MAC_PURPOSE, canonicalJson(body));
}

export function checksumOf(body: unknown): string {
  return createHash("sha256").update(canonicalJson(body)).digest("hex");
}

export function serializeExport(doc: ExportDocument): string {
  return `${JSON.stringify(doc)}\n`;
}

export function parseExport(
  text: string,
  source = "export",
  options: ParseExportOptions = {},
): ExportDocument {
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
  if (raw.version === UNSIGNED_EXPORT_VERSION) {
    if (options.key !== undefined && !options.acceptUnsigned) {
      return fail(
        "it is an unsigned export (version 1, a bare checksum that anyone can recompute), so it may " +
          "have been made or edited by hand; import it only if you know where it came from, with " +
          "--accept-unsigned (admin API: acceptUnsigned=true)",
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
  } else if (raw.version === EXPORT_VERSION) {
    if (typeof raw.mac !== "string") return fail("it has no MAC (it was not written by Ballast)");
    const { mac, ...body } = raw;
    if (options.key !== undefined && !options.key.verifyMac(MAC_PURPOSE, canonicalJson(body), mac)) {
      const theirs = typeof raw.keyFingerprint === "string" ? raw.keyFingerprint : "unknown";
      return fail(
        theirs === options.key.fingerprint
          ? "MAC mismatch: it was altered or corrupted after it was written"
          : `MAC mismatch: it was altered, or written by a control plane with another secret key (key ${theirs}; this one has ${options.key.fingerprint})`,
      );
    }
  } else {
    return fail(
      `version ${JSON.stringify(raw.version)} is not supported (this Ballast reads version ${EXPORT_VERSION})`,
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

/** The state an export holds, its secret fields opened with `codec` (the store's). */
export function exportToState(doc: ExportDocument, codec: DocCodec): State {
  const maps = emptyEntityMaps();
  for (const e of doc.entities)
    (maps[e.kind] as Map<string, AnyDoc>).set(e.key, codec.open(e.kind, e.key, e.doc));
  return { revision: doc.revision, entities: maps };
}

export interface ImportOptions {
  /**
   * Replace the store's credentials with the export's (default true: an export is a disaster
   * recovery artifact and a rebuilt store needs its keys). Pass false to import into a running
   * store without touching who can sign in — see restore.ts for the lock-out this avoids.
   */
  readonly includeCredentials?: boolean;
  /**
   * Access key ids kept exactly as the store has them whatever the export says — the importing
   * caller's own key, so an import never locks out or re-keys whoever runs it.
   */
  readonly keepCredentials?: readonly string[];
  /** Accept a version-1 (unsigned) export; see parseExport. */
  readonly acceptUnsigned?: boolean;
}

export interface ImportResult extends ApplyResult {
  /** The access key ids of `keepCredentials` kept as they were where the export would have removed or changed them. */
  readonly keptCredentials: readonly string[];
}

/** Makes the store's state equal the export's, as one new revision; the journal keeps its history. */
export async function importState(
  store: Store,
  doc: ExportDocument,
  meta: RevisionMeta,
  options: ImportOptions = {},
): Promise<ImportResult> {
  // Re-check: a document built or edited in memory gets the same scrutiny as one read from disk,
  // and its MAC is checked with this store's key.
  parseExport(JSON.stringify(doc), "the document to import", {
    key: store.codec.key,
    ...(options.acceptUnsigned === undefined ? {} : { acceptUnsigned: options.acceptUnsigned }),
  });
  const withCredentials = options.includeCredentials !== false;
  const kinds = ENTITY_KINDS.filter((k) => !ACCESS_KINDS.includes(k) || withCredentials);
  const state = exportToState(doc, store.codec);
  const kept: string[] = [];
  if (withCredentials) {
    const credentials = state.entities.credential as Map<string, AnyDoc>;
    for (const id of options.keepCredentials ?? []) {
      const mine = await store.get("credential", id);
      if (mine === undefined) continue;
      const theirs = credentials.get(id);
      credentials.set(id, mine.doc);
      // Reported only where the export would have removed or changed it.
      if (theirs === undefined || !docsEqual(theirs, mine.doc)) kept.push(id);
    }
  }
  const result = await applyState(store, state, { kinds }, meta);
  return { ...result, keptCredentials: kept };
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

export async function readExportFile(
  path: string,
  options: ParseExportOptions = {},
): Promise<ExportDocument> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new BallastError("ValidationError", `cannot read export ${path}: ${(e as Error).message}`);
  }
  return parseExport(text, `export ${path}`, options);
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
