/**
 * A monotonic counter with one label, rendered in the Prometheus text format. The composition root
 * creates counters and hands them to the code that counts (the API edge) and to the code that
 * serves the numbers (the controller's /metrics), so neither imports the other.
 */
import type { Exposition, MetricFamilies } from "./prometheus.js";

export class LabelledCounter implements MetricFamilies {
  readonly name: string;
  readonly help: string;
  readonly label: string;
  readonly #values = new Map<string, number>();

  constructor(name: string, help: string, label: string) {
    this.name = name;
    this.help = help;
    this.label = label;
  }

  inc(value: string, by = 1): void {
    this.#values.set(value, (this.#values.get(value) ?? 0) + by);
  }

  get(value: string): number {
    return this.#values.get(value) ?? 0;
  }

  total(): number {
    let n = 0;
    for (const v of this.#values.values()) n += v;
    return n;
  }

  renderInto(exp: Exposition): void {
    exp.raw(this.render());
  }

  /** `# HELP`, `# TYPE … counter` and one line per label value, sorted. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [value, n] of [...this.#values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      lines.push(`${this.name}{${this.label}="${escapeLabel(value)}"} ${n}`);
    return `${lines.join("\n")}\n`;
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
