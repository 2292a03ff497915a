// A small hand-written SVG line plot (no dependencies): numeric x and y axes
// with "nice" ticks, one polyline with markers per series, optional point
// labels, an optional second y axis on the right, and a legend.

export interface PlotPoint {
  x: number;
  y: number;
  /** Text drawn next to the marker. */
  label?: string;
}

export interface PlotSeries {
  name: string;
  points: PlotPoint[];
  color?: string;
  /** Which y axis the series uses (default left). */
  axis?: 'left' | 'right';
  /** Draw markers only, no connecting line. */
  markersOnly?: boolean;
  dashed?: boolean;
}

export interface LinePlot {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Label of the right y axis (needed when a series uses it). */
  y2Label?: string;
  series: PlotSeries[];
  width?: number;
  height?: number;
  /** Fixed ranges; by default the data's range, padded to nice ticks. */
  xRange?: [number, number];
  yRange?: [number, number];
  y2Range?: [number, number];
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round tick values covering [lo, hi] (steps 1, 2 or 5 x 10^n). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(lo / step + 1e-9) * step;
  const end = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = start; v <= end + step * 1e-6; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.001) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

function extent(values: number[]): [number, number] {
  const f = values.filter(Number.isFinite);
  return f.length === 0 ? [0, 1] : [Math.min(...f), Math.max(...f)];
}

/** Renders the plot as a standalone SVG document. */
export function renderLinePlot(p: LinePlot): string {
  const W = p.width ?? 720;
  const H = p.height ?? 440;
  const hasRight = p.series.some((s) => s.axis === 'right');
  const m = { left: 70, right: hasRight ? 75 : 25, top: 40, bottom: 95 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const left = p.series.filter((s) => s.axis !== 'right');
  const right = p.series.filter((s) => s.axis === 'right');
  const xt = niceTicks(...(p.xRange ?? extent(p.series.flatMap((s) => s.points.map((q) => q.x)))));
  const yt = niceTicks(...(p.yRange ?? extent(left.flatMap((s) => s.points.map((q) => q.y)))));
  const y2t = niceTicks(...(p.y2Range ?? extent(right.flatMap((s) => s.points.map((q) => q.y)))));
  const [x0, x1] = [xt[0], xt[xt.length - 1]];
  const [y0, y1] = [yt[0], yt[yt.length - 1]];
  const [z0, z1] = [y2t[0], y2t[y2t.length - 1]];
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = (y: number) => m.top + ph - ((y - y0) / (y1 - y0 || 1)) * ph;
  const sz = (y: number) => m.top + ph - ((y - z0) / (z1 - z0 || 1)) * ph;
  const n = (v: number) => v.toFixed(1);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(p.title)}</text>`);
  // grid and ticks
  for (const t of xt) {
    const x = n(sx(t));
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of yt) {
    const y = n(sy(t));
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  if (hasRight) {
    for (const t of y2t) out.push(`<text x="${m.left + pw + 6}" y="${n(sz(t))}" dominant-baseline="middle">${fmt(t)}</text>`);
    out.push(
      `<text transform="translate(${W - 15},${m.top + ph / 2}) rotate(90)" text-anchor="middle">${escapeXml(p.y2Label ?? '')}</text>`,
    );
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${m.top + ph + 36}" text-anchor="middle">${escapeXml(p.xLabel)}</text>`);
  out.push(`<text transform="translate(18,${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(p.yLabel)}</text>`);
  // series
  p.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const fy = s.axis === 'right' ? sz : sy;
    const pts = s.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
    if (!s.markersOnly && pts.length > 1) {
      const d = pts.map((q) => `${n(sx(q.x))},${n(fy(q.y))}`).join(' ');
      out.push(`<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    for (const q of pts) {
      out.push(`<circle cx="${n(sx(q.x))}" cy="${n(fy(q.y))}" r="4" fill="${color}"><title>${escapeXml(`${s.name}: (${fmt(q.x)}, ${fmt(q.y)})`)}</title></circle>`);
      if (q.label) out.push(`<text x="${n(sx(q.x) + 6)}" y="${n(fy(q.y) - 7)}" font-size="10" fill="${color}">${escapeXml(q.label)}</text>`);
    }
    // legend, below the plot, two per row
    const lx = m.left + (i % 2) * (pw / 2);
    const ly = m.top + ph + 56 + Math.floor(i / 2) * 16;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<circle cx="${lx + 11}" cy="${ly}" r="3.5" fill="${color}"/>`);
    out.push(`<text x="${lx + 28}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name + (s.axis === 'right' ? ' (right axis)' : ''))}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
