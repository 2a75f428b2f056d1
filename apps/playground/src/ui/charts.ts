import { fmt, s } from "./dom";

/**
 * Charts drawn as plain SVG: a line chart (curves, loss, variance through depth) and a bar chart
 * (next-token probabilities). Sized by a viewBox, so they scale with the page; every mark has a
 * <title>, so hovering (or a screen reader) gives the exact number.
 */

export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  color: string;
  dashed?: boolean;
}

export interface LineChartOptions {
  width?: number;
  height?: number;
  xLabel?: string;
  yLabel?: string;
  logX?: boolean;
  logY?: boolean;
  /** Fixed ranges; by default the data's, padded. */
  xRange?: readonly [number, number];
  yRange?: readonly [number, number];
  /** Points drawn as dots as well as joined (few points: a measurement). */
  dots?: boolean;
  title?: string;
  /** Draw the legend (default: when there is more than one series). */
  legend?: boolean;
  /** Which top corner of the plot holds the legend (default: right); put it where the curves are not. */
  legendAt?: "left" | "right";
}

export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#ca8a04"];

const MARGIN = { left: 66, right: 12, top: 22, bottom: 40 };

/** "Nice" tick values covering [lo, hi]: steps of 1, 2 or 5 × 10ⁿ. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const stride = Math.max(1, Math.ceil((b - a) / 8));
  const decades: number[] = [];
  for (let e = a; e <= b; e += stride) decades.push(10 ** e);
  // a range within a decade or two gets 2× and 5× ticks too, so the axis is never unlabelled
  if (decades.filter((t) => t >= lo && t <= hi).length >= 3) return decades;
  return decades.flatMap((t) => [t, 2 * t, 5 * t]);
}

function extent(values: number[], log: boolean): [number, number] {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (finite.length === 0) return log ? [1, 10] : [0, 1];
  const lo = Math.min(...finite), hi = Math.max(...finite);
  if (lo === hi) {
    if (log) return [lo / 10, hi * 10];
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - pad, hi + pad];
  }
  if (log) return [lo / 1.25, hi * 1.25];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

export function lineChart(series: readonly Series[], opts: LineChartOptions = {}): SVGSVGElement {
  const width = opts.width ?? 520, height = opts.height ?? 260;
  const all = series.flatMap((se) => se.points);
  const [x0, x1] = opts.xRange ?? extent(all.map((p) => p[0]), !!opts.logX);
  const [y0, y1] = opts.yRange ?? extent(all.map((p) => p[1]), !!opts.logY);
  const plotW = width - MARGIN.left - MARGIN.right, plotH = height - MARGIN.top - MARGIN.bottom;
  const tx = (v: number) => opts.logX ? Math.log(v / x0) / Math.log(x1 / x0) : (v - x0) / (x1 - x0);
  const ty = (v: number) => opts.logY ? Math.log(v / y0) / Math.log(y1 / y0) : (v - y0) / (y1 - y0);
  const X = (v: number) => MARGIN.left + plotW * tx(v);
  const Y = (v: number) => MARGIN.top + plotH * (1 - ty(v));
  const inside = (p: readonly [number, number]) =>
    Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!opts.logY || p[1] > 0) && (!opts.logX || p[0] > 0);

  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": opts.title ?? opts.yLabel ?? "chart" });
  if (opts.title) svg.append(s("title", {}, opts.title));
  const grid = s("g", { class: "grid" });
  const xt = opts.logX ? logTicks(x0, x1) : niceTicks(x0, x1, Math.max(2, Math.floor(plotW / 80)));
  const yt = opts.logY ? logTicks(y0, y1) : niceTicks(y0, y1, Math.max(2, Math.floor(plotH / 36)));
  for (const t of xt) {
    if (t < x0 || t > x1) continue;
    grid.append(s("line", { x1: X(t), x2: X(t), y1: MARGIN.top, y2: MARGIN.top + plotH }));
    grid.append(s("text", { x: X(t), y: MARGIN.top + plotH + 14, "text-anchor": "middle" }, opts.logX && (t < 1e-3 || t >= 1e5) ? t.toExponential(0) : fmt(t, 3)));
  }
  for (const t of yt) {
    if (t < y0 || t > y1) continue;
    grid.append(s("line", { x1: MARGIN.left, x2: MARGIN.left + plotW, y1: Y(t), y2: Y(t) }));
    grid.append(s("text", { x: MARGIN.left - 6, y: Y(t) + 4, "text-anchor": "end" }, opts.logY && (t < 1e-3 || t >= 1e5) ? t.toExponential(0) : fmt(t, 3)));
  }
  svg.append(grid);
  svg.append(s("rect", { x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH, class: "frame" }));
  if (opts.xLabel) svg.append(s("text", { x: MARGIN.left + plotW / 2, y: height - 6, "text-anchor": "middle", class: "axis-label" }, opts.xLabel));
  if (opts.yLabel) {
    svg.append(s("text", { x: 12, y: MARGIN.top + plotH / 2, "text-anchor": "middle", class: "axis-label", transform: `rotate(-90 12 ${MARGIN.top + plotH / 2})` }, opts.yLabel));
  }
  const clipId = `clip${Math.random().toString(36).slice(2)}`;
  svg.append(s("clipPath", { id: clipId }, s("rect", { x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH })));
  const plot = s("g", { "clip-path": `url(#${clipId})` });
  for (const se of series) {
    // a non-finite point breaks the line instead of drawing to infinity
    let d = "";
    let pen = false;
    for (const p of se.points) {
      if (!inside(p)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${X(p[0]).toFixed(2)},${Y(p[1]).toFixed(2)}`;
      pen = true;
    }
    plot.append(s("path", { d, fill: "none", stroke: se.color, "stroke-width": 2, "stroke-dasharray": se.dashed ? "5 4" : undefined }, s("title", {}, se.name)));
    if (opts.dots) {
      for (const p of se.points) {
        if (!inside(p)) continue;
        plot.append(s("circle", { cx: X(p[0]), cy: Y(p[1]), r: 3, fill: se.color }, s("title", {}, `${se.name}: (${fmt(p[0])}, ${fmt(p[1])})`)));
      }
    }
  }
  svg.append(plot);
  // legend, in a top corner inside the plot, on a white ground so curves behind it stay readable
  if (opts.legend ?? series.length > 1) {
    const longest = Math.max(...series.map((se) => se.name.length));
    const boxW = 30 + longest * 6.2, left = opts.legendAt === "left" ? MARGIN.left + 4 : MARGIN.left + plotW - boxW - 4;
    const legend = s("g", { class: "legend" });
    legend.append(s("rect", { x: left, y: MARGIN.top + 3, width: boxW, height: series.length * 15 + 6, fill: "#fff", "fill-opacity": 0.85, stroke: "#e5e7eb" }));
    series.forEach((se, i) => {
      const y = MARGIN.top + 17 + i * 15;
      legend.append(s("line", { x1: left + 5, x2: left + 23, y1: y - 4, y2: y - 4, stroke: se.color, "stroke-width": 2.5, "stroke-dasharray": se.dashed ? "4 3" : undefined }));
      legend.append(s("text", { x: left + 27, y }, se.name));
    });
    svg.append(legend);
  }
  return svg;
}

export interface Bar {
  label: string;
  value: number;
  color?: string;
  /** Drawn faded (e.g. a token removed by a sampling step). */
  muted?: boolean;
  note?: string;
}

