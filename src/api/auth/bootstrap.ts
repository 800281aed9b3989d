/**
 * The first admin credential. Nobody holds standing access by default (principle 5), but a new
 * installation needs one principal to create the others: this creates it exactly once, either
 * from the environment (for automated installs) or generated, written to a 0600 file in the data
 * directory in AWS shared-credentials format so `AWS_PROFILE=ballast` works as-is.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { ADMINISTRATOR_POLICY } from "../../model/access.js";
import { BallastError } from "../../model/errors.js";
import { evaluate } from "../../model/iam-policy.js";
import type { Credential, Principal } from "../../model/types.js";
import type { Store } from "../../store/store.js";
import type { Logger } from "../../util/logger.js";
import type { Authorizer } from "./authorizer.js";

export const BOOTSTRAP_FILE = "bootstrap-credentials";
export const BOOTSTRAP_PROFILE = "ballast";

export interface BootstrapOptions {
  readonly store: Store;
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
}

export interface BootstrapResult {
  readonly accessKeyId: string;
  readonly credentialsFile?: string;
  readonly created: boolean;
}

const KEY_ID = /^[A-Z0-9]{16,128}$/;
/** RFC 4648 base32 alphabet: upper case and digits 2-7, like AWS key ids. */
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function generateAccessKeyId(): string {
  let id = "AKIA";
  for (const b of randomBytes(16)) id += BASE32[b & 31];
  return id;
}

/** 40 characters, the length and alphabet of an AWS secret access key. */
export function generateSecretAccessKey(): string {
  return randomBytes(30).toString("base64");
}

export function credentialsFileText(accessKeyId: string, secretAccessKey: string): string {
  return `[${BOOTSTRAP_PROFILE}]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`;
}

function fromEnv(env: NodeJS.ProcessEnv): { accessKeyId: string; secretAccessKey: string } | undefined {
  const id = env.BALLAST_BOOTSTRAP_ACCESS_KEY_ID;
  const secret = env.BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY;
  if (id === undefined && secret === undefined) return undefined;
  if (id === undefined || secret === undefined) {
    throw new BallastError(
      "ValidationError",
      "BALLAST_BOOTSTRAP_ACCESS_KEY_ID and BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY must be set together",
    );
  }
  if (!KEY_ID.test(id)) {
    throw new BallastError(
      "ValidationError",
      "BALLAST_BOOTSTRAP_ACCESS_KEY_ID must be 16 to 128 characters of A-Z and 0-9",
    );
  }
  if (secret.length < 16 || /\s/.test(secret)) {
    throw new BallastError(
      "ValidationError",
      "BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY must be at least 16 characters, without whitespace",
    );
  }
  return { accessKeyId: id, secretAccessKey: secret };
}

/**
 * Writes the file through a fresh temporary created with mode 0600 (`wx`: never an existing file
 * whose mode we don't control), then renames it into place, so the secret is never readable by
 * others, not even for a moment, and a crash never leaves half a file.
 */
async function writeSecretFile(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function existingFile(path: string): Promise<string | undefined> {
  try {
    return (await stat(path)).isFile() ? path : undefined;
  } catch {
    return undefined;
  }
}

function firstAdmin(credentials: readonly Credential[]): Credential | undefined {
  const sorted = [...credentials].sort((a, b) => a.createdTime.localeCompare(b.createdTime));
  return sorted.find((c) => c.role === "admin") ?? sorted[0];
}

export async function ensureBootstrapAdmin(opts: BootstrapOptions): Promise<BootstrapResult> {
  const { store, dataDir, env, logger } = opts;
  const path = join(dataDir, BOOTSTRAP_FILE);
  const existing = firstAdmin((await store.list("credential")).map((c) => c.doc));
  if (existing) {
    const file = await existingFile(path);
    return { accessKeyId: existing.accessKeyId, created: false, ...(file ? { credentialsFile: file } : {}) };
  }

  const given = fromEnv(env);
  const accessKeyId = given?.accessKeyId ?? generateAccessKeyId();
  const secretAccessKey = given?.secretAccessKey ?? generateSecretAccessKey();
  // The file is written before the credential is stored: if the process dies in between, the
  // next start finds no credential and starts over. The other order could store a credential
  // whose secret nobody ever saw, locking the installation out.
  if (!given) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeSecretFile(path, credentialsFileText(accessKeyId, secretAccessKey));
  }

  const createdTime = new Date().toISOString();
  const credential: Credential = {
    accessKeyId,
    secretAccessKey,
    principal: "admin",
    status: "Active",
    createdTime,
  };
  // The bootstrap principal holds the administrator policy (an older installation's first key has
  // role admin instead, which reads as the same policy).
  const principal: Principal = { name: "admin", createdTime, policies: [ADMINISTRATOR_POLICY] };
  const meta = {
    principal: "bootstrap",
    sourceIp: "local",
    requestId: randomUUID(),
    action: "BootstrapAdmin",
  };
  const { result: winner } = await store.mutate(meta, async (tx) => {
    // Another control-plane replica on the same store may have bootstrapped meanwhile.
    const other = firstAdmin(await tx.list("credential"));
    if (other) return other;
    const existingPrincipal = await tx.get("principal", principal.name);
    if (!existingPrincipal?.policies.includes(ADMINISTRATOR_POLICY))
      tx.put("principal", principal.name, {
        ...principal,
        policies: [...(existingPrincipal?.policies ?? []), ADMINISTRATOR_POLICY],
      });
    tx.put("credential", accessKeyId, credential);
    return undefined;
  });

  if (winner) {
    if (!given) await rm(path, { force: true });
    logger.info("bootstrap admin credential already created by another replica", {
      accessKeyId: winner.accessKeyId,
    });
    return { accessKeyId: winner.accessKeyId, created: false };
  }
  logger.info("bootstrap admin credential created", {
    accessKeyId,
    source: given ? "environment" : "generated",
    ...(given ? {} : { credentialsFile: path }),
  });
  return { accessKeyId, created: true, ...(given ? {} : { credentialsFile: path }) };
}

/**
 * The two-person rule needs two principals: when fewer than two may approve change tickets (a
 * fresh installation has only its bootstrap administrator), how to make a second one, or how
 * break-glass works. Undefined when two or more may approve.
 */
export async function twoPersonHint(store: Store, authorizer: Authorizer): Promise<string | undefined> {
  const approve = {
    action: "ballast:ApproveTicket",
    resource: "arn:aws:ballast:us-east-1:000000000000:ticket/x",
  };
  const approvers = new Set<string>();
  for (const p of await store.list("principal"))
    if (evaluate(await authorizer.documents(p.doc.policies), approve) === "allow") approvers.add(p.doc.name);
  for (const c of await store.list("credential")) if (c.doc.role === "admin") approvers.add(c.doc.principal);
  if (approvers.size >= 2) return undefined;
  return [
    `Two-person rule: state restore, import, compaction and repair, guard releases and changes to administrators need a change ticket approved by a second principal, and ${approvers.size === 0 ? "no principal" : "only one principal"} here can approve one. Create a second:`,
    "  ballast principals create approver --policy BallastApprover && ballast keys create approver",
    "In an emergency one administrator can act alone with --break-glass --reason TEXT (audited, raises an alarm for 24 hours; docs/OPERATIONS.md).",
  ].join("\n");
}
