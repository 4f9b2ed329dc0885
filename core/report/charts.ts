import type { Histogram } from "./types.ts";

/** Escapes text for HTML and SVG content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** One line of a line chart: points in data units, in drawing order. */
export interface LineSeries {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  /** Draw a marker at each point as well as the line (for sparse series such as held-out evaluations). */
  readonly markers?: boolean;
  readonly dashed?: boolean;
}

const WIDTH = 640;
const HEIGHT = 320;
const MARGIN = { top: 36, right: 16, bottom: 44, left: 60 };
const PLOT_WIDTH = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_HEIGHT = HEIGHT - MARGIN.top - MARGIN.bottom;

/** Returns about `count` round tick values (1, 2 or 5 times a power of ten apart) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const rough = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= rough) ?? rough;
  const ticks: number[] = [];
  for (let value = Math.ceil(min / step) * step; value <= max + step * 1e-9; value += step) {
    ticks.push(Number(value.toPrecision(12)));
  }
  return ticks;
}

function formatTick(value: number): string {
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

interface Scale {
  readonly x: (value: number) => number;
  readonly y: (value: number) => number;
}

function axes(
  title: string,
  xLabel: string,
  yLabel: string,
  xTicks: number[],
  yTicks: number[],
  scale: Scale,
) {
  const parts: string[] = [];
  parts.push(
    `<text class="chart-title" x="${WIDTH / 2}" y="20" text-anchor="middle">${escapeHtml(title)}</text>`,
  );
  for (const tick of yTicks) {
    const y = scale.y(tick).toFixed(1);
    parts.push(
      `<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y}" y2="${y}"/>`,
      `<text class="tick" x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(tick)}</text>`,
    );
  }
  for (const tick of xTicks) {
    const x = scale.x(tick).toFixed(1);
    parts.push(
      `<text class="tick" x="${x}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${formatTick(tick)}</text>`,
    );
  }
  parts.push(
    `<line class="axis" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${HEIGHT - MARGIN.bottom}" y2="${HEIGHT - MARGIN.bottom}"/>`,
    `<line class="axis" x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${HEIGHT - MARGIN.bottom}"/>`,
    `<text class="axis-label" x="${MARGIN.left + PLOT_WIDTH / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escapeHtml(xLabel)}</text>`,
    `<text class="axis-label" transform="translate(14 ${MARGIN.top + PLOT_HEIGHT / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`,
  );
  return parts.join("");
}

function svgOpen(id: string, title: string): string {
  return `<svg id="${escapeHtml(id)}" class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg"><title>${escapeHtml(title)}</title>`;
}

/**
 * Draws series as an SVG line chart: one `path.series` per series (with its
 * name in `data-series`), optional `circle.marker`s, axes and a legend.
 *
 * @example
 * lineChart("loss-curves", "Training loss", "step", "nats per token",
 *   [{ name: "guided", color: "#1f77b4", points: [[10, 9.1], [20, 8.4]] }]);
 */
export function lineChart(
  id: string,
  title: string,
  xLabel: string,
  yLabel: string,
  series: readonly LineSeries[],
): string {
  const all = series
    .flatMap((line) => line.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (all.length === 0) {
    return `${svgOpen(id, title)}<text class="chart-title" x="${WIDTH / 2}" y="20" text-anchor="middle">${escapeHtml(title)}</text><text class="empty" x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">no data</text></svg>`;
  }
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  let [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
  if (xMax === xMin) [xMin, xMax] = [xMin - 1, xMax + 1];
  const pad = (yMax - yMin) * 0.05 || Math.abs(yMax) * 0.05 || 1;
  [yMin, yMax] = [yMin - pad, yMax + pad];
  const scale: Scale = {
    x: (value) => MARGIN.left + ((value - xMin) / (xMax - xMin)) * PLOT_WIDTH,
    y: (value) => MARGIN.top + (1 - (value - yMin) / (yMax - yMin)) * PLOT_HEIGHT,
  };
  const parts = [
    svgOpen(id, title),
    axes(title, xLabel, yLabel, niceTicks(xMin, xMax), niceTicks(yMin, yMax), scale),
  ];
  series.forEach((line, index) => {
    const points = line.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (points.length === 0) return;
    const d = points
      .map(
        ([x, y], pointIndex) =>
          `${pointIndex === 0 ? "M" : "L"}${scale.x(x).toFixed(1)},${scale.y(y).toFixed(1)}`,
      )
      .join(" ");
    const dash = line.dashed ? ' stroke-dasharray="6 4"' : "";
    parts.push(
      `<path class="series" data-series="${escapeHtml(line.name)}" d="${d}" fill="none" stroke="${line.color}" stroke-width="2"${dash}><title>${escapeHtml(line.name)}</title></path>`,
    );
    if (line.markers) {
      for (const [x, y] of points) {
        parts.push(
          `<circle class="marker" data-series="${escapeHtml(line.name)}" cx="${scale.x(x).toFixed(1)}" cy="${scale.y(y).toFixed(1)}" r="3.5" fill="${line.color}"><title>${escapeHtml(`${line.name}: step ${x}, ${y.toFixed(4)}`)}</title></circle>`,
        );
      }
    }
    const legendY = MARGIN.top + 6 + index * 16;
    const legendX = WIDTH - MARGIN.right - 170;
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 18}" y1="${legendY}" y2="${legendY}" stroke="${line.color}" stroke-width="2"${dash}/>`,
      `<text class="legend" x="${legendX + 24}" y="${legendY}" dominant-baseline="middle">${escapeHtml(line.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}

/**
 * Draws a histogram as SVG bars (`rect.bar`, one per bin, plus one for the
 * overflow count when it is not zero).
 */
export function histogramChart(
  id: string,
  title: string,
  xLabel: string,
  histogram: Histogram,
  color: string,
): string {
  const counts = histogram.overflow > 0 ? [...histogram.counts, histogram.overflow] : histogram.counts;
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) {
    return `${svgOpen(id, title)}<text class="chart-title" x="${WIDTH / 2}" y="20" text-anchor="middle">${escapeHtml(title)}</text><text class="empty" x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">no data</text></svg>`;
  }
  const xMin = histogram.binStart;
  const xMax = histogram.binStart + counts.length * histogram.binWidth;
  const yMax = Math.max(...counts) * 1.05;
  const scale: Scale = {
    x: (value) => MARGIN.left + ((value - xMin) / (xMax - xMin)) * PLOT_WIDTH,
    y: (value) => MARGIN.top + (1 - value / yMax) * PLOT_HEIGHT,
  };
  const parts = [
    svgOpen(id, title),
    axes(title, xLabel, "tokens", niceTicks(xMin, xMax), niceTicks(0, yMax), scale),
  ];
  counts.forEach((count, bin) => {
    const lower = xMin + bin * histogram.binWidth;
    const overflow = bin === histogram.counts.length;
    const x = scale.x(lower);
    const width = Math.max(scale.x(lower + histogram.binWidth) - x - 1, 1);
    const y = scale.y(count);
    const label = overflow ? `≥ ${lower}: ${count}` : `[${lower}, ${lower + histogram.binWidth}): ${count}`;
    parts.push(
      `<rect class="bar${overflow ? " overflow" : ""}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${width.toFixed(1)}" height="${(HEIGHT - MARGIN.bottom - y).toFixed(1)}" fill="${color}"><title>${escapeHtml(label)}</title></rect>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}