/** Horizontal bars, one row per entry, the value printed at the end of each. */
export function barChart(bars: readonly Bar[], opts: { width?: number; max?: number; format?: (v: number) => string; label?: string } = {}): SVGSVGElement {
  const width = opts.width ?? 520, row = 20, labelW = 130, valueW = 90;
  const height = Math.max(row, bars.length * row) + 4;
  const max = opts.max ?? Math.max(1e-12, ...bars.map((b) => b.value));
  const format = opts.format ?? ((v: number) => fmt(v));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart bars", role: "img", "aria-label": opts.label ?? "bar chart" });
  bars.forEach((b, i) => {
    const y = 2 + i * row;
    const w = Math.max(0, (width - labelW - valueW) * (b.value / max));
    const g = s("g", { class: b.muted ? "muted" : undefined });
    g.append(s("text", { x: labelW - 6, y: y + 14, "text-anchor": "end", class: "bar-label" }, b.label));
    g.append(s("rect", { x: labelW, y: y + 3, width: w, height: row - 6, fill: b.color ?? PALETTE[0], rx: 2 }, s("title", {}, `${b.label}: ${format(b.value)}${b.note ? ` (${b.note})` : ""}`)));
    g.append(s("text", { x: labelW + w + 4, y: y + 14, class: "bar-value" }, format(b.value) + (b.note ? `  ${b.note}` : "")));
    svg.append(g);
  });
  return svg;
}

/** A diverging or sequential colour for t ∈ [0, 1] (white → blue), for heatmaps. */
export function heatColor(t: number): [number, number, number] {
  const c = Math.max(0, Math.min(1, t));
  // white (255,255,255) → deep blue (30,64,175)
  return [Math.round(255 - c * 225), Math.round(255 - c * 191), Math.round(255 - c * 80)];
}

