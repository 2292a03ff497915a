// The evaluator's reduced-precision section: the same requests (default
// knobs, exploration NONE, the same seed per user) to an engine whose rankers
// (DCN-v2 ranker and strong pre-ranker) run in fp32 and to one per reduced
// precision (EngineOptions.rankerPrecision), each list scored against the
// truth as every other list of the evaluator; then, per request, how much of
// the fp32 top 50 the reduced-precision top 50 keeps.
//
// The quality bar of a reduced-precision path (PRECISION_BAR): NDCG@50 at
// least 0.995 x fp32's, and the top 50 of at least 98% of the requests
// sharing at least 45 items with fp32's top 50.
import { readFileSync } from 'node:fs';

import { CpuCaps, DcnPrecision } from '../../src/native/dcn-precision';
import { bootstrapRatio, Interval, mean, meanInterval, pairedDifference } from './metrics';

export const PRECISION_BAR = {
  /** NDCG@50 (weighted) of the reduced precision / fp32's, at least. */
  ndcg50RatioAtLeast: 0.995,
  /** The list length compared. */
  k: 50,
  /** Items of fp32's top k a request's top k must keep... */
  overlapAtLeast: 45,
  /** ...in at least this share of the requests. */
  overlapShareAtLeast: 0.98,
} as const;

/** Compared with fp32 by default: int8 (oneDNN has a kernel without VNNI too, only slower) and bf16. */
export const REDUCED_PRECISIONS: readonly DcnPrecision[] = ['int8', 'bf16'];

/** The CPU flags (as Linux names them in /proc/cpuinfo) that decide which reduced precision is fast. */
export const PRECISION_CPU_FLAGS = ['avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_tile', 'amx_int8', 'amx_bf16'] as const;

/** The per-request outcome of one engine: in the order of the sampled users, the same for every engine. */
export interface PrecisionRun {
  ndcg10: number[];
  ndcg50: number[];
  /** The returned rows, in order. */
  lists: number[][];
}

export interface PrecisionRow {
  precision: DcnPrecision;
  /** The engine that served it. */
  engine: string;
  requests: number;
  /** Per-request 95% intervals (mean -/+ 1.96 stderr). */
  ndcg10: Interval;
  ndcg50: Interval;
  /** mean NDCG@50 / fp32's, with a paired percentile bootstrap interval over requests. */
  ndcg50Ratio: { ratio: number; lo: number; hi: number };
  /** NDCG@50 minus fp32's, paired per request. */
  ndcg50Difference: Interval;
  /** Items the top k shares with fp32's top k: mean, min, and the share of requests at or above the bar. */
  overlap: { mean: number; min: number; shareAtLeastBar: number };
  /** Share of requests whose top k is fp32's, in the same order. */
  identicalShare: number;
  pass: boolean;
  /** Each unmet part of the bar, with the value and the threshold (empty when it passes). */
  failures: string[];
}

export interface PrecisionSection {
  note: string;
  bar: typeof PRECISION_BAR;
  cpu: {
    /** oneDNN's instruction set and what it finds (src/native/dcn-precision.ts CpuCaps). */
    onednn: CpuCaps;
    /** PRECISION_CPU_FLAGS as the kernel reports them (null: no /proc/cpuinfo). */
    flags: Record<string, boolean> | null;
  };
  /** What 'auto' resolves to on this CPU. */
  /** What 'auto' picks on this CPU, per model. */
  auto: Record<'ranker' | 'preranker', DcnPrecision>;
  /** What the evaluator's default engine runs (the bundle's setting, else 'auto'). */
  defaultEngine: { ranker: DcnPrecision; preranker: DcnPrecision };
  reference: { precision: 'fp32'; engine: string; requests: number; ndcg10: Interval; ndcg50: Interval };
  rows: PrecisionRow[];
  /** Every compared precision meets the bar. */
  allPass: boolean;
  bootstrapIters: number;
}

/** |set(a[0..k)) ∩ set(b[0..k))|: items two lists' first k share, whatever their order. */
export function topOverlap(a: ArrayLike<number>, b: ArrayLike<number>, k: number): number {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
  const inA = new Set<number>();
  for (let i = 0; i < Math.min(k, a.length); i++) inA.add(a[i]);
  const hit = new Set<number>();
  for (let i = 0; i < Math.min(k, b.length); i++) if (inA.has(b[i])) hit.add(b[i]);
  return hit.size;
}

