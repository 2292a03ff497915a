// Shared helpers of the micro-benchmarks: a seeded RNG, random DCN weights,
// and per-call timing (median / p99 over many repetitions after warm-up).
import type { DcnShape, DcnWeights, LinearWeights } from '../src/native/dcn';

/** mulberry32 uniform [0, 1) plus Box-Muller normals; deterministic per seed. */
export class Rng {
  private spare: number | null = null;
  constructor(private state: number) {}

  uniform(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const rad = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * this.uniform();
    this.spare = rad * Math.sin(th);
    return rad * Math.cos(th);
  }

  normals(n: number, scale = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal() * scale;
    return a;
  }

  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** k distinct integers in [0, n), in random order. */
  sample(n: number, k: number): Int32Array {
    const picked = new Set<number>();
    const out = new Int32Array(k);
    for (let i = 0; i < k; ) {
      const v = this.int(n);
      if (!picked.has(v)) {
        picked.add(v);
        out[i++] = v;
      }
    }
    return out;
  }
}

/** Random DCN-v2 weights with fan-in scaled normals (activations stay O(1)). */
export function randomDcnWeights(shape: DcnShape, rng: Rng): DcnWeights {
  const D = shape.inputDim;
  const r = shape.crossRank;
  const lin = (out: number, inp: number): LinearWeights => ({
    weight: rng.normals(out * inp, 1 / Math.sqrt(inp)),
    bias: rng.normals(out, 0.1),
  });
  const cross = Array.from({ length: shape.crossLayers }, () =>
    r === 0
      ? { weight: rng.normals(D * D, 0.5 / Math.sqrt(D)), bias: rng.normals(D, 0.1) }
      : { u: rng.normals(D * r, 0.5 / Math.sqrt(r)), v: rng.normals(r * D, 1 / Math.sqrt(D)), bias: rng.normals(D, 0.1) },
  );
  const mlp: LinearWeights[] = [];
  let inDim = D;
  for (const h of shape.mlp) {
    mlp.push(lin(h, inDim));
    inDim = h;
  }
  const headIn = shape.mlp.length === 0 ? D : shape.structure === 'parallel' ? D + inDim : inDim;
  return { cross, mlp, heads: lin(shape.heads, headIn) };
}

export interface Timing {
  /** Repetitions measured (after warm-up). */
  n: number;
  medianUs: number;
  p99Us: number;
  meanUs: number;
  minUs: number;
}

export interface TimeOptions {
  /** Warm-up time before measuring (ms); at least 3 calls. */
  warmupMs?: number;
  /** Measuring time budget (ms); the repetition count is derived from it. */
  budgetMs?: number;
  minReps?: number;
  maxReps?: number;
}

/** Median, p99, mean and min of per-call times in nanoseconds. */
export function summarise(ns: Float64Array): Timing {
  const s = Float64Array.from(ns).sort();
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  let sum = 0;
  for (const v of s) sum += v;
  return { n: s.length, medianUs: q(0.5) / 1e3, p99Us: q(0.99) / 1e3, meanUs: sum / s.length / 1e3, minUs: s[0] / 1e3 };
}

function plan(firstNs: number, o: TimeOptions): { warm: number; reps: number } {
  const per = Math.max(firstNs, 100);
  const warm = Math.max(3, Math.ceil(((o.warmupMs ?? 200) * 1e6) / per));
  const reps = Math.ceil(((o.budgetMs ?? 1500) * 1e6) / per);
  return { warm, reps: Math.min(o.maxReps ?? 20000, Math.max(o.minReps ?? 50, reps)) };
}

/** Times a synchronous call: each repetition timed alone with hrtime.bigint. */
export function timeSync(fn: () => unknown, o: TimeOptions = {}): Timing {
  let t0 = process.hrtime.bigint();
  fn();
  const { warm, reps } = plan(Number(process.hrtime.bigint() - t0), o);
  for (let i = 0; i < warm; i++) fn();
  const ns = new Float64Array(reps);
  for (let i = 0; i < reps; i++) {
    t0 = process.hrtime.bigint();
    fn();
    ns[i] = Number(process.hrtime.bigint() - t0);
  }
  return summarise(ns);
}

/** Times an asynchronous call (awaited one at a time). */
export async function timeAsync(fn: () => Promise<unknown>, o: TimeOptions = {}): Promise<Timing> {
  let t0 = process.hrtime.bigint();
  await fn();
  const { warm, reps } = plan(Number(process.hrtime.bigint() - t0), o);
  for (let i = 0; i < warm; i++) await fn();
  const ns = new Float64Array(reps);
  for (let i = 0; i < reps; i++) {
    t0 = process.hrtime.bigint();
    await fn();
    ns[i] = Number(process.hrtime.bigint() - t0);
  }
  return summarise(ns);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export interface InterleaveOptions {
  /** Rounds; each runs every variant once in turn (spreads machine noise evenly). */
  rounds?: number;
  /** Measuring budget per variant over all rounds (ms). */
  budgetMs?: number;
  /** Warm-up per variant at the start of each round (ms). */
  warmupMs?: number;
  minReps?: number;
}

/**
 * Times several calls in interleaved rounds (A B C, A B C, ...), each call
 * timed alone; a call may return a Promise, which is awaited inside its timing.
 */
export async function timeInterleaved(fns: ReadonlyArray<() => unknown>, o: InterleaveOptions = {}): Promise<Timing[]> {
  const rounds = o.rounds ?? 3;
  const once = async (fn: () => unknown): Promise<number> => {
    const t0 = process.hrtime.bigint();
    const v = fn();
    if (v instanceof Promise) await v;
    return Number(process.hrtime.bigint() - t0);
  };
  const per: number[] = [];
  for (const fn of fns) {
    await once(fn);
    per.push(Math.max(await once(fn), 100));
  }
  const samples: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < fns.length; k++) {
      const warm = Math.max(3, Math.ceil(((o.warmupMs ?? 50) * 1e6) / per[k]));
      const reps = Math.max(o.minReps ?? 20, Math.ceil(((o.budgetMs ?? 1500) * 1e6) / rounds / per[k]));
      for (let i = 0; i < warm; i++) await once(fns[k]);
      for (let i = 0; i < reps; i++) samples[k].push(await once(fns[k]));
    }
  }
  return samples.map((s) => summarise(Float64Array.from(s)));
}
