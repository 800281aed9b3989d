/**
 * How a `ballast` command is described. Each command is one declarative `CommandSpec` — its
 * name, a one-line summary, its verbs (subcommands) and its flags with type, default and help —
 * and both the flag parser (`parseCommand`) and the help text (`helpText`) are derived from it,
 * so what `--help` says and what the parser accepts cannot disagree.
 *
 * Adding a command:
 *   1. describe it with `defineCommand({ name, summary, flags, verbs? })` in a module under
 *      `src/cli/specs/` — those modules import nothing heavy, so `ballast --help` stays fast;
 *   2. list it, with a `load` that `import()`s its implementation, in `src/cli/commands.ts`;
 *   3. in the implementation, `const { values, positionals, verb } = parseCommand(SPEC, argv)`:
 *      `values` is typed from the flags (a flag with a default is never undefined).
 * Adding a flag to a verb: add it to `flags` and to that verb's `flags` list (or to `common`
 * when every verb takes it). A flag given to a verb that does not list it is a usage error.
 *
 * Errors: throw `UsageError` for bad input (exit 2, "run 'ballast … --help'"), `CliError` with
 * an error code and an optional hint for anything else (exit 1); `main.ts` prints either as one
 * line. `--help`/`-h` is handled by `main.ts` before the implementation is even loaded.
 */
import { parseArgs } from "node:util";
import { UsageError } from "./errors.js";

export interface Flag {
  readonly type: "string" | "boolean";
  /** One line: what the flag means. */
  readonly help: string;
  readonly default?: string | boolean;
  readonly multiple?: boolean;
  readonly short?: string;
  /** The value's placeholder in the help (FILE, ZONE…); default VALUE. */
  readonly arg?: string;
  /** A default decided at run time, in words (shown in the help; the parser leaves it undefined). */
  readonly defaultText?: string;
}

export type Flags = Readonly<Record<string, Flag>>;

export interface Verb {
  readonly name: string;
  /** The positional arguments after the verb, as the help shows them ("ID", "NAME MAX"). */
  readonly args?: string;
  readonly summary: string;
  /** The flags this verb takes besides the command's `common` ones. */
  readonly flags?: readonly string[];
}

export interface CommandSpec<F extends Flags = Flags> {
  readonly name: string;
  readonly summary: string;
  /** Positional arguments of a command without verbs ("christmas-eve"). */
  readonly args?: string;
  /** More lines for the command's help: what to know before using it. */
  readonly details?: readonly string[];
  readonly flags: F;
  /** Flags every verb takes; absent: every flag applies to every verb. */
  readonly common?: readonly string[];
  readonly verbs?: readonly Verb[];
  /** Without a verb: print the help (the default) or run with no verb. */
  readonly verbOptional?: boolean;
}

/** A spec whose `common` and verbs' `flags` may name only its own flags. */
type CheckedSpec<F extends Flags> = Omit<CommandSpec<F>, "common" | "verbs"> & {
  readonly common?: readonly (keyof F & string)[];
  readonly verbs?: readonly (Verb & { readonly flags?: readonly (keyof F & string)[] })[];
};

/** Checks the verbs' flag names against the flags at compile time. */
export function defineCommand<const F extends Flags>(spec: CheckedSpec<F>): CommandSpec<F> {
  return spec;
}

type One<T extends Flag> = T["type"] extends "boolean" ? boolean : string;
type Value<T extends Flag> = T["multiple"] extends true ? One<T>[] : One<T>;

/** The parsed flags: a flag with a default always has a value. */
export type FlagValues<F extends Flags> = {
  -readonly [K in keyof F]: F[K] extends { readonly default: string | boolean }
    ? Value<F[K]>
    : Value<F[K]> | undefined;
};

export interface Parsed<F extends Flags> {
  readonly values: FlagValues<F>;
  /** The positionals after the verb (all of them for a command without verbs). */
  readonly positionals: string[];
  readonly verb: string | undefined;
}

const HELP = new Set(["-h", "--help"]);

/** Whether the arguments ask for help (before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === "--") return false;
    if (HELP.has(a)) return true;
  }
  return false;
}

/** The verb the arguments name, if the command has verbs and it is one of them. */
export function verbOf(spec: CommandSpec, argv: readonly string[]): Verb | undefined {
  if (!spec.verbs) return undefined;
  const { positionals } = parseArgs({
    args: argv.filter((a) => !HELP.has(a)),
    options: spec.flags,
    allowPositionals: true,
    strict: false,
  });
  return spec.verbs.find((v) => v.name === positionals[0]);
}

