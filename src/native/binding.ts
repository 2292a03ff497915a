// Loads the compiled addon and describes its raw surface. Everything here is
// unchecked: use the wrappers in this folder, which validate inputs first.
import type { DcnShape } from './dcn-shape';
import * as path from 'node:path';

export interface RawSearchResult {
  ids: BigInt64Array;
  distances: Float32Array;
  nq: number;
  k: number;
}

/** search(queries, k, efSearch, nprobe, allowIds, denyIds, allowBitmap, threads) */
export type RawSearchArgs = [
  queries: Float32Array,
  k: number | Int32Array,
  efSearch: number | null,
  nprobe: number | Int32Array | null,
  allowIds: BigInt64Array | null,
  denyIds: BigInt64Array | null,
  allowBitmap: Uint8Array | null,
  threads: number,
  alive?: Uint8Array | null,
  unique?: boolean,
  refine?: number | null,
];

export interface RawVectorIndex {
  readonly dim: number;
  readonly ntotal: number;
  readonly isTrained: boolean;
  readonly metric: 'ip' | 'l2';
  readonly kind: string;
  train(x: Float32Array, threads?: number): Promise<void>;
  add(x: Float32Array, ids: BigInt64Array, threads?: number): Promise<void>;
  remove(ids: BigInt64Array): Promise<number>;
  search(...args: RawSearchArgs): Promise<RawSearchResult>;
  /** The same search on the calling thread; null while a writer holds the index. */
  searchSync(...args: RawSearchArgs): RawSearchResult | null;
  write(path: string): Promise<void>;
}

export interface RawVectorIndexCtor {
  new (dim: number, factory: string, metric: 'ip' | 'l2'): RawVectorIndex;
  read(path: string): Promise<RawVectorIndex>;
}

/** The addon takes the shape as the bundle declares it. */
export type RawDcnShape = DcnShape;

export interface RawDcnModel {
  forward(user: Float32Array, items: Float32Array, out?: Float32Array): Float32Array;
  forwardSegments(users: Float32Array, offsets: Int32Array, items: Float32Array, out?: Float32Array): Float32Array;
  flops(batch: number): number;
  kernels(): string;
}

export interface RawDcnOptions {
  precision?: 'fp32' | 'bf16' | 'int8';
  backend?: 'gemm' | 'onednn';
  calibration?: { users: Float32Array; offsets: Int32Array; items: Float32Array };
}

export interface NativeAddon {
  VectorIndex: RawVectorIndexCtor;
  DcnModel: new (shape: RawDcnShape, tensors: Float32Array[], options?: RawDcnOptions) => RawDcnModel;
  topK(scores: Float32Array, k: number): Int32Array;
  hapRoute(light: Float32Array, keep: number, budget: number, uncertainty?: Float32Array): Int32Array;
  hapMerge(
    light: Float32Array,
    hard: Int32Array,
    strong: Float32Array,
    keep: number,
  ): { order: Int32Array; scores: Float32Array };
  mmr(emb: Float32Array, dim: number, rows: Int32Array, rel: Float32Array, n: number, lambda: number): Int32Array;
  dpp(
    emb: Float32Array,
    dim: number,
    rows: Int32Array,
    rel: Float32Array,
    n: number,
    alpha: number,
    epsilon: number,
  ): Int32Array;
  scoreRows(emb: Float32Array, dim: number, rows: Int32Array, query: Float32Array, bias?: Float32Array, biasWeight?: number): Float32Array;
  dedupe(emb: Float32Array, dim: number, rows: Int32Array, contentHash: Int32Array, threshold: number): Uint8Array;
  gatherItemFeatures(
    emb: Float32Array,
    dim: number,
    logPrice: Float32Array,
    createdAt: Float64Array,
    bias: Float32Array,
    rows: Int32Array,
    now: number,
    newItemMs: number,
    out: Float32Array,
  ): Float32Array;
  adviseHugePages(array: ArrayBufferView, collapse: boolean): number;
  simdLevel: string;
  dcnGemm: 'packed' | 'blas';
  onednnCpu: { isa: string; vnni: boolean; bf16: boolean; amx: boolean };
}

/** Repository root, found from this file's place in either src/ or dist/src/. */
function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (require('node:fs').existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the package root above ${__dirname}`);
}

/**
 * The addon file: $RANK_NATIVE_ADDON when set (e.g. a sanitizer build, see
 * scripts/native-sanitize.sh), else build/Release/ranking_native.node.
 */
function load(): NativeAddon {
  const override = process.env.RANK_NATIVE_ADDON;
  const file = override ? path.resolve(override) : path.join(packageRoot(), 'build', 'Release', 'ranking_native.node');
  try {
    return require(file) as NativeAddon;
  } catch (err) {
    throw new Error(`cannot load the native core from ${file}: run "npm run build:native" (${String(err)})`);
  }
}

export const native: NativeAddon = load();
