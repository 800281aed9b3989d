/**
 * The `ballast` command: finds the command, answers --help from its description alone, loads
 * only that command's module, and prints any error as one line (a stack trace with
 * BALLAST_DEBUG=1). Exit codes: 0 ok, 1 failure, 2 usage.
 */
import { startEarlyWorker } from "./agent-spawn.js";
import type { CommandSpec, Verb } from "./command.js";

// An agent's first worker starts before anything else here loads (src/cli/agent-spawn.ts).
startEarlyWorker(process.argv.slice(2));
const [{ commandPath, helpText, parseCommand, verbOf, wantsHelp }, { findCommand, usageText }, errors] =
  await Promise.all([import("./command.js"), import("./commands.js"), import("./errors.js")]);
const { errorLine, exitCodeOf, UsageError } = errors;

async function main(argv: readonly string[]): Promise<void> {
  // TypeScript lines in the stack traces BALLAST_DEBUG=1 shows (and only then: it costs start-up).
  if (process.env.BALLAST_DEBUG === "1") process.setSourceMapsEnabled(true);
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help") {
    out(usageText());
    return;
  }
  if (name === "help") {
    help(rest);
    return;
  }
  const entry = findCommand(name);
  if (!entry) {
    fail(2, `ballast: unknown command '${name}'; run 'ballast --help' for the list`);
    return;
  }
  if (rest[0] === "help") {
    // `ballast state help [verb]`, as `ballast help state [verb]`.
    help([name, ...rest.slice(1)]);
    return;
  }
  const { spec } = entry;
  const verb = safeVerbOf(spec, rest);
  if (wantsHelp(rest)) {
    out(helpText(spec, verb));
    return;
  }
  try {
    // No verb: the command's help, once its flags are known to be right.
    if (spec.verbs && !spec.verbOptional && !parseCommand({ ...spec, verbOptional: true }, rest).verb) {
      out(helpText(spec));
      return;
    }
    const run = await entry.load();
    await run([...rest]);
  } catch (e) {
    report(spec, verb, e);
  }
}

/** `ballast help [command [verb]]`. */
function help(args: readonly string[]): void {
  const [name, verbName] = args;
  const entry = name === undefined ? undefined : findCommand(name);
  const verb = verbName === undefined ? undefined : entry?.spec.verbs?.find((v) => v.name === verbName);
  if (name === undefined) out(usageText());
  else if (!entry) fail(2, `ballast help: unknown command '${name}'; run 'ballast --help' for the list`);
  else if (verbName !== undefined && !verb)
    fail(2, `ballast help ${name}: unknown verb '${verbName}'; run 'ballast ${name} --help'`);
  else out(helpText(entry.spec, verb));
}

function safeVerbOf(spec: CommandSpec, argv: readonly string[]): Verb | undefined {
  try {
    return verbOf(spec, argv);
  } catch {
    return undefined;
  }
}

function report(spec: CommandSpec, verb: Verb | undefined, e: unknown): void {
  const label = commandPath(spec, verb);
  if (process.env.BALLAST_DEBUG === "1" && e instanceof Error && e.stack)
    process.stderr.write(`${e.stack}\n`);
  if (e instanceof UsageError) fail(2, `${label}: ${e.message}; run '${label} --help'`);
  else fail(exitCodeOf(e), errorLine(label, e));
}

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

function fail(code: number, line: string): void {
  process.stderr.write(`${line}\n`);
  process.exitCode = code;
}

process.on("unhandledRejection", (e) => {
  // A failure after the command returned (a server that failed to start in the background…).
  fail(exitCodeOf(e), errorLine(`ballast ${process.argv[2] ?? ""}`.trim(), e));
  if (process.env.BALLAST_DEBUG === "1" && e instanceof Error && e.stack)
    process.stderr.write(`${e.stack}\n`);
  process.exit(process.exitCode);
});

await main(process.argv.slice(2));
