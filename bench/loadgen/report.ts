// Rendering of load-generator results: the markdown table rows, the run's
// environment line, and the latency-vs-offered-load SVG (hand-written).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';

import type { LoadOptions, LoadResult } from './client';

export interface RunMeta {
  date: string;
  commit: string;
  cpu: string;
  cores: number;
  node: string;
  command: string;
  pinning: string;
  /** 1-minute load average when the run ended (the machine may be shared). */
  loadavg1: number;
}

export function runMeta(root: string, command: string, pinning: string): RunMeta {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  let cpu = 'unknown';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    // no /proc
  }
  return { date: new Date().toISOString(), commit, cpu, cores: os.cpus().length, node: process.version, command, pinning, loadavg1: os.loadavg()[0] };
}

const f = (x: number | undefined, d = 2): string => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

export function errorsText(e: Record<string, number>): string {
  const parts = Object.entries(e)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : '0';
}

export const TABLE_HEAD = [
  '| method | offered/s | achieved/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | uncorrected p99 ms | errors | client CPU-µs/call | client max core util | server CPU-µs/Rank |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|',
];

/** One table row per method of a run. */
export function tableRows(r: LoadResult): string[] {
  const rows: string[] = [];
  for (const [name, m] of Object.entries(r.methods)) {
    if (!m) continue;
    rows.push(
      `| ${name} | ${f(m.offeredRate, 1)} | ${f(m.achievedRate, 1)} | ${f(m.latency.p50)} | ${f(m.latency.p90)} | ${f(m.latency.p99)} | ${f(m.latency.p999)} | ${f(m.latency.max, 1)} | ${f(m.uncorrected.p99)} | ${errorsText(m.errors)} | ${f(r.clientCpuUsPerCall, 0)} | ${f(r.clientCpuMaxUtil)} | ${f(r.serverCpuUsPerRank, 0)} |`,
    );
  }
  return rows;
}

export function optionsText(o: LoadOptions): string {
  return `target ${o.target}, ${o.process} arrivals at ${o.rate}/s (seed ${o.seed}), ${o.warmupS} s warm-up + ${o.durationS} s measured, ${o.workers} worker processes, mix ${o.mix}, users ${o.users}, ${o.numResults} results, deadline ${o.timeoutMs} ms`;
}

export const LATENCY_NOTE =
  'Latencies are measured from each call\'s SCHEDULED send time (coordinated-omission corrected) over the calls scheduled after the warm-up; "uncorrected" is from the actual send. Histograms hold OK and DEADLINE_EXCEEDED calls; other errors are only counted. Achieved = OK completions per second inside the measured window. Client CPU-µs/call: all workers\' user+system CPU over every call sent (warm-up included); client max core util: the busiest worker\'s CPU / wall time (near 1.0 = the client saturated). Server CPU-µs/Rank: the server process\'s CPU (/proc/PID/stat, all threads) over the window / OK Rank calls completed in it (the CPU of rejected calls and, under rank+events, of RecordEvents is included).';

export interface CurvePoint {
  offered: number;
  achieved: number;
  p50: number;
  p99: number;
}

/** p50 and p99 (log scale, ms) against offered rate, as a standalone SVG. */
export function latencySvg(points: CurvePoint[], title: string, saturation?: number, p99LimitMs?: number): string {
  const W = 640;
  const H = 400;
  const L = 64;
  const R = 20;
  const T = 40;
  const B = 50;
  const xs = points.map((p) => p.offered);
  const xMax = Math.max(...xs) * 1.05 || 1;
  const ys = points.flatMap((p) => [p.p50, p.p99]).filter((v) => Number.isFinite(v) && v > 0);
  const yLo = Math.pow(10, Math.floor(Math.log10(Math.min(...ys, p99LimitMs ?? Infinity))));
  const yHi = Math.pow(10, Math.ceil(Math.log10(Math.max(...ys, p99LimitMs ?? 0))));
  const x = (v: number) => L + (v / xMax) * (W - L - R);
  const y = (v: number) => T + (1 - (Math.log10(Math.max(v, yLo)) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo) || 1)) * (H - T - B);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  // Axes and grid.
  for (let d = yLo; d <= yHi * 1.0001; d *= 10) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(d).toFixed(1)}" y2="${y(d).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${(y(d) + 4).toFixed(1)}" text-anchor="end">${d >= 1 ? d.toFixed(0) : d}</text>`);
  }
  for (const v of xs) {
    out.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${T}" y2="${H - B}" stroke="#eee"/>`);
    out.push(`<text x="${x(v).toFixed(1)}" y="${H - B + 16}" text-anchor="middle">${v}</text>`);
  }
  out.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="black"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="black"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">offered Rank rate (calls/s)</text>`);
  out.push(`<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - B) / 2})">latency (ms, log scale)</text>`);
  if (p99LimitMs !== undefined) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(p99LimitMs).toFixed(1)}" y2="${y(p99LimitMs).toFixed(1)}" stroke="#999" stroke-dasharray="4 4"/>`);
    out.push(`<text x="${W - R - 4}" y="${(y(p99LimitMs) - 4).toFixed(1)}" text-anchor="end" fill="#666">p99 limit ${p99LimitMs} ms</text>`);
  }
  if (saturation !== undefined) {
    out.push(`<line x1="${x(saturation).toFixed(1)}" x2="${x(saturation).toFixed(1)}" y1="${T}" y2="${H - B}" stroke="#2a2" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${(x(saturation) + 4).toFixed(1)}" y="${T + 12}" fill="#2a2">saturation ≈ ${saturation}/s</text>`);
  }
  const series: [keyof CurvePoint, string][] = [
    ['p50', '#1f77b4'],
    ['p99', '#d62728'],
  ];
  series.forEach(([k, color], i) => {
    const pts = points.filter((p) => Number.isFinite(p[k]));
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${x(p.offered).toFixed(1)},${y(p[k]).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${x(p.offered).toFixed(1)}" cy="${y(p[k]).toFixed(1)}" r="3" fill="${color}"/>`);
    out.push(`<rect x="${L + 10}" y="${T + 6 + i * 16}" width="12" height="3" fill="${color}"/><text x="${L + 28}" y="${T + 11 + i * 16}">${k}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
