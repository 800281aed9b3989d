/**
 * The Prometheus text exposition format (version 0.0.4), written by hand and shared by every
 * Ballast process: metric families with `# HELP` and `# TYPE`, escaped label values, cumulative
 * histogram buckets. Nothing here runs on a request path: counters are plain fields bumped where
 * the work happens, and this module only formats them when a scrape asks.
 */

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type MetricType = "counter" | "gauge" | "histogram";

/** Label names to values, in the order they are written. */
export type Labels = Readonly<Record<string, string>>;

/** One scrape's text, built family by family. */
export class Exposition {
  readonly #lines: string[] = [];
  readonly #declared = new Set<string>();

  /** `# HELP` and `# TYPE` of a family; declaring the same family twice is a programming error. */
  family(name: string, type: MetricType, help: string): this {
    if (this.#declared.has(name)) throw new Error(`metric family ${name} declared twice`);
    this.#declared.add(name);
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, labels: Labels | string, value: number): this {
    const l = typeof labels === "string" ? labels : labelText(labels);
    this.#lines.push(`${name}${l === "" ? "" : `{${l}}`} ${formatValue(value)}`);
    return this;
  }

  /**
   * The series of one histogram: `bounds` are the upper bounds of the buckets, `counts` their
   * non-cumulative counts with one more for +Inf.
   */
  histogram(
    name: string,
    labels: Labels | string,
    bounds: readonly number[],
    counts: readonly number[],
    sum: number,
  ): this {
    const l = typeof labels === "string" ? labels : labelText(labels);
    const sep = l === "" ? "" : ",";
    let cumulative = 0;
    for (let i = 0; i < bounds.length; i++) {
      cumulative += counts[i] ?? 0;
      this.#lines.push(`${name}_bucket{${l}${sep}le="${formatValue(bounds[i] as number)}"} ${cumulative}`);
    }
    cumulative += counts[bounds.length] ?? 0;
    this.#lines.push(`${name}_bucket{${l}${sep}le="+Inf"} ${cumulative}`);
    this.#lines.push(`${name}_sum${l === "" ? "" : `{${l}}`} ${formatValue(sum)}`);
    this.#lines.push(`${name}_count${l === "" ? "" : `{${l}}`} ${cumulative}`);
    return this;
  }

  /** Appends text another part rendered whole (it must be complete families). */
  raw(text: string): this {
    const t = text.endsWith("\n") ? text.slice(0, -1) : text;
    if (t !== "") this.#lines.push(t);
    return this;
  }

  text(): string {
    return this.#lines.length === 0 ? "" : `${this.#lines.join("\n")}\n`;
  }
}

/** `a="x",b="y"` for the given labels, values escaped. */
export function labelText(labels: Labels): string {
  let out = "";
  for (const k in labels) {
    if (out !== "") out += ",";
    out += `${k}="${escapeLabel(labels[k] as string)}"`;
  }
  return out;
}

export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

/**
 * A histogram kept as non-cumulative bucket counts over fixed bounds (in the unit observed, e.g.
 * milliseconds); `observe` is a short scan and three increments.
 */
export class BucketHistogram {
  readonly bounds: readonly number[];
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(v: number): void {
    const b = this.bounds;
    const n = b.length;
    let i = 0;
    while (i < n && v > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += v;
    this.count++;
  }
}

/**
 * A counter family with a fixed set of label names and at most `maxSeries` label combinations;
 * past the cap, new combinations are counted under `other` in every label, so a caller that
 * invents values (an unknown action name) cannot grow the exposition without bound.
 */
export class CappedCounter implements MetricFamilies {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly #maxSeries: number;
  readonly #values = new Map<string, { labels: string[]; n: number }>();

  constructor(name: string, help: string, labelNames: readonly string[], maxSeries = 500) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.#maxSeries = maxSeries;
  }

  inc(values: readonly string[], by = 1): void {
    let key = values.join("\u0000");
    let entry = this.#values.get(key);
    if (entry === undefined) {
      let labels = [...values];
      if (this.#values.size >= this.#maxSeries) {
        labels = this.labelNames.map(() => "other");
        key = labels.join("\u0000");
      }
      entry = this.#values.get(key) ?? { labels, n: 0 };
      this.#values.set(key, entry);
    }
    entry.n += by;
  }

  get(values: readonly string[]): number {
    return this.#values.get(values.join("\u0000"))?.n ?? 0;
  }

  renderInto(exp: Exposition): void {
    exp.family(this.name, "counter", this.help);
    const rows = [...this.#values.values()].sort((a, b) => compare(a.labels.join(), b.labels.join()));
    for (const r of rows)
      exp.sample(this.name, Object.fromEntries(this.labelNames.map((l, i) => [l, r.labels[i] ?? ""])), r.n);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What renders one or more whole families into a scrape. */
export interface MetricFamilies {
  renderInto(exp: Exposition): void;
}

/**
 * A histogram family with one label whose values the code chooses (never a caller), observed in
 * seconds.
 */
export class LabelledHistogram implements MetricFamilies {
  readonly name: string;
  readonly help: string;
  readonly label: string;
  readonly bounds: readonly number[];
  readonly #byValue = new Map<string, BucketHistogram>();

  constructor(
    name: string,
    help: string,
    label: string,
    bounds: readonly number[],
    values: readonly string[] = [],
  ) {
    this.name = name;
    this.help = help;
    this.label = label;
    this.bounds = bounds;
    for (const v of values) this.#byValue.set(v, new BucketHistogram(bounds));
  }

  observe(value: string, seconds: number): void {
    let h = this.#byValue.get(value);
    if (h === undefined) {
      h = new BucketHistogram(this.bounds);
      this.#byValue.set(value, h);
    }
    h.observe(seconds);
  }

  count(value: string): number {
    return this.#byValue.get(value)?.count ?? 0;
  }

  renderInto(exp: Exposition): void {
    exp.family(this.name, "histogram", this.help);
    for (const [v, h] of [...this.#byValue].sort(([a], [b]) => compare(a, b)))
      exp.histogram(this.name, { [this.label]: v }, this.bounds, h.counts, h.sum);
  }
}