/** A rows × cols matrix (row-major) as a canvas of square cells, values scaled by `max`. */
export function heatmap(values: ArrayLike<number>, rows: number, cols: number, opts: { cell?: number; max?: number; label?: string } = {}): HTMLCanvasElement {
  const cell = opts.cell ?? Math.max(2, Math.min(18, Math.floor(220 / Math.max(rows, cols))));
  const canvas = document.createElement("canvas");
  canvas.width = cols * cell;
  canvas.height = rows * cell;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", opts.label ?? "heatmap");
  const ctx = canvas.getContext("2d");
  if (!ctx) return canvas;
  let max = opts.max ?? 0;
  if (opts.max === undefined) for (let i = 0; i < rows * cols; i++) max = Math.max(max, values[i]);
  const image = ctx.createImageData(cols * cell, rows * cell);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [R, G, B] = heatColor(max > 0 ? values[r * cols + c] / max : 0);
      for (let dy = 0; dy < cell; dy++) {
        for (let dx = 0; dx < cell; dx++) {
          const o = ((r * cell + dy) * cols * cell + c * cell + dx) * 4;
          image.data[o] = R;
          image.data[o + 1] = G;
          image.data[o + 2] = B;
          image.data[o + 3] = 255;
        }
      }
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** A signed colour for t ∈ [−1, 1]: red below zero, white at zero, blue above. */
export function signedColor(t: number): [number, number, number] {
  const c = Math.max(-1, Math.min(1, t));
  // white → deep blue (30,64,175) for c > 0, white → deep red (185,28,28) for c < 0
  return c >= 0
    ? [Math.round(255 - c * 225), Math.round(255 - c * 191), Math.round(255 - c * 80)]
    : [Math.round(255 + c * 70), Math.round(255 + c * 227), Math.round(255 + c * 227)];
}

/**
 * A rows × cols matrix of signed values (row-major) as a canvas, one pixel per value, scaled by
 * `max` (by default the largest |value|), drawn `cell` screen pixels a side (pixelated, so a
 * 384-wide matrix and a rank-16 factor keep their proportions side by side).
 */
export function signedHeatmap(values: ArrayLike<number>, rows: number, cols: number, opts: { cell?: number; max?: number; label?: string; testid?: string } = {}): HTMLCanvasElement {
  const canvas = document.createElement("canvas");
  canvas.width = cols;
  canvas.height = rows;
  const cell = opts.cell ?? 2;
  canvas.style.width = `${cols * cell}px`;
  canvas.style.height = `${rows * cell}px`;
  canvas.className = "matrix";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", opts.label ?? "signed heatmap");
  if (opts.testid) canvas.dataset.testid = opts.testid;
  const ctx = canvas.getContext("2d");
  if (!ctx) return canvas;
  let max = opts.max ?? 0;
  if (opts.max === undefined) for (let i = 0; i < rows * cols; i++) max = Math.max(max, Math.abs(values[i]));
  const image = ctx.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const [R, G, B] = signedColor(max > 0 ? values[i] / max : 0);
    image.data[4 * i] = R;
    image.data[4 * i + 1] = G;
    image.data[4 * i + 2] = B;
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

export interface PairedBar {
  label: string;
  /** The two values compared on this row (e.g. without and with an adapter). */
  values: readonly [number, number];
}

/** Two thin bars per row (the first grey, the second in colour), both values printed. */
export function pairedBars(rows: readonly PairedBar[], opts: { width?: number; max?: number; names: readonly [string, string]; format?: (v: number) => string; label?: string; color?: string }): SVGSVGElement {
  const width = opts.width ?? 560, row = 26, labelW = 110, valueW = 130, legendH = 20;
  const height = legendH + Math.max(row, rows.length * row) + 4;
  const max = opts.max ?? Math.max(1e-12, ...rows.flatMap((r) => r.values));
  const format = opts.format ?? ((v: number) => fmt(v));
  const colors = ["#9ca3af", opts.color ?? PALETTE[0]] as const;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart bars", role: "img", "aria-label": opts.label ?? "paired bar chart" });
  const legend = s("g", { class: "legend" });
  opts.names.forEach((name, i) => {
    legend.append(s("rect", { x: labelW + i * 220, y: 4, width: 12, height: 10, fill: colors[i], rx: 2 }));
    legend.append(s("text", { x: labelW + i * 220 + 16, y: 13 }, name));
  });
  svg.append(legend);
  rows.forEach((r, i) => {
    const y = legendH + 2 + i * row;
    const g = s("g", {});
    g.append(s("text", { x: labelW - 6, y: y + 16, "text-anchor": "end", class: "bar-label" }, r.label));
    r.values.forEach((v, k) => {
      const w = Math.max(0, (width - labelW - valueW) * (v / max));
      g.append(s("rect", { x: labelW, y: y + 2 + k * 11, width: w, height: 9, fill: colors[k], rx: 1.5 }, s("title", {}, `${r.label}, ${opts.names[k]}: ${format(v)}`)));
    });
    const end = labelW + (width - labelW - valueW) * (Math.max(...r.values) / max);
    g.append(s("text", { x: end + 4, y: y + 16, class: "bar-value" }, `${format(r.values[0])} → ${format(r.values[1])}`));
    svg.append(g);
  });
  return svg;
}
