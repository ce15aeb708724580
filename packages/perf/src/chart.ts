/**
 * Small self-contained SVG charts (no scripts, no external fonts): an XY chart of line/scatter
 * series and a (grouped) bar chart, with axes, "nice" ticks, axis labels, a title and a legend.
 * Used by nereid-perf's --chart and by the model analyzer's HTML report.
 */

export interface Point {
  readonly x: number;
  readonly y: number;
  /** Shown next to the point (e.g. the concurrency) and in its tooltip. */
  readonly label?: string;
}

export interface Series {
  readonly name: string;
  readonly points: readonly Point[];
  /** CSS color; the palette's next color when absent. */
  readonly color?: string;
  /** 'line' draws a polyline with markers, 'scatter' markers only. Default 'line'. */
  readonly kind?: 'line' | 'scatter';
  /** Draw each point's label next to its marker. */
  readonly showLabels?: boolean;
  /**
   * 'band' draws the series as a wide translucent stroke with large translucent markers, to
   * highlight the points of other series it passes through (put it first: it is drawn underneath).
   */
  readonly emphasis?: 'normal' | 'band';
}

export interface XYChartOptions {
  readonly title?: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly series: readonly Series[];
  readonly width?: number;
  readonly height?: number;
  /** Force an axis to start at zero (default true for both). */
  readonly xFromZero?: boolean;
  readonly yFromZero?: boolean;
  /**
   * Where the legend goes: 'inside' the plot's top-left corner (default), or 'right' of the plot,
   * in `legendWidth` more pixels (default 300), for charts whose top-left holds data.
   */
  readonly legend?: 'inside' | 'right';
  readonly legendWidth?: number;
}

export interface Bar {
  readonly label: string;
  /** One value per group series (a single value for a plain bar chart). */
  readonly values: readonly number[];
}

export interface BarChartOptions {
  readonly title?: string;
  readonly yLabel?: string;
  /** The names of the values of each bar (the legend); one name for a plain bar chart. */
  readonly seriesNames: readonly string[];
  readonly bars: readonly Bar[];
  readonly colors?: readonly string[];
  readonly width?: number;
  readonly height?: number;
}

/** A colour-blind-friendly palette (Okabe–Ito, without black). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#999999'] as const;

const FONT = 'font-family="sans-serif"';
const MARGIN = { top: 40, right: 20, bottom: 56, left: 72 } as const;

/** Escapes text for SVG/HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** "Nice" ticks covering [min, max]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(min: number, max: number, target = 6): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max === min) {
    const pad = max === 0 ? 1 : Math.abs(max) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, target - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const first = Math.floor(min / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= max + step * 1e-9 || ticks.length < 2; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

/** A tick label: integers grouped, small numbers with up to 3 significant decimals, large ones with k/M. */
export function formatTick(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e4) return `${trim(value / 1e3)}k`;
  if (Number.isInteger(value)) return String(value);
  return trim(value);
}

function trim(value: number): string {
  return String(Number(value.toPrecision(3)));
}

function n(value: number): string {
  return String(Math.round(value * 100) / 100);
}

function frame(width: number, height: number, title: string | undefined, body: string[]): string {
  const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12" role="img"${title === undefined ? '' : ` aria-label="${escapeXml(title)}"`}>`;
  const background = `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`;
  const titleText = title === undefined ? '' : `<text x="${n(width / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`;
  return [head, background, titleText, ...body, '</svg>'].filter((s) => s !== '').join('\n');
}

/** The legend; `faded[i]` draws entry i's swatch as translucent as its band series. */
function legend(names: readonly string[], colors: readonly string[], x: number, y: number, faded: readonly boolean[] = []): string[] {
  const out: string[] = [];
  names.forEach((name, i) => {
    const top = y + i * 18;
    out.push(`<rect x="${n(x)}" y="${n(top)}" width="12" height="12" fill="${colors[i]}"${faded[i] === true ? ' fill-opacity="0.3"' : ''}/>`);
    out.push(`<text x="${n(x + 18)}" y="${n(top + 10)}">${escapeXml(name)}</text>`);
  });
  if (out.length === 0) return out;
  const widest = Math.max(...names.map((s) => s.length)) * 7 + 26;
  return [`<g class="legend"><rect x="${n(x - 6)}" y="${n(y - 6)}" width="${n(widest)}" height="${n(names.length * 18 + 6)}" fill="#ffffff" fill-opacity="0.85" stroke="#cccccc"/>`, ...out, '</g>'];
}

