// Messages between the engine and its scoring workers (piscina). Only typed
// arrays and row ids cross threads; the catalog is shared memory.
import type { DcnCalibration, DcnShape } from '../native/dcn';
import type { DcnPrecision } from '../native/dcn-precision';

export type ModelName = 'ranker' | 'preranker';

export interface WorkerModel {
  shape: DcnShape;
  /** Tensors in flattenWeights() order. */
  tensors: Float32Array[];
  /** Arithmetic of the native backend (resolved once, on the main thread). */
  precision: DcnPrecision;
  /** fp32's kernels, when measured (else by ISA: dcn-precision.ts fp32Backend). */
  backend?: 'gemm' | 'onednn';
}

/**
 * How the DCN-v2 models run: the native addon (the engine's path), ONNX
 * Runtime (onnxruntime-node, same weights as a graph) or plain TypeScript.
 * The last two exist as baselines for the benchmark suite.
 */
export type ScorerBackend = 'native' | 'ort' | 'ts';

export interface WorkerInit {
  backend: ScorerBackend;
  dim: number;
  newItemMs: number;
  embeddings: Float32Array;
  logPrice: Float32Array;
  bias: Float32Array;
  createdAt: Float64Array;
  models: Record<ModelName, WorkerModel>;
  /** Rows int8 models calibrate on (calibration.ts); absent when no model runs int8. */
  calibration?: DcnCalibration;
}

/** One scoring task: segment g = rows offsets[g]..offsets[g+1], scored with users[g] (the pool sends one segment per task). */
export interface ScoreTask {
  model: ModelName;
  users: Float32Array;
  offsets: Int32Array;
  rows: Int32Array;
  now: number;
}
