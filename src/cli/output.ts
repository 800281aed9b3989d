/** What the `ballast` commands print: aligned tables, and either words or the API's JSON. */

/** Columns padded to their widest cell; an empty list says so under the header. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** `--json`: the API's answer, indented; otherwise the words `text()` gives. */
export function printResult(json: boolean, data: unknown, text: () => string): void {
  const s = json ? JSON.stringify(data, null, 2) : text();
  if (s !== "") process.stdout.write(`${s}\n`);
}
