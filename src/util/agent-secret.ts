/** Agents' own secrets: made at random, stored only as a SHA-256, compared in constant time. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export function newAgentSecret(): string {
  return randomBytes(32).toString("base64url");
}

export function hashAgentSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function agentSecretMatches(secret: string, hash: string): boolean {
  const given = Buffer.from(hashAgentSecret(secret), "hex");
  const want = Buffer.from(hash, "hex");
  return given.length === want.length && timingSafeEqual(given, want);
}
