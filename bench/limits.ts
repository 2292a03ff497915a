// What this machine can do at best, measured in the same run as the suite:
// single-thread sgemm (OpenBLAS through the native DCN model) and memory
// bandwidth: a 256 MiB typed-array copy (read + write), and one thread's
// read rate in the two patterns the cascade reads the catalog with (32 KiB
// blocks at random offsets, as an IVF search reads its inverted lists; and
// single 256-byte rows at random, as a candidate gather does). Stage floors
// in the suite are computed from these.
import { benchSgemmPeak } from './dcn-bench';
import { scoreRows } from '../src/native';
import { mulberry32 } from '../src/util/random';

export interface MachineLimits {
  sgemmGflops: number;
  sgemmBestGflops: number;
  /** Bytes read + written per second by memcpy of a buffer far larger than the caches. */
  copyGBps: number;
  /** Bytes read per second in 32 KiB blocks at random offsets of 256 MiB (one thread, dot products over the rows); absent in older result files. */
  blockReadGBps?: number;
  /** Bytes read per second in single 256-byte rows at random offsets of 256 MiB (one thread, prefetched ahead); absent in older result files. */
  rowReadGBps?: number;
}

/**
 * Median read rate of scoreRows (a dot product per 64-float row, the
 * cascade's own gather kernel) over `runs` runs of `runRows` consecutive
 * rows at random offsets of `emb`, new offsets each repetition.
 */
function readRate(emb: Float32Array, runRows: number, runs: number, reps: number): number {
  const d = 64;
  const total = emb.length / d;
  const q = new Float32Array(d).fill(0.5);
  const rnd = mulberry32(runRows * 7919 + runs);
  const times: number[] = [];
  const rows = new Int32Array(runs * runRows);
  for (let r = 0; r < reps; r++) {
    for (let b = 0; b < runs; b++) {
      const start = Math.floor(rnd() * (total - runRows));
      for (let j = 0; j < runRows; j++) rows[b * runRows + j] = start + j;
    }
    const t0 = process.hrtime.bigint();
    scoreRows(emb, d, rows, q);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  return (rows.length * d * 4) / times[times.length >> 1] / 1e9;
}

export function measureLimits(): MachineLimits {
  const sgemm = benchSgemmPeak(false);
  const n = 64 << 20; // floats: 256 MiB
  const src = new Float32Array(n);
  for (let i = 0; i < n; i += 1024) src[i] = i; // commit the pages
  const dst = new Float32Array(n);
  dst.set(src);
  const times: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    dst.set(src);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  const best = sgemm.note ? Number(/([\d.]+) GFLOP\/s/.exec(sgemm.note)?.[1]) : NaN;
  return {
    sgemmGflops: sgemm.gflops ?? NaN,
    sgemmBestGflops: best,
    copyGBps: (2 * n * 4) / times[3] / 1e9,
    blockReadGBps: readRate(src, 128, 192, 31),
    rowReadGBps: readRate(src, 1, 1000, 101),
  };
}
