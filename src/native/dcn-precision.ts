// Which arithmetic the rankers' layers run in. 'fp32' is exact (the reference
// the tests compare with); 'bf16' and 'int8' run through oneDNN (int8 after a
// calibration over the bundle's own rows, see docs/bundle-format.md); 'auto'
// is resolved here, per CPU, to the fastest precision that meets the quality
// bar. (No addon here: the manifest checks use these types; the CPU's
// capabilities come from src/native/index.ts's onednnCpu.)

export type DcnPrecision = 'fp32' | 'bf16' | 'int8';
export type DcnPrecisionSetting = DcnPrecision | 'auto';

export const PRECISION_SETTINGS: readonly DcnPrecisionSetting[] = ['auto', 'fp32', 'bf16', 'int8'];

export function isPrecisionSetting(v: unknown): v is DcnPrecisionSetting {
  return typeof v === 'string' && (PRECISION_SETTINGS as readonly string[]).includes(v);
}

/** What oneDNN finds on this CPU. */
export interface CpuCaps {
  /** oneDNN's name of the instruction set it uses, e.g. 'avx512_core_bf16'. */
  isa: string;
  /** int8 dot products (AVX-512 VNNI or AVX-VNNI). */
  vnni: boolean;
  /** Native bf16 dot products (AVX-512 BF16). */
  bf16: boolean;
  /** AMX tiles. */
  amx: boolean;
}

/** Which of the two DCN-v2 models a precision is for. */
export type DcnModelRole = 'ranker' | 'preranker';

/**
 * 'auto' without a measurement, per model, first rule that holds; else fp32.
 * The engine measures instead (native/precision-probe.ts, ScoringPool.create);
 * these rules are the usual outcome on CPUs measured so far, used where a
 * pool is built without a probe. Quality (npm run eval: NDCG@50 >= 0.995 x
 * fp32, and top-50 overlap >= 45 with fp32's in >= 98% of requests, on the
 * 100k and 1M worlds):
 *  - the strong pre-ranker in int8 where the CPU has int8 dot products: its
 *    int8 scores leave the pages as they are (100% of requests within the
 *    bar);
 *  - the ranker in int8 fails the overlap bar (89% of requests on the 100k
 *    world, 85.5% on the 1M world; NDCG@50 0.9991 x fp32): the page order
 *    follows its scores closely and DPP amplifies small changes. bf16 passes
 *    (100% and 98.0%); its speed without AMX depends on the CPU (slower than
 *    fp32 on a Xeon, faster on an EPYC Zen 4), so the rule picks it only
 *    with AMX.
 */
export const AUTO_RULES: Readonly<Record<DcnModelRole, readonly { when: (cpu: CpuCaps) => boolean; use: DcnPrecision }[]>> = {
  preranker: [{ when: (c) => c.vnni || c.amx, use: 'int8' }],
  ranker: [{ when: (c) => c.amx, use: 'bf16' }],
};

export function autoPrecision(cpu: CpuCaps, model: DcnModelRole): DcnPrecision {
  return AUTO_RULES[model].find((r) => r.when(cpu))?.use ?? 'fp32';
}

/**
 * The kernels of the exact fp32 path: oneDNN's fp32 matmul where oneDNN runs
 * AVX-512 kernels (the W2 ranker over 200 rows: 513 vs 757 µs on the packed
 * AVX2 kernels of native/gemm.cc, the strong pre-ranker 111 vs 132 µs, the
 * same probabilities to 2e-7; bench/results/dcn-precision.md), else the
 * packed kernels (not yet measured against oneDNN on an AVX2-only CPU).
 */
export function fp32Backend(cpu: CpuCaps): 'onednn' | 'gemm' {
  return cpu.isa.startsWith('avx512') ? 'onednn' : 'gemm';
}

/** A setting resolved to a precision: an explicit one wins, 'auto' asks the CPU. */
export function resolvePrecision(setting: DcnPrecisionSetting | undefined, cpu: CpuCaps, model: DcnModelRole): DcnPrecision {
  return setting === undefined || setting === 'auto' ? autoPrecision(cpu, model) : setting;
}
