/**
 * A structured logger: one JSON object per line on stderr. Library code logs through this, never
 * through the console directly, so a process's output stays parseable and its level is one setting.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

function envLevel(): LogLevel {
  const v = process.env.BALLAST_LOG_LEVEL;
  return v === "debug" || v === "info" || v === "warn" || v === "error" ? v : "info";
}

export function createLogger(
  base: Record<string, unknown> = {},
  level: LogLevel = envLevel(),
  sink: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  return new JsonLogger(base, level, sink);
}

/**
 * Methods on the prototype, not closures per logger: every listener of every load balancer holds
 * a child logger, and an agent runs thousands of them.
 */
class JsonLogger implements Logger {
  readonly #base: Record<string, unknown>;
  readonly #level: LogLevel;
  readonly #sink: (line: string) => void;

  constructor(base: Record<string, unknown>, level: LogLevel, sink: (line: string) => void) {
    this.#base = base;
    this.#level = level;
    this.#sink = sink;
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.#write("debug", msg, fields);
  }

  info(msg: string, fields?: Record<string, unknown>): void {
    this.#write("info", msg, fields);
  }

  warn(msg: string, fields?: Record<string, unknown>): void {
    this.#write("warn", msg, fields);
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    this.#write("error", msg, fields);
  }

  child(fields: Record<string, unknown>): Logger {
    return new JsonLogger({ ...this.#base, ...fields }, this.#level, this.#sink);
  }

  #write(lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[lvl] < ORDER[this.#level]) return;
    const rec = { time: new Date().toISOString(), level: lvl, msg, ...this.#base, ...fields };
    this.#sink(`${JSON.stringify(rec, errorReplacer)}\n`);
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

/** A logger that drops everything, for tests and benchmarks. */
export const silentLogger: Logger = createLogger({}, "error", () => {});
