// Exact (brute-force) k-nearest-neighbour search in plain TypeScript: the
// reference for VectorIndex and the no-addon baseline. Float64 distances.

export interface BruteForceFilter {
  /** Only these ids may be returned. */
  allow?: Set<bigint>;
  /** These ids are never returned. */
  deny?: Set<bigint>;
  /** Only ids whose bit is set (bit id % 8 of byte id / 8) may be returned; ids past the end are excluded. */
  bitmap?: Uint8Array;
}

export interface BruteForceResult {
  /** nq * k ids, best first per query; -1n where fewer than k matched. */
  ids: BigInt64Array;
  /** nq * k inner products (descending) or squared L2 distances (ascending). */
  distances: Float32Array;
  nq: number;
  k: number;
}

/** What FAISS leaves in unfilled result slots: the worst float for the metric. */
const FLT_MAX = 3.4028234663852886e38;

function allowed(id: bigint, f: BruteForceFilter | undefined): boolean {
  if (f === undefined) return true;
  if (f.allow !== undefined && !f.allow.has(id)) return false;
  if (f.deny !== undefined && f.deny.has(id)) return false;
  if (f.bitmap !== undefined) {
    if (id < 0n || id >> 3n >= BigInt(f.bitmap.length)) return false;
    if (((f.bitmap[Number(id >> 3n)] >> Number(id & 7n)) & 1) === 0) return false;
  }
  return true;
}

/**
 * Top-k over all n = ids.length rows of `base` for each of the nq =
 * queries.length / dim queries. Ties keep the lower row first.
 */
export function bruteForceSearch(
  base: Float32Array,
  ids: BigInt64Array,
  dim: number,
  queries: Float32Array,
  k: number,
  metric: 'ip' | 'l2',
  filter?: BruteForceFilter,
): BruteForceResult {
  const n = ids.length;
  if (base.length !== n * dim) throw new RangeError('base must hold ids.length * dim floats');
  if (queries.length % dim !== 0) throw new RangeError('queries length must be a multiple of dim');
  const nq = queries.length / dim;
  const ip = metric === 'ip';
  const outIds = new BigInt64Array(nq * k).fill(-1n);
  const outDist = new Float32Array(nq * k).fill(ip ? -FLT_MAX : FLT_MAX);

  // Rows that pass the filter, computed once for all queries.
  const rows: number[] = [];
  for (let r = 0; r < n; r++) if (allowed(ids[r], filter)) rows.push(r);

  // Per query: a bounded heap of (score, row) whose root is the worst kept,
  // with scores negated for L2 so that larger is always better.
  const hs = new Float64Array(k);
  const hr = new Int32Array(k);
  const worse = (a: number, b: number) => hs[a] < hs[b] || (hs[a] === hs[b] && hr[a] > hr[b]);
  const swap = (a: number, b: number) => {
    const s = hs[a];
    hs[a] = hs[b];
    hs[b] = s;
    const r = hr[a];
    hr[a] = hr[b];
    hr[b] = r;
  };
  /** Restores the heap below the root, over its first `size` entries. */
  const siftDown = (size: number) => {
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      let w = i;
      if (l < size && worse(l, w)) w = l;
      if (l + 1 < size && worse(l + 1, w)) w = l + 1;
      if (w === i) return;
      swap(i, w);
      i = w;
    }
  };
  for (let q = 0; q < nq && k > 0; q++) {
    const qo = q * dim;
    let size = 0;
    for (const r of rows) {
      const ro = r * dim;
      let s = 0;
      if (ip) {
        for (let j = 0; j < dim; j++) s += queries[qo + j] * base[ro + j];
      } else {
        for (let j = 0; j < dim; j++) {
          const t = queries[qo + j] - base[ro + j];
          s -= t * t;
        }
      }
      if (size < k) {
        let i = size++;
        hs[i] = s;
        hr[i] = r;
        while (i > 0) {
          const p = (i - 1) >> 1;
          if (!worse(i, p)) break;
          swap(i, p);
          i = p;
        }
      } else if (s > hs[0]) {
        hs[0] = s;
        hr[0] = r;
        siftDown(size);
      }
    }
    // Pop the heap from worst to best into the tail of this query's slots.
    for (let end = size - 1; end >= 0; end--) {
      outIds[q * k + end] = ids[hr[0]];
      outDist[q * k + end] = ip ? hs[0] : -hs[0];
      swap(0, end);
      size = end;
      siftDown(size);
    }
  }
  return { ids: outIds, distances: outDist, nq, k };
}
