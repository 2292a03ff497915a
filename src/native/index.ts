// The native core: FAISS retrieval, DCN-v2, the HAP router, MMR and DPP.
export { VectorIndex } from './vector-index';
export type { Metric, Ids, SearchOptions, SearchResult } from './vector-index';
export { DcnModel, checkShape, flattenWeights, headInputDim } from './dcn';
export type { DcnShape, DcnWeights, LinearWeights, CrossWeights, DcnCalibration, DcnModelOptions } from './dcn';
export { topK, hapRoute, hapMerge } from './hap';
export type { HapMerged } from './hap';
export { mmr, dpp, scoreRows, duplicateFlags } from './diversity';
export type { CandidateSet } from './diversity';
export { gatherItemFeatures } from './features';
export type { ItemFeatureColumns } from './features';
export { NativeInputError } from './checks';
import { native } from './binding';
import type { CpuCaps } from './dcn-precision';
export { autoPrecision, isPrecisionSetting, resolvePrecision, PRECISION_SETTINGS } from './dcn-precision';
export type { CpuCaps, DcnPrecision, DcnPrecisionSetting } from './dcn-precision';
/** SIMD level picked at load for the addon's own kernels: 'avx2' or 'scalar'. */
export const simdLevel: string = native.simdLevel;
/**
 * How the native DCN-v2 multiplies its layers: 'packed' (weights packed at
 * load, AVX2+FMA kernel), or 'blas' (cblas_sgemm: no AVX2, or
 * RANK_DCN_GEMM=blas).
 */
export const dcnGemm: 'packed' | 'blas' = native.dcnGemm;
/** What oneDNN finds on this CPU: picks the rankers' 'auto' precision (dcn-precision.ts). */
export const onednnCpu: CpuCaps = native.onednnCpu;
