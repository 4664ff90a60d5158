// A benchmark plot as a standalone SVG line chart: axes with ticks, one polyline with markers per
// series, a legend and an optional dashed threshold. No dependencies; the same spec gives the same bytes.

import type { PlotSpec } from './report.js';

const WIDTH = 760;
const HEIGHT = 440;
const MARGIN = { left: 76, right: 200, top: 48, bottom: 60 };
/** Tableau 10: distinguishable, and fine for the common colour-vision deficiencies. */
const COLOURS = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

interface Axis {
  min: number;
  max: number;
  ticks: number[];
  /** Decimals the tick labels need. */
  decimals: number;
}

/** 1, 2 or 5 times a power of ten, so that about `count` steps cover `span`. */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

function axis(values: number[], options: { fromZero: boolean; integers: boolean }): Axis {
  let low = values.length > 0 ? Math.min(...values) : 0;
  let high = values.length > 0 ? Math.max(...values) : 1;
  if (options.fromZero) low = Math.min(0, low);
  if (high === low) {
    const pad = low === 0 ? 1 : Math.abs(low) * 0.1;
    high += pad;
    if (!options.fromZero || low !== 0) low -= pad;
  }
  let step = niceStep(high - low, 5);
  if (options.integers) step = Math.max(1, Math.round(step));
  const min = options.fromZero && low >= 0 ? 0 : Math.floor(low / step) * step;
  const max = Math.ceil(high / step) * step;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks: number[] = [];
  for (let i = 0; min + i * step <= max + step * 1e-9; i++) ticks.push(Number((min + i * step).toFixed(decimals)));
  return { min, max, ticks, decimals };
}

/** Fixed decimals, without the noise of binary fractions. */
const num = (value: number) => String(Number(value.toFixed(2)));

function label(value: number, decimals: number): string {
  const text = value.toFixed(decimals);
  // Thousands separated by a thin space, as in the README's tables.
  const [whole, fraction] = text.split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

export function renderPlot(spec: PlotSpec): string {
  const xs = spec.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = spec.series.flatMap((s) => s.points.map((p) => p.y));
  if (spec.threshold) ys.push(spec.threshold.y);
  const finite = (values: number[]) => values.filter(Number.isFinite);
  const xAxis = axis(finite(xs), { fromZero: false, integers: xs.every(Number.isInteger) });
  const yAxis = axis(finite(ys), { fromZero: true, integers: false });
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => MARGIN.left + ((x - xAxis.min) / (xAxis.max - xAxis.min)) * plotWidth;
  const py = (y: number) => MARGIN.top + plotHeight - ((y - yAxis.min) / (yAxis.max - yAxis.min)) * plotHeight;
  const left = MARGIN.left;
  const right = MARGIN.left + plotWidth;
  const top = MARGIN.top;
  const bottom = MARGIN.top + plotHeight;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ` +
      `font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<title>${escapeXml(spec.title)}</title>`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  out.push(
    `<text class="title" x="${WIDTH / 2}" y="26" text-anchor="middle" font-size="16" ` +
      `font-weight="bold">${escapeXml(spec.title)}</text>`,
  );

  // Grid and ticks.
  out.push('<g class="x-ticks">');
  for (const tick of xAxis.ticks) {
    const x = num(px(tick));
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#e6e6e6"/>`);
    out.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke="#333333"/>`);
    out.push(
      `<text class="tick" data-value="${tick}" x="${x}" y="${bottom + 19}" ` +
        `text-anchor="middle">${label(tick, xAxis.decimals)}</text>`,
    );
  }
  out.push('</g>');
  out.push('<g class="y-ticks">');
  for (const tick of yAxis.ticks) {
    const y = num(py(tick));
    out.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e6e6e6"/>`);
    out.push(`<line x1="${left - 5}" y1="${y}" x2="${left}" y2="${y}" stroke="#333333"/>`);
    out.push(
      `<text class="tick" data-value="${tick}" x="${left - 8}" y="${y}" text-anchor="end" ` +
        `dominant-baseline="middle">${label(tick, yAxis.decimals)}</text>`,
    );
  }
  out.push('</g>');

  // Axes and their labels.
  out.push(`<line class="x-axis" x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#333333"/>`);
  out.push(`<line class="y-axis" x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#333333"/>`);
  out.push(
    `<text class="x-label" x="${num((left + right) / 2)}" y="${HEIGHT - 16}" text-anchor="middle" ` +
      `font-size="13">${escapeXml(spec.xLabel)}</text>`,
  );
  const yMid = num((top + bottom) / 2);
  out.push(
    `<text class="y-label" x="18" y="${yMid}" text-anchor="middle" font-size="13" transform="rotate(-90 18 ` +
      `${yMid})">${escapeXml(spec.yLabel)}</text>`,
  );

  // Threshold under the series, so that points on it stay visible.
  if (spec.threshold && Number.isFinite(spec.threshold.y)) {
    const y = num(py(spec.threshold.y));
    out.push(`<g class="threshold" data-value="${spec.threshold.y}">`);
    out.push(
      `<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#555555" stroke-width="1.5" stroke-dasharray="6 ` +
        `4"/>`,
    );
    out.push(
      `<text x="${right - 4}" y="${num(py(spec.threshold.y) - 6)}" text-anchor="end" ` +
        `fill="#555555">${escapeXml(spec.threshold.label)}</text>`,
    );
    out.push('</g>');
  }

  // Series: a polyline through the points in x order, a marker on each.
  spec.series.forEach((series, index) => {
    const colour = COLOURS[index % COLOURS.length]!;
    const points = series.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    out.push(`<g class="series" data-name="${escapeXml(series.name)}">`);
    out.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="2" ` +
        `points="${points.map((p) => `${num(px(p.x))},${num(py(p.y))}`).join(' ')}"/>`,
    );
    for (const p of points) out.push(`<circle cx="${num(px(p.x))}" cy="${num(py(p.y))}" r="3.5" fill="${colour}"/>`);
    out.push('</g>');
  });

  // Legend in the right margin.
  out.push('<g class="legend">');
  const legendX = right + 20;
  spec.series.forEach((series, index) => {
    const colour = COLOURS[index % COLOURS.length]!;
    const y = top + 10 + index * 22;
    out.push(`<line x1="${legendX}" y1="${y}" x2="${legendX + 22}" y2="${y}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<circle cx="${legendX + 11}" cy="${y}" r="3.5" fill="${colour}"/>`);
    out.push(`<text x="${legendX + 30}" y="${y}" dominant-baseline="middle">${escapeXml(series.name)}</text>`);
  });
  if (spec.threshold) {
    const y = top + 10 + spec.series.length * 22;
    out.push(
      `<line x1="${legendX}" y1="${y}" x2="${legendX + 22}" y2="${y}" stroke="#555555" stroke-width="1.5" ` +
        `stroke-dasharray="6 4"/>`,
    );
    out.push(`<text x="${legendX + 30}" y="${y}" dominant-baseline="middle">${escapeXml(spec.threshold.label)}</text>`);
  }
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
