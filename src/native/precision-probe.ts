// 'auto' precision by measurement. Which arithmetic is fastest for a DCN-v2
// model is not readable off the CPU flags: on a Xeon with AVX-512 BF16 but
// no AMX, oneDNN's bf16 ranker is slower than fp32 (853 vs 513 µs for the W2
// ranker over 200 rows), on an EPYC (Zen 4) with the same flags it is faster
// (349 vs 479 µs); the packed fp32 kernels of gemm.cc beat oneDNN's fp32 on
// one and tie on the other (bench/results/dcn-precision.md). So the engine
// times the candidates on the model's own shape when it loads a bundle and
// keeps the fastest among those that meet the quality bar:
//  - the quality bar (npm run eval's reduced-precision section: NDCG@50 >=
//    0.995 x fp32 and top-50 overlap >= 45 with fp32's in >= 98% of
//    requests, 100k and 1M worlds) allows fp32 and bf16 for the ranker (int8
//    fails the overlap bar: 89% / 85.5% of requests) and all three for the
//    strong pre-ranker;
//  - a reduced precision is kept only when it is at least 10% faster than
//    the faster fp32 path, so the exact arithmetic wins near-ties;
//  - bf16 is a candidate only with native bf16 dot products (AVX-512 BF16 or
//    AMX), int8 only with int8 dot products (VNNI or AMX) and a calibration.
// A probe takes ~20-40 ms per model, in steps of one forward pass (< 1 ms)
// with the event loop free between them; its result is kept per model shape
// for the life of the process, so a reload of a bundle of the same shapes
// does not probe again.
import { DcnCalibration, DcnModel, DcnShape, DcnWeights } from './dcn';
import type { CpuCaps, DcnModelRole, DcnPrecision } from './dcn-precision';

/** A precision and, for fp32, which kernels run it. */
export interface PrecisionChoice {
  precision: DcnPrecision;
  /** fp32 only: oneDNN's matmul or the packed kernels of gemm.cc. */
  backend?: 'gemm' | 'onednn';
}

export type Candidate = 'fp32/gemm' | 'fp32/onednn' | 'bf16' | 'int8';

export interface ProbeResult {
  choice: PrecisionChoice;
  /** Median µs of one forward pass over `rows` rows, per candidate timed. */
  medianUs: Partial<Record<Candidate, number>>;
  rows: number;
}

/** Precisions that meet the quality bar, per model (see the header). */
export const QUALITY_ALLOWED: Readonly<Record<DcnModelRole, readonly DcnPrecision[]>> = {
  ranker: ['fp32', 'bf16'],
  preranker: ['fp32', 'bf16', 'int8'],
};

/** A reduced precision must take at most this share of the faster fp32 path's time. */
export const REDUCED_MARGIN = 0.9;

const CHOICE: Record<Candidate, PrecisionChoice> = {
  'fp32/gemm': { precision: 'fp32', backend: 'gemm' },
  'fp32/onednn': { precision: 'fp32', backend: 'onednn' },
  bf16: { precision: 'bf16' },
  int8: { precision: 'int8' },
};

/** The candidates worth timing for a model on this CPU. */
export function probeCandidates(role: DcnModelRole, cpu: CpuCaps, haveCalibration: boolean): Candidate[] {
  const out: Candidate[] = ['fp32/gemm', 'fp32/onednn'];
  const allowed = QUALITY_ALLOWED[role];
  if (allowed.includes('bf16') && (cpu.bf16 || cpu.amx)) out.push('bf16');
  if (allowed.includes('int8') && (cpu.vnni || cpu.amx) && haveCalibration) out.push('int8');
  return out;
}

/** The rule above over measured medians (µs per forward pass). */
export function chooseFromTimings(role: DcnModelRole, medianUs: Partial<Record<Candidate, number>>): PrecisionChoice {
  const fp32: Candidate[] = (['fp32/gemm', 'fp32/onednn'] as const).filter((c) => Number.isFinite(medianUs[c]));
  if (fp32.length === 0) return { precision: 'fp32' };
  const bestFp32 = fp32.reduce((a, b) => (medianUs[b]! < medianUs[a]! ? b : a));
  let best: Candidate = bestFp32;
  for (const c of ['bf16', 'int8'] as const) {
    const t = medianUs[c];
    if (t === undefined || !Number.isFinite(t) || !QUALITY_ALLOWED[role].includes(CHOICE[c].precision)) continue;
    if (t <= REDUCED_MARGIN * medianUs[bestFp32]! && t < medianUs[best]!) best = c;
  }
  return CHOICE[best];
}

export interface ProbeOptions {
  /** Rows per timed forward pass (default 200: a page's candidates after pre-rank). */
  rows?: number;
  /** Timed rounds; each times every candidate once (default 9). */
  rounds?: number;
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

const probes = new Map<string, Promise<ProbeResult>>();

/** Seeded values in [-1, 1) (the timing does not depend on them, only their count). */
function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return a;
}

async function measure(role: DcnModelRole, shape: DcnShape, weights: DcnWeights, calibration: DcnCalibration | undefined, cpu: CpuCaps, o: Required<ProbeOptions>): Promise<ProbeResult> {
  const candidates = probeCandidates(role, cpu, calibration !== undefined);
  const models = candidates.map((c) => new DcnModel(shape, weights, { ...CHOICE[c], calibration: c === 'int8' ? calibration : undefined }));
  const users = filled(shape.userDim, 7);
  const x = filled(o.rows * (shape.inputDim - shape.userDim), 11);
  const offsets = Int32Array.of(0, o.rows);
  const times: number[][] = candidates.map(() => []);
  for (let round = -2; round < o.rounds; round++) {
    for (let i = 0; i < models.length; i++) {
      await yieldToLoop();
      const t0 = process.hrtime.bigint();
      models[i].forwardSegments(users, offsets, x);
      const us = Number(process.hrtime.bigint() - t0) / 1e3;
      if (round >= 0) times[i].push(us); // two untimed rounds warm caches and oneDNN's kernels
    }
  }
  const medianUs: Partial<Record<Candidate, number>> = {};
  candidates.forEach((c, i) => {
    const s = times[i].sort((a, b) => a - b);
    medianUs[c] = s[(s.length - 1) >> 1];
  });
  return { choice: chooseFromTimings(role, medianUs), medianUs, rows: o.rows };
}

/**
 * Times the candidates for one model (once per role, shape and row count in
 * this process) and returns the fastest that meets the quality bar.
 */
export function probePrecision(role: DcnModelRole, shape: DcnShape, weights: DcnWeights, calibration: DcnCalibration | undefined, cpu: CpuCaps, options: ProbeOptions = {}): Promise<ProbeResult> {
  const o: Required<ProbeOptions> = { rows: options.rows ?? 200, rounds: options.rounds ?? 9 };
  const key = JSON.stringify([role, shape, o, calibration !== undefined]);
  let p = probes.get(key);
  if (!p) {
    p = measure(role, shape, weights, calibration, cpu, o);
    probes.set(key, p);
    p.catch(() => probes.delete(key));
  }
  return p;
}