function sameOrder(a: number[], b: number[], k: number): boolean {
  const n = Math.min(k, a.length);
  if (n !== Math.min(k, b.length)) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * One reduced-precision engine against the fp32 reference: the same requests
 * in the same order. `random`: uniform [0, 1) draws of the ratio's bootstrap.
 */
export function comparePrecision(
  precision: DcnPrecision,
  engine: string,
  reference: PrecisionRun,
  run: PrecisionRun,
  random: () => number,
  iters: number,
  bar: typeof PRECISION_BAR = PRECISION_BAR,
): PrecisionRow {
  const n = reference.lists.length;
  for (const [name, v] of [
    ['ndcg10', run.ndcg10],
    ['ndcg50', run.ndcg50],
    ['lists', run.lists],
    ['reference ndcg50', reference.ndcg50],
  ] as const) {
    if (v.length !== n) throw new RangeError(`${precision}: ${name} has ${v.length} requests, the reference ${n}`);
  }
  const overlaps = run.lists.map((l, i) => topOverlap(reference.lists[i], l, bar.k));
  const atBar = overlaps.filter((o) => o >= bar.overlapAtLeast).length;
  const ratio = bootstrapRatio(run.ndcg50, reference.ndcg50, random, iters);
  const share = n > 0 ? atBar / n : 0;
  const failures: string[] = [];
  if (n === 0) failures.push('no requests');
  if (!(ratio.ratio >= bar.ndcg50RatioAtLeast)) failures.push(`NDCG@50 ratio ${ratio.ratio.toFixed(4)} < ${bar.ndcg50RatioAtLeast}`);
  if (!(share >= bar.overlapShareAtLeast)) {
    failures.push(`top-${bar.k} overlap >= ${bar.overlapAtLeast} in ${(100 * share).toFixed(1)}% of requests < ${100 * bar.overlapShareAtLeast}%`);
  }
  return {
    precision,
    engine,
    requests: n,
    ndcg10: meanInterval(run.ndcg10),
    ndcg50: meanInterval(run.ndcg50),
    ndcg50Ratio: ratio,
    ndcg50Difference: pairedDifference(run.ndcg50, reference.ndcg50),
    overlap: { mean: mean(overlaps), min: n > 0 ? Math.min(...overlaps) : 0, shareAtLeastBar: share },
    identicalShare: n > 0 ? run.lists.filter((l, i) => sameOrder(reference.lists[i], l, bar.k)).length / n : 0,
    pass: failures.length === 0,
    failures,
  };
}

/** PRECISION_CPU_FLAGS from the kernel's flag list ("flags : ..." lines of /proc/cpuinfo); null without one. */
export function cpuFlags(cpuinfo: string | null = readCpuinfo()): Record<string, boolean> | null {
  if (cpuinfo === null) return null;
  const line = /^flags\s*:(.*)$/m.exec(cpuinfo);
  if (!line) return null;
  const have = new Set(line[1].trim().split(/\s+/));
  return Object.fromEntries(PRECISION_CPU_FLAGS.map((f) => [f, have.has(f)]));
}

function readCpuinfo(): string | null {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return null;
  }
}

/** The section from the fp32 run and one run per compared precision. */
export function precisionSection(args: {
  cpu: CpuCaps;
  /** What 'auto' resolved to on this CPU (measured when the default engine loaded). */
  auto: { ranker: DcnPrecision; preranker: DcnPrecision };
  defaultEngine: { ranker: DcnPrecision; preranker: DcnPrecision };
  reference: { engine: string; run: PrecisionRun };
  compared: { precision: DcnPrecision; engine: string; run: PrecisionRun }[];
  random: () => number;
  iters: number;
  flags?: Record<string, boolean> | null;
}): PrecisionSection {
  const ref = args.reference.run;
  const rows = args.compared.map((c) => comparePrecision(c.precision, c.engine, ref, c.run, args.random, args.iters));
  const bar = PRECISION_BAR;
  return {
    note:
      `the same requests (default knobs, exploration NONE, the same seed per user, debug on) to an engine whose ranker and strong pre-ranker run in fp32 and to one per reduced precision ` +
      `(EngineOptions.rankerPrecision; int8 calibrated on the bundle's rows at load), built one after the other and sharing the default engine's user state; NDCG as everywhere in this report; ` +
      `overlap = items a request's top ${bar.k} shares with the fp32 top ${bar.k} of the same request. Bar: NDCG@${bar.k} >= ${bar.ndcg50RatioAtLeast} x fp32 and ` +
      `overlap >= ${bar.overlapAtLeast} in >= ${100 * bar.overlapShareAtLeast}% of requests (on the 100k and the 1M world)`,
    bar,
    cpu: { onednn: { ...args.cpu }, flags: args.flags === undefined ? cpuFlags() : args.flags },
    auto: args.auto,
    defaultEngine: args.defaultEngine,
    reference: { precision: 'fp32', engine: args.reference.engine, requests: ref.lists.length, ndcg10: meanInterval(ref.ndcg10), ndcg50: meanInterval(ref.ndcg50) },
    rows,
    allPass: rows.every((r) => r.pass),
    bootstrapIters: args.iters,
  };
}
