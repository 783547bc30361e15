import { formatUnits } from "ethers";

/** A table with aligned columns; `markdown` adds the pipes and rule of a Markdown table. */
export function formatTable(header: string[], rows: (string | number | bigint)[][], markdown = false): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const numeric = header.map((_, c) => rows.length > 0 && rows.every((r) => /^-?[\d.,%x]+$/.test(String(r[c])) || String(r[c]) === ""));
  const pad = (x: string, c: number) => (numeric[c] ? x.padStart(widths[c]) : x.padEnd(widths[c]));
  if (markdown) {
    const line = (r: string[]) => "| " + r.map(pad).join(" | ") + " |";
    return [line(cells[0]), "| " + widths.map((w, c) => (numeric[c] ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ") + " |", ...cells.slice(1).map(line)].join("\n");
  }
  return cells.map((r) => r.map(pad).join("  ").trimEnd()).join("\n");
}

/** Token wei as a decimal with `digits` fraction digits (18-decimal token). */
export function formatTokens(wei: bigint, digits = 4): string {
  const [whole, fraction = ""] = formatUnits(wei, 18).split(".");
  return digits === 0 ? whole : `${whole}.${fraction.padEnd(digits, "0").slice(0, digits)}`;
}

/** A WAD fraction as a percentage with `digits` fraction digits. */
export function formatPercent(wad: bigint, digits = 2): string {
  return `${(Number(wad) / 1e16).toFixed(digits)}%`;
}
