/**
 * AWS Query parameters: a flat `Name=value` form (POST body or GET query string) whose lists and
 * structures are spelled out in the names — `Listeners.member.1.Protocol`, `HealthCheck.Target`.
 * A QueryParams is a view under a prefix, so a structure or a list member reads like the top level.
 */
import { BallastError } from "../../model/errors.js";

export class QueryParams {
  readonly #flat: ReadonlyMap<string, string>;
  readonly #prefix: string;

  constructor(flat: ReadonlyMap<string, string>, prefix = "") {
    this.#flat = flat;
    this.#prefix = prefix;
  }

  static parse(...sources: readonly string[]): QueryParams {
    const flat = new Map<string, string>();
    for (const source of sources) for (const [k, v] of new URLSearchParams(source)) flat.set(k, v);
    return new QueryParams(flat);
  }

  string(name: string): string | undefined {
    return this.#flat.get(this.#prefix + name);
  }

  /** An integer member; a value that is not one is a ValidationError, as Coral answers. */
  integer(name: string): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    // Digits only: Number() would also read "0x1E", "3e1" and " 5 " as integers.
    const n = /^-?\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(n))
      throw new BallastError(
        "ValidationError",
        `1 validation error detected: Value '${raw}' at '${lowerFirst(name)}' failed to satisfy constraint: Member must be an integer`,
      );
    return n;
  }

  /** The view of a structure member, or undefined when no member of it was sent. */
  struct(name: string): QueryParams | undefined {
    const prefix = `${this.#prefix}${name}.`;
    for (const k of this.#flat.keys()) if (k.startsWith(prefix)) return new QueryParams(this.#flat, prefix);
    return undefined;
  }

  /** `Name.member.N` values in N order; an empty list is sent as `Name=` and reads as []. */
  strings(name: string): string[] | undefined {
    const indexes = this.#indexes(name);
    if (indexes === undefined) return undefined;
    const out: string[] = [];
    for (const i of indexes) {
      const v = this.#flat.get(`${this.#prefix}${name}.member.${i}`);
      if (v !== undefined) out.push(v);
    }
    return out;
  }

  /** `Name.member.N.*` structures in N order. */
  structs(name: string): QueryParams[] | undefined {
    const indexes = this.#indexes(name);
    return indexes?.map((i) => new QueryParams(this.#flat, `${this.#prefix}${name}.member.${i}.`));
  }

  #indexes(name: string): number[] | undefined {
    const base = `${this.#prefix}${name}`;
    const head = `${base}.member.`;
    const found = new Set<number>();
    let present = this.#flat.has(base);
    for (const k of this.#flat.keys()) {
      if (!k.startsWith(head)) continue;
      present = true;
      const rest = k.slice(head.length);
      const dot = rest.indexOf(".");
      const n = Number(dot === -1 ? rest : rest.slice(0, dot));
      if (Number.isSafeInteger(n) && n >= 1) found.add(n);
    }
    return present ? [...found].sort((a, b) => a - b) : undefined;
  }
}

function lowerFirst(s: string): string {
  return s.slice(0, 1).toLowerCase() + s.slice(1);
}