interface Axis {
  readonly ticks: number[];
  readonly min: number;
  readonly max: number;
}

function axis(values: number[], fromZero: boolean): Axis {
  let min = values.length === 0 ? 0 : Math.min(...values);
  let max = values.length === 0 ? 1 : Math.max(...values);
  if (fromZero) min = Math.min(0, min);
  if (fromZero) max = Math.max(0, max);
  const ticks = niceTicks(min, max);
  return { ticks, min: ticks[0]!, max: ticks[ticks.length - 1]! };
}

/** An XY chart (lines and/or scatter series) as an SVG document string. */
export function xyChart(options: XYChartOptions): string {
  const legendRight = options.legend === 'right';
  const plotWidth = options.width ?? 720;
  const width = plotWidth + (legendRight ? (options.legendWidth ?? 300) : 0);
  const height = options.height ?? 420;
  const plotW = plotWidth - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const points = options.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xa = axis(points.map((p) => p.x), options.xFromZero ?? true);
  const ya = axis(points.map((p) => p.y), options.yFromZero ?? true);
  const sx = (x: number) => MARGIN.left + ((x - xa.min) / (xa.max - xa.min)) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - ((y - ya.min) / (ya.max - ya.min)) * plotH;
  const body: string[] = [];
  body.push(`<g class="grid" stroke="#e5e5e5">`);
  for (const t of ya.ticks) body.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${n(sy(t))}" y2="${n(sy(t))}"/>`);
  for (const t of xa.ticks) body.push(`<line x1="${n(sx(t))}" x2="${n(sx(t))}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}"/>`);
  body.push('</g>');
  body.push(...axesLines(plotW, plotH));
  body.push(`<g class="x-ticks" text-anchor="middle">`);
  for (const t of xa.ticks) body.push(`<text x="${n(sx(t))}" y="${MARGIN.top + plotH + 16}">${formatTick(t)}</text>`);
  body.push('</g>', `<g class="y-ticks" text-anchor="end">`);
  for (const t of ya.ticks) body.push(`<text x="${MARGIN.left - 6}" y="${n(sy(t) + 4)}">${formatTick(t)}</text>`);
  body.push('</g>');
  body.push(...axisLabels(width, height, plotH, options.xLabel, options.yLabel));
  const colors = options.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]!);
  options.series.forEach((series, i) => {
    const color = colors[i]!;
    const valid = series.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    const band = series.emphasis === 'band';
    const stroke = band ? 'stroke-width="9" stroke-opacity="0.25" stroke-linejoin="round"' : 'stroke-width="2"';
    const marker = band ? 'r="9" fill-opacity="0.3"' : 'r="4"';
    body.push(`<g class="series" data-name="${escapeXml(series.name)}">`);
    if ((series.kind ?? 'line') === 'line' && valid.length > 1) {
      body.push(`<polyline fill="none" stroke="${color}" ${stroke} points="${valid.map((p) => `${n(sx(p.x))},${n(sy(p.y))}`).join(' ')}"/>`);
    }
    for (const p of valid) {
      const tip = `${series.name}${p.label === undefined ? '' : ` (${p.label})`}: x=${formatTick(p.x)}, y=${formatTick(p.y)}`;
      body.push(`<circle cx="${n(sx(p.x))}" cy="${n(sy(p.y))}" ${marker} fill="${color}"><title>${escapeXml(tip)}</title></circle>`);
      if (series.showLabels === true && p.label !== undefined) {
        body.push(`<text x="${n(sx(p.x) + 6)}" y="${n(sy(p.y) - 6)}" font-size="10" fill="#333333">${escapeXml(p.label)}</text>`);
      }
    }
    body.push('</g>');
  });
  if (options.series.length > 1 || (options.series.length === 1 && options.series[0]!.name !== '')) {
    const legendX = legendRight ? MARGIN.left + plotW + 24 : MARGIN.left + 12;
    const faded = options.series.map((s) => s.emphasis === 'band');
    body.push(...legend(options.series.map((s) => s.name), colors, legendX, MARGIN.top + 8, faded));
  }
  return frame(width, height, options.title, body);
}

