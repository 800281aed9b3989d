/**
 * The secret key: 32 random bytes kept apart from the data they protect — in `<dir>/secret.key`
 * (created 0600 on first start) or given as `BALLAST_SECRET_KEY` (base64). It seals secret fields
 * with AES-256-GCM (`enc:v1:` + base64 of IV, tag and ciphertext) and derives, with HKDF-SHA256,
 * the keys of the snapshot MAC. The control plane and each agent have their own.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { chmodSync, closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";

export const SEALED_PREFIX = "enc:v1:";
export const SECRET_KEY_FILE = "secret.key";
export const SECRET_KEY_ENV = "BALLAST_SECRET_KEY";
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretKeyError extends Error {}

export class SecretKey {
  readonly #key: Buffer;
  /** Where the key came from, for messages: a file path or the environment variable's name. */
  readonly source: string;

  private constructor(key: Buffer, source: string) {
    this.#key = key;
    this.source = source;
  }

  static generate(source = "generated"): SecretKey {
    return new SecretKey(randomBytes(32), source);
  }

  static fromBase64(text: string, source: string): SecretKey {
    const key = Buffer.from(text.trim(), "base64");
    if (key.length !== 32) {
      throw new SecretKeyError(`${source} does not hold a base64 AES-256 key (32 bytes, got ${key.length})`);
    }
    return new SecretKey(key, source);
  }

  /**
   * The key of a data directory: `BALLAST_SECRET_KEY` when set (base64), otherwise `<dir>/secret.key`,
   * created with mode 0600 when absent (the directory must exist). `envName` lets agents and the
   * control plane of one host use different variables if they need to.
   */
  static load(dir: string, env: NodeJS.ProcessEnv = process.env, envName = SECRET_KEY_ENV): SecretKey {
    const given = env[envName];
    if (given !== undefined && given.trim() !== "") return SecretKey.fromBase64(given, envName);
    const path = join(dir, SECRET_KEY_FILE);
    try {
      return SecretKey.fromBase64(readFileSync(path, "utf8"), path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const key = randomBytes(32);
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (e) {
      // Another process created it between our read and our create: use theirs.
      if ((e as NodeJS.ErrnoException).code === "EEXIST")
        return SecretKey.fromBase64(readFileSync(path, "utf8"), path);
      throw e;
    }
    try {
      writeSync(fd, `${key.toString("base64")}\n`);
    } finally {
      closeSync(fd);
    }
    chmodSync(path, 0o600);
    return new SecretKey(key, path);
  }

  /** A short fingerprint that names the key without revealing it (sha256 of the key, 12 hex digits). */
  get fingerprint(): string {
    return createHash("sha256")
      .update("ballast key fingerprint\n")
      .update(this.#key)
      .digest("hex")
      .slice(0, 12);
  }

  /** AES-256-GCM of `plain`, bound to `context` (authenticated, not stored): where the value belongs. */
  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString("base64");
  }

  /** The plain text of a sealed value; a value without the prefix is returned as it is (older rows). */
  open(value: string, context: string): string {
    if (!isSealed(value)) return value;
    const raw = Buffer.from(value.slice(SEALED_PREFIX.length), "base64");
    if (raw.length < IV_BYTES + TAG_BYTES)
      throw new SecretKeyError(`sealed value of ${context} is truncated`);
    const decipher = createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
        "utf8",
      );
    } catch {
      throw new SecretKeyError(
        `cannot decrypt ${context}: it was sealed with another key than ${this.source} (key ${this.fingerprint}), or altered`,
      );
    }
  }

  /** HMAC-SHA256 (hex) of `data` with a key derived for `purpose`. */
  mac(purpose: string, data: string): string {
    const key = Buffer.from(hkdfSync("sha256", this.#key, Buffer.alloc(0), `ballast ${purpose}`, 32));
    return createHmac("sha256", key).update(data, "utf8").digest("hex");
  }

  /** Constant-time check of a MAC made by `mac`. */
  verifyMac(purpose: string, data: string, mac: string): boolean {
    const expected = Buffer.from(this.mac(purpose, data), "utf8");
    const given = Buffer.from(mac, "utf8");
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

export function isSealed(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(SEALED_PREFIX);
}
