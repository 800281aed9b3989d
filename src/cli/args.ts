/** Small helpers for the `ballast` subcommands' flags. */
import { UsageError } from "./errors.js";

export { UsageError };

export function intFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535)
    throw new UsageError(`--${name} must be a port number, got '${value}'`);
  return n;
}

/** A positive whole number (a count or a cap). */
export function countFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a whole number of at least 1`);
  return n;
}

export function requireFlag(value: string | undefined, name: string): string {
  if (value === undefined || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

/** A positional argument the verb needs. */
export function requireArg(value: string | undefined, what: string): string {
  if (value === undefined || value === "") throw new UsageError(`${what} is required`);
  return value;
}
