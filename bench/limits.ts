// What this machine can do at best, measured in the same run as the suite:
// single-thread sgemm (OpenBLAS through the native DCN model) and memory
// bandwidth (a 256 MiB typed-array copy: read + write). Stage floors in the
// suite are computed from these.
import { benchSgemmPeak } from './dcn-bench';

export interface MachineLimits {
  sgemmGflops: number;
  sgemmBestGflops: number;
  /** Bytes read + written per second by memcpy of a buffer far larger than the caches. */
  copyGBps: number;
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
  return { sgemmGflops: sgemm.gflops ?? NaN, sgemmBestGflops: best, copyGBps: (2 * n * 4) / times[3] / 1e9 };
}
