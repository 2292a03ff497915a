// Result rows of the native-kernel benchmark and their markdown rendering.
import type { Timing } from './bench-util';

export interface Row {
  /** Section: 'blas', 'dcn', 'diversity', 'hap', 'faiss'. */
  group: string;
  kernel: string;
  case: string;
  timing: Timing;
  /** Achieved GFLOP/s from the nominal FLOPs and the median time. */
  gflops?: number;
  /** Free-form: picks, recall, target verdict, ... */
  note?: string;
  target?: { maxMedianUs: number; pass: boolean };
}

export interface FaissRow {
  index: string;
  params: string;
  n: number;
  kind: string;
  buildS: number;
  timing: Timing;
  recallAt1000: number;
  recallAt100: number;
  note?: string;
}

export interface Meta {
  date: string;
  commit: string;
  dirty: boolean;
  cpu: string;
  cores: number;
  node: string;
  simdLevel: string;
  onnxruntime: string;
  args: string[];
  /** 1-minute load average when the run started and ended (other processes share the cores). */
  loadavg: { start: number; end: number };
}

const fmt = (v: number, digits = 1) => (v >= 1000 ? v.toFixed(0) : v >= 100 ? v.toFixed(digits > 0 ? 1 : 0) : v.toFixed(digits + 1));
const us = (v: number) => (v >= 10000 ? `${(v / 1000).toFixed(1)} ms` : fmt(v));

export function markdown(meta: Meta, rows: Row[], faiss: FaissRow[], notes: string[]): string {
  const out: string[] = [];
  out.push('# Native-core micro-benchmark', '');
  out.push(
    `${meta.date} · commit \`${meta.commit}\`${meta.dirty ? ' (+ local changes)' : ''} · ${meta.cpu} (${meta.cores} cores) · ` +
      `Node ${meta.node} · simd ${meta.simdLevel} · onnxruntime-node ${meta.onnxruntime}` +
      (meta.args.length ? ` · \`${meta.args.join(' ')}\`` : '') +
      ` · 1-min load average ${meta.loadavg.start.toFixed(2)} at start, ${meta.loadavg.end.toFixed(2)} at end (this run included)`,
    '',
  );
  out.push('Per call, single thread, after warm-up: median and p99 in µs (n = repetitions).', '');
  out.push('| kernel | case | median µs | p99 µs | n | GFLOP/s | notes |', '|---|---|---:|---:|---:|---:|---|');
  for (const r of rows) {
    const t = r.timing;
    const target = r.target ? `${r.target.pass ? 'PASS' : 'FAIL'} (target ≤ ${r.target.maxMedianUs} µs)` : '';
    const note = [target, r.note ?? ''].filter((s) => s.length > 0).join('; ');
    out.push(
      `| ${r.kernel} | ${r.case} | ${us(t.medianUs)} | ${us(t.p99Us)} | ${t.n} | ${r.gflops === undefined ? '' : r.gflops.toFixed(1)} | ${note} |`,
    );
  }
  if (faiss.length > 0) {
    out.push('', 'FAISS, k = 1000, one query per call (threads 1); recall against exact Flat search.', '');
    out.push(
      '| index | params | vectors | kind | build s | median ms | p99 ms | recall@1000 | recall@100 | notes |',
      '|---|---|---:|---|---:|---:|---:|---:|---:|---|',
    );
    for (const f of faiss) {
      out.push(
        `| ${f.index} | ${f.params} | ${f.n.toLocaleString('en-US')} | ${f.kind} | ${f.buildS.toFixed(1)} | ` +
          `${(f.timing.medianUs / 1000).toFixed(2)} | ${(f.timing.p99Us / 1000).toFixed(2)} | ` +
          `${Number.isNaN(f.recallAt1000) ? '' : f.recallAt1000.toFixed(4)} | ${Number.isNaN(f.recallAt100) ? '' : f.recallAt100.toFixed(4)} | ${f.note ?? ''} |`,
      );
    }
  }
  if (notes.length > 0) {
    out.push('', 'Notes:', '');
    for (const n of notes) out.push(`- ${n}`);
  }
  return out.join('\n') + '\n';
}
