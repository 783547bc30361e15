/** Prints rows as a Markdown table (the format docs/BENCHMARKS.md records). */
export function markdownTable(header: string[], rows: (string | number | bigint)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r: string[]) => "| " + r.map((x, c) => x.padEnd(widths[c])).join(" | ") + " |";
  return [line(cells[0]), "| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |", ...cells.slice(1).map(line)].join("\n");
}
