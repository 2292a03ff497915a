// FAISS vector index: factory strings (Flat, HNSW32,Flat, IVF4096,Flat,
// IVF4096,PQ16, ...), 64-bit ids, removal, filtered top-k search with per-call
// efSearch / nprobe, and index files. Every operation runs off the event loop.
import { native, RawSearchArgs, RawVectorIndex } from './binding';
import { NativeInputError, checkF32, checkFinite, checkInt, checkMultiple, toIds } from './checks';

export type Metric = 'ip' | 'l2';
export type Ids = BigInt64Array | readonly (number | bigint)[];

export interface SearchOptions {
  /**
   * Results per query; an Int32Array gives one per query (the result rows
   * are as long as the largest, -1 past a query's own k).
   */
  k: number | Int32Array;
  /** HNSW: size of the dynamic candidate list (raised to k when lower). */
  efSearch?: number;
  /**
   * IVF: number of inverted lists to visit; an Int32Array gives one per
   * query (searched one after another, in the same call). Other indexes
   * ignore it.
   */
  nprobe?: number | Int32Array;
  /** Only these ids may be returned (e.g. one category). */
  allowIds?: Ids;
  /** Only ids whose bit is set may be returned (bit i%8 of byte i/8); ids past the end are excluded. */
  allowBitmap?: Uint8Array;
  /** These ids are never returned (e.g. recent purchases). */
  denyIds?: Ids;
  /** OpenMP threads for this call; 1 (the default) when concurrency comes from parallel calls. */
  threads?: number;
  /**
   * Post-filter of the k results: an id whose byte here is not 1 (or that is
   * past the end) is dropped, the rest move up in order and -1 fills the end,
   * so fewer than k may remain. Read in place during the search, which may run
   * on another thread: if the caller changes it meanwhile, it must check the
   * results again itself (LiveCatalog counts its changes for this).
   */
  alive?: Uint8Array;
  /**
   * IVF with half-precision codes (IVF<n>,SQfp16): a two-pass search. The
   * lists are scanned on 8-bit copies of their codes (built at the first
   * such search), the best ceil(refine * k) by that approximate score are
   * re-scored from the index's own codes and the best k of them returned,
   * with their half-precision scores. Faster; may miss items the one-pass
   * search returns (measure recall). 0 or absent: one pass; else in
   * [1, 64], fractions allowed (1.5: 1.5 k candidates). Other indexes
   * ignore it.
   */
  refine?: number;
  /** Drops repeated ids (the best stays), like `alive` after the search: an HNSW index keeps an updated item's old vector. */
  unique?: boolean;
}

export interface SearchResult {
  /** nq * k ids, best first per query; -1n where fewer than k matched. */
  ids: BigInt64Array;
  /** nq * k scores: inner product (higher is better) or squared L2 (lower is better). */
  distances: Float32Array;
  nq: number;
  k: number;
}

const MAX_K = 1 << 20;

/** SearchOptions.refine: 0 (one pass) or a finite number in [1, 64]. */
export function checkRefine(name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v === 0 || (v >= 1 && v <= 64))) throw new NativeInputError(`${name} must be 0 or a number in [1, 64], got ${String(v)}`);
  return v;
}

export class VectorIndex {
  private constructor(private readonly raw: RawVectorIndex) {}

  /** Creates an empty index from a FAISS factory string. */
  static create(dim: number, factory: string, metric: Metric = 'ip'): VectorIndex {
    checkInt('dim', dim, 1, 65536);
    if (typeof factory !== 'string' || factory.length === 0) throw new NativeInputError('factory must be a non-empty string');
    if (metric !== 'ip' && metric !== 'l2') throw new NativeInputError(`metric must be 'ip' or 'l2', got ${String(metric)}`);
    return new VectorIndex(new native.VectorIndex(dim, factory, metric));
  }

  /** Reads an index file written by write() or by FAISS itself. */
  static async read(path: string): Promise<VectorIndex> {
    if (typeof path !== 'string' || path.length === 0) throw new NativeInputError('path must be a non-empty string');
    return new VectorIndex(await native.VectorIndex.read(path));
  }

  get dim(): number {
    return this.raw.dim;
  }
  get ntotal(): number {
    return this.raw.ntotal;
  }
  get isTrained(): boolean {
    return this.raw.isTrained;
  }
  get metric(): Metric {
    return this.raw.metric;
  }
  /** 'flat' | 'hnsw' | 'ivf' | 'ivf-flat-simd' | 'ivf-sq-simd' | 'other'. */
  get kind(): string {
    return this.raw.kind;
  }