/** Parses `argv` by the spec; throws UsageError for an unknown flag, verb or misplaced flag. */
export function parseCommand<F extends Flags>(spec: CommandSpec<F>, argv: readonly string[]): Parsed<F> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: spec.flags, allowPositionals: true, tokens: true });
  } catch (e) {
    throw usageOf(e);
  }
  const values = parsed.values as FlagValues<F>;
  if (!spec.verbs) {
    checkArguments(spec.name, spec.args, parsed.positionals);
    return { values, positionals: parsed.positionals, verb: undefined };
  }
  const [verbName, ...rest] = parsed.positionals;
  if (verbName === undefined) {
    if (spec.verbOptional) return { values, positionals: [], verb: undefined };
    throw new UsageError(`a verb is required: ${spec.verbs.map((v) => v.name).join(", ")}`);
  }
  const verb = spec.verbs.find((v) => v.name === verbName);
  if (!verb) throw new UsageError(`unknown verb '${verbName}' (${spec.verbs.map((v) => v.name).join(", ")})`);
  const allowed = flagsOf(spec, verb);
  for (const t of parsed.tokens ?? [])
    if (t.kind === "option" && !allowed.includes(t.name))
      throw new UsageError(`--${t.name} does not apply to '${spec.name} ${verb.name}'`);
  checkArguments(`${spec.name} ${verb.name}`, verb.args, rest);
  return { values, positionals: rest, verb: verb.name };
}

/**
 * The positionals against what the help promises ("NAME", "A [B]", "FILE..."): none empty (an
 * empty name would reach the API as a different path), at least the required ones, and no more
 * than the help lists. The command's own code may still check what it expects of each.
 */
function checkArguments(what: string, args: string | undefined, given: readonly string[]): void {
  if (given.some((g) => g.trim() === "")) throw new UsageError(`'${what}' was given an empty argument`);
  const words = args === undefined ? [] : args.split(/\s+/).filter((w) => w !== "");
  if (words.some((w) => w.endsWith("..."))) return;
  const required = words.filter((w) => !w.startsWith("[")).length;
  if (given.length > words.length) {
    const extra = given[words.length];
    throw new UsageError(
      words.length === 0
        ? `unexpected argument '${extra}'`
        : `'${what}' takes ${words.join(" ")} (unexpected '${extra}')`,
    );
  }
  if (given.length < required) throw new UsageError(`'${what}' needs ${words.join(" ")}`);
}

/** The flags a verb takes: the common ones and its own. */
export function flagsOf(spec: CommandSpec, verb: Verb | undefined): string[] {
  const all = Object.keys(spec.flags);
  if (!verb || !spec.common) return all;
  const mine = new Set<string>([...spec.common, ...(verb.flags ?? [])]);
  return all.filter((f) => mine.has(f));
}

/** parseArgs' own errors, in the CLI's words. */
function usageOf(e: unknown): unknown {
  if (!(e instanceof TypeError) || !("code" in e)) return e;
  const m = e.message;
  const flag = /'(-{1,2}[^' ]+)/.exec(m)?.[1] ?? "";
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(`unknown flag '${flag}'`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return new UsageError(
        m.includes("does not take an argument") ? `${flag} takes no value` : `${flag} needs a value`,
      );
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new UsageError(`unexpected argument ${/'([^']*)'/.exec(m)?.[1] ?? ""}`.trim());
    default:
      return new UsageError(m.split(". ")[0] ?? m);
  }
}

/** `ballast NAME [VERB]`: what a usage error tells the user to run with --help. */
export function commandPath(spec: CommandSpec, verb: Verb | undefined): string {
  return `ballast ${spec.name}${verb ? ` ${verb.name}` : ""}`;
}

/** The help of a command, or of one of its verbs. */
export function helpText(spec: CommandSpec, verb?: Verb): string {
  const lines: string[] = [];
  if (verb) {
    lines.push(`usage: ballast ${spec.name} ${verb.name}${verb.args ? ` ${verb.args}` : ""} [flags]`, "");
    lines.push(`${verb.summary}`);
  } else {
    const shape = spec.verbs ? (spec.verbOptional ? "[<verb>]" : "<verb>") : (spec.args ?? "");
    lines.push(`usage: ballast ${spec.name}${shape ? ` ${shape}` : ""} [flags]`, "");
    lines.push(spec.summary);
    for (const d of spec.details ?? []) lines.push(d);
    if (spec.verbs) {
      lines.push("", "verbs:");
      const heads = spec.verbs.map((v) => `${v.name}${v.args ? ` ${v.args}` : ""}`);
      const w = Math.max(...heads.map((h) => h.length));
      spec.verbs.forEach((v, i) => {
        lines.push(`  ${(heads[i] ?? "").padEnd(w)}  ${v.summary}`);
      });
    }
  }
  const names = flagsOf(spec, verb);
  lines.push("", "flags:");
  const rows = names.map((name): [string, string] => {
    const f = spec.flags[name] as Flag;
    const head = `${f.short ? `-${f.short}, ` : ""}--${name}${f.type === "string" ? ` ${f.arg ?? "VALUE"}` : ""}`;
    const def =
      f.defaultText ??
      (f.default === undefined || f.default === false ? undefined : String(f.default as string | boolean));
    const where =
      !verb && spec.verbs && spec.common && !spec.common.includes(name)
        ? ` [${spec.verbs
            .filter((v) => v.flags?.includes(name))
            .map((v) => v.name)
            .join(", ")}]`
        : "";
    return [
      head,
      `${f.help}${f.multiple ? " (repeatable)" : ""}${def === undefined ? "" : ` (default ${def})`}${where}`,
    ];
  });
  rows.push(["-h, --help", "this help"]);
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [head, text] of rows) lines.push(`  ${head.padEnd(w)}  ${text}`);
  if (!verb && spec.verbs) lines.push("", `'ballast ${spec.name} <verb> --help' shows one verb.`);
  return lines.join("\n");
}
