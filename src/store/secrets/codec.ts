/**
 * Documents at the store boundary: the secret fields of an entity kind (an access key's secret,
 * a certificate's private key) are sealed with the store's key as a document is serialised for
 * the database, an export or a backup, and opened as it is read back; everything above the store
 * sees plain documents. A sealed value is bound to its kind, key and field, so a ciphertext cannot
 * be moved to another entity. Values without the `enc:v1:` prefix (rows written before
 * encryption) are read as they are and sealed when next written.
 */
import type { EntityKind, EntityTypes } from "../../model/types.js";
import { isSealed, SecretKey } from "../../util/secret-key.js";

/** The fields that never rest in plain text, per entity kind. */
export const SECRET_FIELDS: { readonly [K in EntityKind]?: readonly string[] } = {
  credential: ["secretAccessKey"],
  certificate: ["privateKey"],
};

export function hasSecrets(kind: EntityKind): boolean {
  return SECRET_FIELDS[kind] !== undefined;
}

function context(kind: string, key: string, field: string): string {
  return `ballast/${kind}/${key}/${field}`;
}

type Doc = EntityTypes[EntityKind];

export class DocCodec {
  readonly key: SecretKey;

  constructor(key: SecretKey) {
    this.key = key;
  }

  /** The document with its secret fields sealed (a new object; the argument is not changed). */
  seal<K extends EntityKind>(kind: K, key: string, doc: EntityTypes[K]): EntityTypes[K] {
    const fields = SECRET_FIELDS[kind];
    if (!fields) return doc;
    const out: Record<string, unknown> = { ...(doc as object) };
    for (const f of fields) {
      const v = out[f];
      if (typeof v === "string" && !isSealed(v)) out[f] = this.key.seal(v, context(kind, key, f));
    }
    return out as unknown as EntityTypes[K];
  }

  /** The document with its sealed fields opened; plain (older) values pass through. */
  open<K extends EntityKind>(kind: K, key: string, doc: EntityTypes[K]): EntityTypes[K] {
    const fields = SECRET_FIELDS[kind];
    if (!fields) return doc;
    let out: Record<string, unknown> | undefined;
    for (const f of fields) {
      const v = (doc as unknown as Record<string, unknown>)[f];
      if (!isSealed(v)) continue;
      out ??= { ...(doc as object) };
      out[f] = this.key.open(v, context(kind, key, f));
    }
    return (out ?? doc) as unknown as EntityTypes[K];
  }

  /** The text a driver stores for a document. */
  encode(kind: EntityKind, key: string, doc: Doc): string {
    return JSON.stringify(this.seal(kind, key, doc));
  }

  /** The document a driver's stored text holds. */
  decode<K extends EntityKind>(kind: K, key: string, text: string): EntityTypes[K] {
    const doc = JSON.parse(text) as EntityTypes[K];
    return hasSecrets(kind) ? this.open(kind, key, doc) : doc;
  }
}

let processKey: SecretKey | undefined;

/**
 * The codec a driver uses when none is given: `BALLAST_SECRET_KEY` if set, else one key for the
 * life of this process (tests, benchmarks). The control plane always passes its data directory's key.
 */
export function defaultCodec(): DocCodec {
  const env = process.env.BALLAST_SECRET_KEY;
  if (env !== undefined && env.trim() !== "")
    return new DocCodec(SecretKey.fromBase64(env, "BALLAST_SECRET_KEY"));
  processKey ??= SecretKey.generate("process key");
  return new DocCodec(processKey);
}