  /** Trains IVF/PQ indexes on a sample (no-op for Flat and HNSW). */
  async train(x: Float32Array, threads = 1): Promise<void> {
    checkF32('x', x);
    checkMultiple('x', x.length, this.dim);
    checkInt('threads', threads, 1, 256);
    // NaN/Inf are rejected by the native side, off the event loop.
    await this.raw.train(x, threads);
  }

  /** Adds n = ids.length vectors (x is n * dim floats). The caller must not modify x until this settles. */
  async add(x: Float32Array, ids: Ids, threads = 1): Promise<void> {
    checkF32('x', x);
    const ids64 = toIds('ids', ids);
    if (x.length !== ids64.length * this.dim) {
      throw new NativeInputError(`x has ${x.length} floats, expected ids.length * dim = ${ids64.length * this.dim}`);
    }
    checkInt('threads', threads, 1, 256);
    await this.raw.add(x, ids64, threads);
  }

  /** Removes the given ids; resolves to how many were present. Not supported by HNSW. */
  async remove(ids: Ids): Promise<number> {
    return this.raw.remove(toIds('ids', ids));
  }

  /** A value per query, each in [lo, hi]. */
  private perQuery(name: string, v: Int32Array, nq: number, lo: number, hi: number): Int32Array {
    if (v.length !== nq) throw new NativeInputError(`${name} must hold one value per query (${nq}), got ${v.length}`);
    for (const x of v) if (!(x >= lo && x <= hi)) throw new NativeInputError(`${name} values must be in [${lo}, ${hi}], got ${x}`);
    return v;
  }

  /** The checked arguments of the native search, in its order. */
  private searchArgs(queries: Float32Array, opts: SearchOptions): RawSearchArgs {
    checkF32('queries', queries);
    checkMultiple('queries', queries.length, this.dim);
    checkFinite('queries', queries);
    const k = opts.k instanceof Int32Array ? this.perQuery('k', opts.k, queries.length / this.dim, 0, MAX_K) : checkInt('k', opts.k, 0, MAX_K);
    const ef = opts.efSearch === undefined ? null : checkInt('efSearch', opts.efSearch, 1, MAX_K);
    const nprobe = opts.nprobe === undefined ? null : opts.nprobe instanceof Int32Array ? this.perQuery('nprobe', opts.nprobe, queries.length / this.dim, 1, 1 << 24) : checkInt('nprobe', opts.nprobe, 1, 1 << 24);
    const allow = opts.allowIds === undefined ? null : toIds('allowIds', opts.allowIds);
    const deny = opts.denyIds === undefined ? null : toIds('denyIds', opts.denyIds);
    if (opts.allowBitmap !== undefined && !(opts.allowBitmap instanceof Uint8Array)) {
      throw new NativeInputError('allowBitmap must be a Uint8Array');
    }
    const threads = checkInt('threads', opts.threads ?? 1, 1, 256);
    if (opts.alive !== undefined && !(opts.alive instanceof Uint8Array)) throw new NativeInputError('alive must be a Uint8Array');
    if (opts.unique !== undefined && typeof opts.unique !== 'boolean') throw new NativeInputError('unique must be a boolean');
    const refine = opts.refine === undefined ? null : checkRefine('refine', opts.refine);
    return [queries, k, ef, nprobe, allow, deny, opts.allowBitmap ?? null, threads, opts.alive ?? null, opts.unique ?? false, refine];
  }

  /** Top-k search for one or many queries (queries is nq * dim floats), on a libuv thread. */
  async search(queries: Float32Array, opts: SearchOptions): Promise<SearchResult> {
    return this.raw.search(...this.searchArgs(queries, opts));
  }

  /**
   * The same search on the calling thread: for scans small enough that a
   * thread hop costs more than the search itself (keep it well under a
   * millisecond: it blocks the event loop). Returns null without searching
   * while a train/add/remove holds the index; use search() then.
   */
  searchSync(queries: Float32Array, opts: SearchOptions): SearchResult | null {
    return this.raw.searchSync(...this.searchArgs(queries, opts));
  }

  async write(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw new NativeInputError('path must be a non-empty string');
    await this.raw.write(path);
  }
}
