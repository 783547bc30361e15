import fs from "node:fs";
import path from "node:path";
import { Resvg } from "@resvg/resvg-js";

export interface Series {
  name: string;
  points: [number, number][];
  color: string;
  dashed?: boolean;
  markers?: boolean;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Axis ranges; by default the data's range (y from 0 when all values are positive). */
  xRange?: [number, number];
  yRange?: [number, number];
  width?: number;
  height?: number;
}

/** "Nice" tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 6): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** An SVG line chart with axes, ticks, grid and a legend. */
export function lineChartSvg(chart: LineChart): string {
  const width = chart.width ?? 800;
  const height = chart.height ?? 500;
  const m = { left: 80, right: 30, top: 50, bottom: 60 };
  const xs = chart.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = chart.series.flatMap((s) => s.points.map((p) => p[1]));
  const [x0, x1] = chart.xRange ?? [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = chart.yRange ?? [Math.min(0, ...ys), Math.max(...ys) * 1.05];
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * (width - m.left - m.right);
  const py = (y: number) => height - m.bottom - ((y - y0) / (y1 - y0 || 1)) * (height - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="28" font-size="18" text-anchor="middle">${escape(chart.title)}</text>`);
  for (const t of ticks(x0, x1)) {
    parts.push(`<line x1="${px(t)}" y1="${m.top}" x2="${px(t)}" y2="${height - m.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${px(t)}" y="${height - m.bottom + 18}" font-size="12" text-anchor="middle">${t}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.left}" y1="${py(t)}" x2="${width - m.right}" y2="${py(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 8}" y="${py(t) + 4}" font-size="12" text-anchor="end">${t}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${width - m.left - m.right}" height="${height - m.top - m.bottom}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${width / 2}" y="${height - 15}" font-size="14" text-anchor="middle">${escape(chart.xLabel)}</text>`);
  parts.push(`<text x="20" y="${height / 2}" font-size="14" text-anchor="middle" transform="rotate(-90 20 ${height / 2})">${escape(chart.yLabel)}</text>`);
  chart.series.forEach((s, k) => {
    const d = s.points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${px(x).toFixed(2)},${py(y).toFixed(2)}`).join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="8 5"' : ""}/>`);
    if (s.markers) for (const [x, y] of s.points) parts.push(`<circle cx="${px(x).toFixed(2)}" cy="${py(y).toFixed(2)}" r="3.5" fill="${s.color}"/>`);
    const ly = m.top + 20 + k * 22;
    const lx = width - m.right - 420;
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 30}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="8 5"' : ""}/>`);
    parts.push(`<text x="${lx + 38}" y="${ly + 4}" font-size="13">${escape(s.name)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** Writes `<base>.svg` and `<base>.png` (rendered with resvg); returns both paths. */
export function writePlot(base: string, svg: string): { svg: string; png: string } {
  fs.mkdirSync(path.dirname(base), { recursive: true });
  const svgPath = `${base}.svg`;
  const pngPath = `${base}.png`;
  fs.writeFileSync(svgPath, svg);
  const png = new Resvg(svg, { fitTo: { mode: "original" }, font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" } }).render().asPng();
  fs.writeFileSync(pngPath, png);
  return { svg: svgPath, png: pngPath };
}