/** A bar chart (grouped when each bar has several values) as an SVG document string. */
export function barChart(options: BarChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const colors = options.seriesNames.map((_, i) => options.colors?.[i] ?? PALETTE[i % PALETTE.length]!);
  const values = options.bars.flatMap((b) => b.values).filter(Number.isFinite);
  const ya = axis(values, true);
  const sy = (y: number) => MARGIN.top + plotH - ((y - ya.min) / (ya.max - ya.min)) * plotH;
  const groups = Math.max(1, options.bars.length);
  const slot = plotW / groups;
  const inner = slot * 0.8;
  const barW = inner / Math.max(1, options.seriesNames.length);
  const body: string[] = [`<g class="grid" stroke="#e5e5e5">`];
  for (const t of ya.ticks) body.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${n(sy(t))}" y2="${n(sy(t))}"/>`);
  body.push('</g>', ...axesLines(plotW, plotH), `<g class="y-ticks" text-anchor="end">`);
  for (const t of ya.ticks) body.push(`<text x="${MARGIN.left - 6}" y="${n(sy(t) + 4)}">${formatTick(t)}</text>`);
  body.push('</g>');
  options.bars.forEach((bar, g) => {
    const left = MARGIN.left + g * slot + (slot - inner) / 2;
    body.push(`<g class="bar-group" data-label="${escapeXml(bar.label)}">`);
    bar.values.forEach((value, i) => {
      if (!Number.isFinite(value)) return;
      const top = sy(Math.max(value, 0));
      const h = Math.abs(sy(value) - sy(0));
      const tip = `${bar.label} — ${options.seriesNames[i] ?? ''}: ${formatTick(value)}`;
      body.push(`<rect class="bar" x="${n(left + i * barW)}" y="${n(top)}" width="${n(Math.max(1, barW - 2))}" height="${n(h)}" fill="${colors[i] ?? PALETTE[0]}"><title>${escapeXml(tip)}</title></rect>`);
    });
    body.push(`<text x="${n(MARGIN.left + g * slot + slot / 2)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${escapeXml(bar.label)}</text>`, '</g>');
  });
  body.push(...axisLabels(width, height, plotH, undefined, options.yLabel));
  if (options.seriesNames.length > 1) body.push(...legend(options.seriesNames, colors, MARGIN.left + plotW - 160, MARGIN.top + 8));
  return frame(width, height, options.title, body);
}

function axesLines(plotW: number, plotH: number): string[] {
  return [
    `<line class="axis" x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="#333333"/>`,
    `<line class="axis" x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="#333333"/>`,
  ];
}

function axisLabels(width: number, height: number, plotH: number, xLabel: string | undefined, yLabel: string | undefined): string[] {
  const out: string[] = [];
  if (xLabel !== undefined) out.push(`<text class="x-label" x="${n(MARGIN.left + (width - MARGIN.left - MARGIN.right) / 2)}" y="${height - 12}" text-anchor="middle" font-size="13">${escapeXml(xLabel)}</text>`);
  if (yLabel !== undefined) {
    const cy = MARGIN.top + plotH / 2;
    out.push(`<text class="y-label" x="16" y="${n(cy)}" text-anchor="middle" font-size="13" transform="rotate(-90 16 ${n(cy)})">${escapeXml(yLabel)}</text>`);
  }
  return out;
}

/** A self-contained HTML page (inline CSS, no scripts) holding SVG charts and optional HTML sections. */
export function htmlPage(title: string, sections: readonly string[]): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeXml(title)}</title>`,
    '<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}svg{display:block;margin:16px 0}</style>',
    '</head>',
    '<body>',
    `<h1>${escapeXml(title)}</h1>`,
    ...sections,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** An HTML table from a header row and rows of cells (escaped). */
export function htmlTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const th = header.map((h) => `<th>${escapeXml(h)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeXml(String(c))}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${trs}\n</tbody>\n</table>`;
}
