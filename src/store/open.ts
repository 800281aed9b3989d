/** Opens the store a `--store` setting names: the embedded SQLite file or a PostgreSQL database. */
import { join } from "node:path";
import { SecretKey } from "../util/secret-key.js";
import { PostgresStore } from "./postgres/postgres-store.js";
import { DocCodec } from "./secrets/codec.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

/**
 * `sqlite` (the default: `<dataDir>/ballast.db`), `sqlite:/path/to/file.db`, or a
 * `postgres://` / `postgresql://` connection URL. Whatever the driver, secret fields are sealed with
 * the data directory's key: `BALLAST_SECRET_KEY` (base64) or `<dataDir>/secret.key`, created 0600
 * on first start (`key` overrides both).
 */
export async function openStore(spec: string, dataDir: string, key?: SecretKey): Promise<Store> {
  const s = spec.trim();
  const codec = (): DocCodec => new DocCodec(key ?? SecretKey.load(dataDir));
  if (s === "" || s === "sqlite") return new SqliteStore(join(dataDir, "ballast.db"), { codec: codec() });
  if (s.startsWith("sqlite:")) {
    const path = s.slice("sqlite:".length);
    if (path === "")
      throw new Error(`store "${spec}": sqlite: needs a file path, e.g. sqlite:/var/lib/ballast.db`);
    return new SqliteStore(path, { codec: codec() });
  }
  if (s.startsWith("postgres://") || s.startsWith("postgresql://"))
    return PostgresStore.open(s, { codec: codec() });
  throw new Error(
    `unknown store "${redact(spec)}": use "sqlite", "sqlite:/path/to/file.db", or a postgres:// URL`,
  );
}

/** Never echo a password that was pasted into the wrong setting. */
function redact(spec: string): string {
  return spec.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
