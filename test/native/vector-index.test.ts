// FAISS VectorIndex: exact indexes vs brute force (64-bit ids, filters),
// approximate ones for recall, index files, removal, concurrency, the event
// loop staying free during a long search, and input checks.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../../src/native/binding';
import { Metric, SearchOptions, SearchResult, VectorIndex } from '../../src/native/vector-index';
import { BruteForceFilter, BruteForceResult, bruteForceSearch } from '../oracles/search';
import { mulberry32, normalArray, permutation, randomIds, Rng, uniformArray } from '../oracles/random';

const DIM = 32;
const N = 3000;

interface Data {
  base: Float32Array;
  ids: BigInt64Array;
  /** Row of each id in `base`. */
  row: Map<bigint, number>;
}

function makeData(rng: Rng, n: number, ids: BigInt64Array): Data {
  const row = new Map<bigint, number>();
  ids.forEach((id, i) => row.set(id, i));
  return { base: normalArray(rng, n * DIM), ids, row };
}

function exactDistance(d: Data, queries: Float32Array, q: number, id: bigint, metric: Metric): number {
  const r = d.row.get(id);
  assert.ok(r !== undefined, `returned id ${id} was never added`);
  let s = 0;
  for (let j = 0; j < DIM; j++) {
    const a = queries[q * DIM + j];
    const b = d.base[r * DIM + j];
    s += metric === 'ip' ? a * b : (a - b) * (a - b);
  }
  return s;
}

/**
 * Same results as brute force: equal distances per slot, equal ids except
 * where two candidates are tied within float tolerance (then the returned id's
 * exact distance must match that slot), and -1n padding in the same slots.
 */
function assertSameAsExact(got: SearchResult, want: BruteForceResult, d: Data, queries: Float32Array, metric: Metric, what: string): void {
  assert.equal(got.nq, want.nq, `${what}: nq`);
  assert.equal(got.k, want.k, `${what}: k`);
  assert.equal(got.ids.length, want.ids.length, `${what}: ids length`);
  const tol = (x: number) => 2e-4 + 2e-5 * Math.abs(x);
  for (let q = 0; q < want.nq; q++) {
    const seen = new Set<bigint>();
    for (let j = 0; j < want.k; j++) {
      const s = q * want.k + j;
      const at = `${what}: query ${q} slot ${j}`;
      if (want.ids[s] === -1n) {
        assert.equal(got.ids[s], -1n, `${at}: expected padding`);
        continue;
      }
      assert.notEqual(got.ids[s], -1n, `${at}: missing result (expected ${want.ids[s]})`);
      assert.ok(!seen.has(got.ids[s]), `${at}: id ${got.ids[s]} returned twice`);
      seen.add(got.ids[s]);
      const wd = want.distances[s];
      assert.ok(Math.abs(got.distances[s] - wd) <= tol(wd), `${at}: distance ${got.distances[s]} vs ${wd}`);
      if (got.ids[s] !== want.ids[s]) {
        const ed = exactDistance(d, queries, q, got.ids[s], metric);
        assert.ok(Math.abs(ed - wd) <= tol(wd), `${at}: id ${got.ids[s]} (distance ${ed}) instead of ${want.ids[s]} (${wd})`);
      }
    }
  }
}

/** Random subset of the ids, about `fraction` of them. */
function subset(rng: Rng, ids: BigInt64Array, fraction: number): BigInt64Array {
  return ids.filter(() => rng() < fraction);
}

function bitmapToSet(bitmap: Uint8Array): Set<bigint> {
  const s = new Set<bigint>();
  for (let i = 0; i < bitmap.length * 8; i++) if ((bitmap[i >> 3] >> (i & 7)) & 1) s.add(BigInt(i));
  return s;
}

const tmpFiles: string[] = [];
function tmpPath(name: string): string {
  const p = path.join(os.tmpdir(), `ranking-test-${process.pid}-${Date.now()}-${tmpFiles.length}-${name}.faiss`);
  tmpFiles.push(p);
  return p;
}

describe('native VectorIndex (FAISS)', function () {
  this.timeout(30000);
  after(() => {
    for (const f of tmpFiles) fs.rmSync(f, { force: true });
  });

  const rng = mulberry32(41);
  // Non-sequential 64-bit ids, mostly above 2^53, plus a few small and negative-free edge values.
  const bigIds = randomIds(rng, N);
  bigIds[0] = 0n;
  bigIds[1] = (1n << 63n) - 1n;
  bigIds[2] = (1n << 53n) + 1n;
  const data = makeData(rng, N, bigIds);
  // Small scattered ids for bitmap filters: a random N-subset of [0, 4N).
  const smallIds = BigInt64Array.from(permutation(rng, 4 * N).slice(0, N), (x) => BigInt(x));
  const smallData: Data = { base: data.base, ids: smallIds, row: new Map(Array.from(smallIds, (id, i) => [id, i])) };
  const queries = normalArray(rng, 25 * DIM); // >= 20 queries: FAISS's BLAS path
  const fewQueries = normalArray(rng, 3 * DIM); // its per-query path

  const filtersFor = (d: Data, r: Rng): { name: string; opts: Partial<SearchOptions>; ref: BruteForceFilter | undefined }[] => {
    const allow = subset(r, d.ids, 0.1);
    const deny = subset(r, d.ids, 0.3);
    return [
      { name: 'no filter', opts: {}, ref: undefined },
      { name: 'allowIds', opts: { allowIds: allow }, ref: { allow: new Set(allow) } },
      { name: 'allowIds as a bigint[]', opts: { allowIds: Array.from(allow) }, ref: { allow: new Set(allow) } },
      { name: 'denyIds', opts: { denyIds: deny }, ref: { deny: new Set(deny) } },
      { name: 'allowIds + denyIds', opts: { allowIds: allow, denyIds: deny }, ref: { allow: new Set(allow), deny: new Set(deny) } },
      { name: 'four allowed ids (fewer than k)', opts: { allowIds: allow.slice(0, 4) }, ref: { allow: new Set(allow.slice(0, 4)) } },
    ];
  };

  for (const metric of ['ip', 'l2'] as const) {
    describe(`Flat, ${metric}`, () => {
      let index: VectorIndex;
      let small: VectorIndex;
      before(async () => {
        index = VectorIndex.create(DIM, 'Flat', metric);
        await index.add(data.base, data.ids);
        small = VectorIndex.create(DIM, 'Flat', metric);
        await small.add(smallData.base, Array.from(smallIds, Number)); // plain numbers work too
      });

      it('reports its shape', () => {
        assert.equal(index.dim, DIM);
        assert.equal(index.ntotal, N);
        assert.equal(index.metric, metric);
        assert.equal(index.kind, 'flat');
        assert.equal(index.isTrained, true);
      });

      for (const f of filtersFor(data, mulberry32(metric === 'ip' ? 42 : 43))) {
        it(`equals brute force with ${f.name} (ids above 2^53)`, async () => {
          for (const [qs, k] of [[queries, 10], [fewQueries, 10], [fewQueries, 1]] as const) {
            const got = await index.search(qs, { k, ...f.opts });
            assertSameAsExact(got, bruteForceSearch(data.base, data.ids, DIM, qs, k, metric, f.ref), data, qs, metric, f.name);
            const sync = index.searchSync(qs, { k, ...f.opts });
            assert.ok(sync !== null, 'no writer holds the index');
            assert.deepEqual(Array.from(sync.ids), Array.from(got.ids), `searchSync ids, ${f.name}`);
            assert.deepEqual(Array.from(sync.distances), Array.from(got.distances), `searchSync distances, ${f.name}`);
          }
        });
      }

      it('equals brute force with allowBitmap, alone and with the id lists', async () => {
        const r = mulberry32(44);
        // Shorter than the id range on purpose: ids past its end are excluded.
        const bitmap = Uint8Array.from({ length: (3 * N) / 8 }, () => Math.floor(r() * 256) & Math.floor(r() * 256));
        const allow = subset(r, smallIds, 0.5);
        const deny = subset(r, smallIds, 0.2);
        const cases: [Partial<SearchOptions>, BruteForceFilter][] = [
          [{ allowBitmap: bitmap }, { bitmap }],
          [{ allowBitmap: bitmap, allowIds: allow }, { bitmap, allow: new Set(allow) }],
          [{ allowBitmap: bitmap, allowIds: allow, denyIds: deny }, { bitmap, allow: new Set(allow), deny: new Set(deny) }],
        ];
        for (const [opts, ref] of cases) {
          const got = await small.search(queries, { k: 10, ...opts });
          assertSameAsExact(got, bruteForceSearch(smallData.base, smallIds, DIM, queries, 10, metric, ref), smallData, queries, metric, Object.keys(opts).join('+'));
          for (const id of got.ids) if (id !== -1n) assert.ok(bitmapToSet(bitmap).has(id), `id ${id} is not in the bitmap`);
        }
      });

      it('post-filters by alive bytes and repeated ids, moving the rest up and padding with -1n', async () => {
        const r = mulberry32(metric === 'ip' ? 45 : 46);
        // Shorter than the id range on purpose (ids past its end are dropped); a 2 counts as not alive.
        const alive = Uint8Array.from({ length: 3 * N }, () => (r() < 0.6 ? 1 : r() < 0.5 ? 0 : 2));
        const twice = VectorIndex.create(DIM, 'Flat', metric);
        await twice.add(smallData.base, smallIds);
        await twice.add(smallData.base.subarray(0, 40 * DIM), smallIds.subarray(0, 40)); // repeated ids
        const none = metric === 'ip' ? -3.4028234663852886e38 : 3.4028234663852886e38;
        for (const opts of [{ alive }, { unique: true }, { alive, unique: true }] as Partial<SearchOptions>[]) {
          for (const k of [1, 10, 60]) {
            const all = await twice.search(queries, { k });
            const got = await twice.search(queries, { k, ...opts });
            const sync = twice.searchSync(queries, { k, ...opts });
            assert.ok(sync !== null);
            assert.deepEqual(Array.from(sync.ids), Array.from(got.ids));
            assert.deepEqual(Array.from(sync.distances), Array.from(got.distances));
            for (let q = 0; q < 25; q++) {
              const ids: bigint[] = [];
              const dist: number[] = [];
              for (let i = q * k; i < (q + 1) * k; i++) {
                const id = all.ids[i];
                if (id < 0n) break;
                if (opts.alive && !(id < BigInt(alive.length) && alive[Number(id)] === 1)) continue;
                if (opts.unique && ids.includes(id)) continue;
                ids.push(id);
                dist.push(all.distances[i]);
              }
              while (ids.length < k) {
                ids.push(-1n);
                dist.push(none);
              }
              const what = `${Object.keys(opts).join('+')}, k ${k}, query ${q}`;
              assert.deepEqual(Array.from(got.ids.subarray(q * k, (q + 1) * k)), ids, what);
              assert.deepEqual(Array.from(got.distances.subarray(q * k, (q + 1) * k)), dist, what);
            }
          }
        }
        assert.throws(() => twice.searchSync(queries, { k: 1, alive: [1] as unknown as Uint8Array }), /alive must be a Uint8Array/);
        assert.throws(() => twice.searchSync(queries, { k: 1, unique: 1 as unknown as boolean }), /unique must be a boolean/);
      });

      it('returns only -1n when the filter excludes everything', async () => {
        for (const opts of [{ allowIds: [] }, { denyIds: data.ids }, { allowIds: [12345n, 67890n] }, { allowBitmap: new Uint8Array(0) }] as Partial<SearchOptions>[]) {
          const r = await index.search(fewQueries, { k: 5, ...opts });
          assert.deepEqual(Array.from(r.ids), new Array(15).fill(-1n), JSON.stringify(Object.keys(opts)));
        }
      });

      it('pads with -1n past ntotal and handles k = 0 and no queries', async () => {
        const tiny = VectorIndex.create(DIM, 'Flat', metric);
        await tiny.add(data.base.subarray(0, 3 * DIM), data.ids.subarray(0, 3));
        const r = await tiny.search(fewQueries, { k: 5 });
        assertSameAsExact(r, bruteForceSearch(data.base.subarray(0, 3 * DIM), data.ids.subarray(0, 3), DIM, fewQueries, 5, metric), data, fewQueries, metric, 'k > ntotal');
        const none = await index.search(fewQueries, { k: 0 });
        assert.equal(none.ids.length, 0);
        const noQ = await index.search(new Float32Array(0), { k: 5 });
        assert.equal(noQ.nq, 0);
        assert.equal(noQ.ids.length, 0);
        const empty = await VectorIndex.create(DIM, 'Flat', metric).search(fewQueries, { k: 2 });
        assert.deepEqual(Array.from(empty.ids), new Array(6).fill(-1n));
      });
    });
  }

  describe('IVF', () => {
    for (const metric of ['ip', 'l2'] as const) {
      it(`IVF16,Flat with nprobe = nlist equals exact search (${metric}, with filters)`, async () => {
        const index = VectorIndex.create(DIM, 'IVF16,Flat', metric);
        assert.equal(index.isTrained, false);
        await index.train(data.base);
        assert.equal(index.isTrained, true);
        await index.add(data.base, data.ids);
        assert.equal(index.kind, 'ivf-flat-simd');
        for (const f of filtersFor(data, mulberry32(45))) {
          // k >= 64 takes the collecting top-k path (ivf_simd.cc); k = 64 over
          // 3000 vectors also compacts its buffer (1024 entries) on the way.
          for (const [nprobe, k] of [[16, 10], [1000, 10], [16, 64], [16, 200]]) {
            const got = await index.search(queries, { k, nprobe, ...f.opts });
            assertSameAsExact(got, bruteForceSearch(data.base, data.ids, DIM, queries, k, metric, f.ref), data, queries, metric, `${f.name}, nprobe ${nprobe}, k ${k}`);
          }
        }
        // Native ids: a bitmap addresses them directly.
        const small = VectorIndex.create(DIM, 'IVF16,Flat', metric);
        await small.train(data.base);
        await small.add(smallData.base, smallIds);
        const bitmap = Uint8Array.from({ length: (4 * N) / 8 }, (_, i) => (i % 3 === 0 ? 0xff : 0x5a));
        const got = await small.search(queries, { k: 10, nprobe: 16, allowBitmap: bitmap });
        assertSameAsExact(got, bruteForceSearch(smallData.base, smallIds, DIM, queries, 10, metric, { bitmap }), smallData, queries, metric, 'bitmap');
      });

      it(`IVF16,Flat one query at a time equals several queries in one call, ${metric}`, async () => {
        const index = VectorIndex.create(DIM, 'IVF16,Flat', metric);
        await index.train(data.base);
        await index.add(data.base, data.ids);
        const nq = queries.length / DIM;
        for (const f of filtersFor(data, mulberry32(46))) {
          for (const [nprobe, k] of [[1, 10], [4, 10], [4, 200], [16, 64], [99, 10]]) {
            const batch = await index.search(queries, { k, nprobe, ...f.opts });
            for (let q = 0; q < nq; q++) {
              const one = queries.subarray(q * DIM, (q + 1) * DIM);
              const single = q % 2 === 0 ? await index.search(one, { k, nprobe, ...f.opts }) : index.searchSync(one, { k, nprobe, ...f.opts })!;
              const label = `${f.name}, nprobe ${nprobe}, k ${k}, query ${q}`;
              assert.deepEqual(Array.from(single.ids), Array.from(batch.ids.subarray(q * k, (q + 1) * k)), label);
              for (let j = 0; j < k; j++) {
                const [a, b] = [single.distances[j], batch.distances[q * k + j]];
                assert.ok(a === b || Math.abs(a - b) <= 1e-4 * (1 + Math.abs(b)), `${label}: distance ${j} ${a} vs ${b}`); // padding: equal infinities
              }
            }
          }
        }
        // nprobe = nlist, one query at a time: exact.
        const one = queries.subarray(0, DIM);
        assertSameAsExact(index.searchSync(one, { k: 50, nprobe: 16 })!, bruteForceSearch(data.base, data.ids, DIM, one, 50, metric), data, one, metric, 'single, nprobe = nlist');
      });

      it(`IVF16,Flat with a k and an nprobe per query equals each query searched alone, ${metric}`, async () => {
        const index = VectorIndex.create(DIM, 'IVF16,Flat', metric);
        await index.train(data.base);
        await index.add(data.base, data.ids);
        const ks = Int32Array.of(30, 5, 0);
        const nprobes = Int32Array.of(8, 1, 3);
        for (const f of filtersFor(data, mulberry32(47))) {
          const both = index.searchSync(fewQueries, { k: ks, nprobe: nprobes, unique: true, ...f.opts })!;
          const fixedK = await index.search(fewQueries, { k: 12, nprobe: nprobes, ...f.opts });
          assert.equal(both.k, 30, 'rows as long as the largest k');
          for (let q = 0; q < 3; q++) {
            const one = fewQueries.subarray(q * DIM, (q + 1) * DIM);
            const alone = index.searchSync(one, { k: ks[q], nprobe: nprobes[q], unique: true, ...f.opts })!;
            const row = Array.from(both.ids.subarray(q * 30, (q + 1) * 30));
            assert.deepEqual(row.slice(0, ks[q]), Array.from(alone.ids), `${f.name}, query ${q}`);
            assert.ok(row.slice(ks[q]).every((id) => id === -1n), `${f.name}, query ${q}: -1 past its k`);
            const alone12 = index.searchSync(one, { k: 12, nprobe: nprobes[q], ...f.opts })!;
            assert.deepEqual(Array.from(fixedK.ids.subarray(q * 12, (q + 1) * 12)), Array.from(alone12.ids), `${f.name}, query ${q}, k 12`);
          }
        }
        assert.throws(() => index.searchSync(fewQueries, { k: Int32Array.of(5, 5) }), /k must hold one value per query \(3\), got 2/);
        assert.throws(() => index.searchSync(fewQueries, { k: 5, nprobe: Int32Array.of(1, 0, 2) }), /nprobe values must be in \[1, 16777216\], got 0/);
      });

      // Scalar-quantizer codes are residuals of the list centroid ("IVF16,SQ..."
      // keeps FAISS's default, by_residual on); d = 20 exercises the one-row
      // tail of the 8-wide kernels, d = 32 the blocks.
      for (const [sq, dim] of [['SQfp16', 32], ['SQfp16', 20], ['SQ8', 32], ['SQ8', 20]] as const) {
        it(`IVF16,${sq} (d ${dim}) gives what FAISS's own scanner gives, ${metric}`, async function () {
          this.timeout(60_000);
          const rng = mulberry32(dim + (metric === 'ip' ? 1 : 2));
          const base = normalArray(rng, N * dim);
          const qs = normalArray(rng, 12 * dim);
          const index = VectorIndex.create(dim, `IVF16,${sq}`, metric);
          await index.train(base);
          await index.add(base, data.ids);
          assert.equal(index.kind, 'ivf-sq-simd');
          const file = tmpPath(`${sq}-${dim}-${metric}`);
          await index.write(file);
          const back = await VectorIndex.read(file);
          assert.equal(back.kind, 'ivf-sq-simd', 'read back with the SIMD scanner');
          const prev = process.env.RANK_FAISS_SCANNER;
          process.env.RANK_FAISS_SCANNER = 'faiss';
          let faiss: VectorIndex;
          try {
            faiss = await VectorIndex.read(file);
          } finally {
            if (prev === undefined) delete process.env.RANK_FAISS_SCANNER;
            else process.env.RANK_FAISS_SCANNER = prev;
          }
          assert.equal(faiss.kind, 'ivf', "FAISS's scanner as the reference");
          const nq = qs.length / dim;
          for (const f of filtersFor(data, mulberry32(48))) {
            for (const [nprobe, k] of [[1, 10], [4, 10], [4, 200], [16, 64], [99, 1]]) {
              const want = await faiss.search(qs, { k, nprobe, ...f.opts });
              const batch = await back.search(qs, { k, nprobe, ...f.opts });
              for (let q = 0; q < nq; q++) {
                const one = qs.subarray(q * dim, (q + 1) * dim);
                const single = q % 2 === 0 ? await back.search(one, { k, nprobe, ...f.opts }) : back.searchSync(one, { k, nprobe, ...f.opts })!;
                for (const [got, off, how] of [[batch, q * k, 'batch'], [single, 0, 'single']] as const) {
                  const label = `${f.name}, nprobe ${nprobe}, k ${k}, query ${q}, ${how}`;
                  assert.deepEqual(Array.from(got.ids.subarray(off, off + k)), Array.from(want.ids.subarray(q * k, (q + 1) * k)), label);
                  for (let j = 0; j < k; j++) {
                    const [a, b] = [got.distances[off + j], want.distances[q * k + j]];
                    assert.ok(a === b || Math.abs(a - b) <= 1e-4 * (1 + Math.abs(b)), `${label}: distance ${j} ${a} vs ${b}`);
                  }
                }
              }
            }
          }
          // Every list: nearly exact against the float vectors (code rounding only).
          const exact = bruteForceSearch(base, data.ids, dim, qs, 50, metric);
          const got = await back.search(qs, { k: 50, nprobe: 16 });
          let hits = 0;
          for (let q = 0; q < nq; q++) {
            const truth = new Set(exact.ids.subarray(q * 50, (q + 1) * 50));
            for (const id of got.ids.subarray(q * 50, (q + 1) * 50)) if (truth.has(id)) hits++;
          }
          assert.ok(hits / (50 * nq) >= (sq === 'SQ8' ? 0.9 : 0.98), `recall@50 at nprobe = nlist: ${hits / (50 * nq)}`);
        });
      }
    }
  });

  describe('HNSW', () => {
    it('reaches recall@10 >= 0.9 with a high efSearch, and filters are honoured', async () => {
      const index = VectorIndex.create(DIM, 'HNSW32,Flat', 'l2');
      await index.add(data.base, data.ids);
      assert.equal(index.kind, 'hnsw');
      const got = await index.search(queries, { k: 10, efSearch: 128 });
      const want = bruteForceSearch(data.base, data.ids, DIM, queries, 10, 'l2');
      let hits = 0;
      for (let q = 0; q < 25; q++) {
        const truth = new Set(want.ids.subarray(q * 10, q * 10 + 10));
        for (const id of got.ids.subarray(q * 10, q * 10 + 10)) if (truth.has(id)) hits++;
      }
      assert.ok(hits / 250 >= 0.9, `recall@10 = ${hits / 250}`);
      const deny = new Set(subset(mulberry32(46), data.ids, 0.5));
      const filtered = await index.search(queries, { k: 10, efSearch: 128, denyIds: Array.from(deny) });
      for (const id of filtered.ids) assert.ok(id === -1n || !deny.has(id), `denied id ${id} returned`);
      // efSearch below k is raised to k: a full list comes back.
      const wide = await index.search(fewQueries, { k: 50, efSearch: 1 });
      assert.ok(wide.ids.every((id) => id !== -1n), 'efSearch < k truncated the results');
    });

    it('remove() rejects with a message naming HNSW', async () => {
      const index = VectorIndex.create(DIM, 'HNSW16', 'ip');
      await index.add(data.base.subarray(0, 100 * DIM), data.ids.subarray(0, 100));
      await assert.rejects(index.remove([data.ids[5]]), /HNSW/);
      assert.equal(index.ntotal, 100);
    });
  });

  describe('index files', () => {
    const kinds: [string, string][] = [
      ['Flat', 'flat'],
      ['HNSW16,Flat', 'hnsw'],
      ['IVF16,Flat', 'ivf-flat-simd'],
      ['IVF16,SQ8', 'ivf-sq-simd'],
      // 8 sub-quantizers of 4 bits: 16 centroids each, which the 3000 rows train without FAISS's
      // too-few-points warning (8 bits would need 9984); np: no polysemous training (minutes of
      // simulated annealing on 2 cores).
      ['IVF16,PQ8x4np', 'ivf'],
    ];
    for (const [factory, kind] of kinds) {
      it(`write -> read gives identical results for ${factory}`, async () => {
        const index = VectorIndex.create(DIM, factory, 'l2');
        await index.train(data.base);
        await index.add(data.base, data.ids);
        const file = tmpPath(factory.replace(/,/g, '_'));
        await index.write(file);
        const back = await VectorIndex.read(file);
        assert.equal(back.kind, kind);
        assert.equal(back.dim, DIM);
        assert.equal(back.ntotal, N);
        assert.equal(back.metric, 'l2');
        const opts: SearchOptions = { k: 10, nprobe: 4, efSearch: 64 };
        for (const o of [opts, { ...opts, allowIds: subset(mulberry32(47), data.ids, 0.2) }]) {
          const a = await index.search(queries, o);
          const b = await back.search(queries, o);
          assert.deepEqual(b.ids, a.ids);
          assert.deepEqual(b.distances, a.distances);
        }
        fs.rmSync(file);
      });
    }

    it('a Flat index read back keeps its id map for remove()', async () => {
      const index = VectorIndex.create(DIM, 'Flat', 'ip');
      await index.add(data.base.subarray(0, 50 * DIM), data.ids.subarray(0, 50));
      const file = tmpPath('flat-remove');
      await index.write(file);
      const back = await VectorIndex.read(file);
      assert.equal(await back.remove([data.ids[3], data.ids[40]]), 2);
      const r = await back.search(fewQueries, { k: 50 });
      const ids = new Set(r.ids);
      assert.ok(!ids.has(data.ids[3]) && !ids.has(data.ids[40]));
      assert.ok(ids.has(data.ids[4]) && ids.has(data.ids[49]));
    });

    it('rejects missing and corrupt files', async () => {
      await assert.rejects(VectorIndex.read(path.join(os.tmpdir(), `no-such-index-${process.pid}.faiss`)), /could not open/);
      const junk = tmpPath('junk');
      fs.writeFileSync(junk, 'definitely not a faiss index');
      await assert.rejects(VectorIndex.read(junk), /faiss/);
      const index = VectorIndex.create(DIM, 'Flat', 'ip');
      await assert.rejects(index.write(path.join(os.tmpdir(), `no-such-dir-${process.pid}`, 'x.faiss')), /could not open/);
    });
  });

  describe('remove', () => {
    for (const factory of ['Flat', 'IVF16,Flat']) {
      it(`${factory}: removed ids never come back, the others still do`, async () => {
        const index = VectorIndex.create(DIM, factory, 'ip');
        await index.train(data.base);
        await index.add(data.base, data.ids);
        const r = mulberry32(48);
        const gone = subset(r, data.ids, 0.25);
        const absent = [123n, 456n, (1n << 62n) + 7n];
        const removed = await index.remove([...gone, ...absent]);
        assert.equal(removed, gone.length);
        assert.equal(index.ntotal, N - gone.length);
        assert.equal(await index.remove(absent), 0, 'ids not present');
        assert.equal(await index.remove(gone), 0, 'ids already removed');
        assert.equal(await index.remove([]), 0);

        const goneSet = new Set(gone);
        const keptIds = data.ids.filter((id) => !goneSet.has(id));
        const keptBase = new Float32Array(keptIds.length * DIM);
        keptIds.forEach((id, i) => keptBase.set(data.base.subarray(data.row.get(id)! * DIM, (data.row.get(id)! + 1) * DIM), i * DIM));
        const kept: Data = { base: keptBase, ids: keptIds, row: new Map(Array.from(keptIds, (id, i) => [id, i])) };
        // Everything that is left comes back, nothing removed does.
        const all = await index.search(fewQueries.subarray(0, DIM), { k: N, nprobe: 16 });
        const returned = new Set(all.ids);
        for (const id of gone) assert.ok(!returned.has(id), `removed id ${id} returned`);
        for (const id of keptIds) assert.ok(returned.has(id), `kept id ${id} missing`);
        const got = await index.search(queries, { k: 10, nprobe: 16 });
        assertSameAsExact(got, bruteForceSearch(kept.base, kept.ids, DIM, queries, 10, 'ip'), kept, queries, 'ip', 'after remove');
        // Ids can be added again after removal.
        await index.add(data.base.subarray(data.row.get(gone[0])! * DIM, (data.row.get(gone[0])! + 1) * DIM), [gone[0]]);
        const again = await index.search(data.base.subarray(data.row.get(gone[0])! * DIM, (data.row.get(gone[0])! + 1) * DIM), { k: N, nprobe: 16 });
        assert.ok(new Set(again.ids).has(gone[0]));
      });
    }
  });

  describe('concurrency and the event loop', () => {
    it('20 concurrent searches give the same results as sequential ones', async () => {
      const index = VectorIndex.create(DIM, 'IVF16,Flat', 'l2');
      await index.train(data.base);
      await index.add(data.base, data.ids);
      const r = mulberry32(49);
      const calls = Array.from({ length: 20 }, (_, i) => ({
        q: normalArray(r, (1 + (i % 5)) * DIM),
        opts: { k: 5 + i, nprobe: 1 + (i % 16), ...(i % 3 === 0 ? { denyIds: subset(r, data.ids, 0.2) } : {}) } as SearchOptions,
      }));
      const sequential: SearchResult[] = [];
      for (const c of calls) sequential.push(await index.search(c.q, c.opts));
      const concurrent = await Promise.all(calls.map((c) => index.search(c.q, c.opts)));
      assert.deepEqual(concurrent, sequential);
      const flat = VectorIndex.create(DIM, 'Flat', 'ip');
      await flat.add(data.base, data.ids);
      const seqFlat: SearchResult[] = [];
      for (const c of calls) seqFlat.push(await flat.search(c.q, { k: c.opts.k }));
      assert.deepEqual(await Promise.all(calls.map((c) => flat.search(c.q, { k: c.opts.k }))), seqFlat);
    });

    it('reading ntotal and isTrained while train() is in flight does not block the event loop', async () => {
      // IVF256 training on 30k x 32 takes a few hundred ms here.
      const index = VectorIndex.create(DIM, 'IVF256,Flat', 'l2');
      const x = uniformArray(mulberry32(52), 30000 * DIM);
      let done = false;
      const start = performance.now();
      const training = index.train(x).then(() => {
        done = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const t0 = performance.now();
      const ntotal = index.ntotal;
      const trained = index.isTrained;
      const blocked = performance.now() - t0;
      const readDuringTraining = !done;
      await training;
      const took = performance.now() - start;
      assert.equal(ntotal, 0);
      assert.equal(index.isTrained, true);
      void trained;
      assert.ok(readDuringTraining && took >= 100, `training too fast to tell (${took.toFixed(0)} ms)`);
      assert.ok(blocked < 50, `reading ntotal/isTrained blocked the JS thread for ${blocked.toFixed(0)} ms of a ${took.toFixed(0)} ms train()`);
    });

    it('a long search does not block the event loop', async function () {
      this.timeout(60000);
      const n = 200000;
      const d = 64;
      const big = VectorIndex.create(d, 'Flat', 'ip');
      const r = mulberry32(50);
      await big.add(uniformArray(r, n * d), BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 7919n));
      // Calibrate the query count so the measured search takes ~300 ms here.
      let nq = 64;
      const t0 = performance.now();
      await big.search(uniformArray(r, nq * d), { k: 100 });
      const perQuery = (performance.now() - t0) / nq;
      nq = Math.max(64, Math.min(8192, Math.ceil(300 / perQuery)));
      const q = uniformArray(r, nq * d);

      const period = 2;
      let last = performance.now();
      let maxGap = 0;
      let ticks = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
        ticks++;
      }, period);
      const start = performance.now();
      last = start;
      const res = await big.search(q, { k: 100 });
      const took = performance.now() - start;
      clearInterval(timer);
      maxGap = Math.max(maxGap, performance.now() - last);
      assert.equal(res.ids.length, nq * 100);
      assert.ok(took >= 150, `search took only ${took.toFixed(0)} ms with ${nq} queries`);
      // A search on the event loop would allow no tick at all and one gap as
      // long as the search. Relative bounds keep this robust on a loaded machine.
      assert.ok(ticks >= 5 && maxGap < took / 2, `${ticks} timer ticks, longest gap ${maxGap.toFixed(1)} ms during a ${took.toFixed(0)} ms search`);
    });
  });

  describe('wrapper input checks', () => {
    let index: VectorIndex;
    let ivf: VectorIndex;
    before(async () => {
      index = VectorIndex.create(8, 'Flat', 'ip');
      await index.add(normalArray(mulberry32(51), 80), Array.from({ length: 10 }, (_, i) => i * 3));
      ivf = VectorIndex.create(8, 'IVF4,Flat', 'l2');
    });
    const q = new Float32Array(8);

    it('create() names the bad argument', () => {
      assert.throws(() => VectorIndex.create(0, 'Flat'), /dim must be an integer/);
      assert.throws(() => VectorIndex.create(8.5, 'Flat'), /dim must be an integer/);
      assert.throws(() => VectorIndex.create(70000, 'Flat'), /dim must be an integer/);
      assert.throws(() => VectorIndex.create(8, ''), /factory must be a non-empty string/);
      assert.throws(() => VectorIndex.create(8, 5 as unknown as string), /factory must be a non-empty string/);
      assert.throws(() => VectorIndex.create(8, 'Flat', 'cosine' as Metric), /metric must be 'ip' or 'l2', got cosine/);
      assert.throws(() => VectorIndex.create(8, 'Nonsense'), /invalid index factory 'Nonsense'/);
      assert.throws(() => VectorIndex.create(8, 'PQ3'), /invalid index factory 'PQ3'/);
      assert.throws(() => VectorIndex.create(8, 'IVF4,Flat,Bogus'), /invalid index factory/);
    });

    it('train() and add() reject bad vectors and ids', async () => {
      await assert.rejects(index.train([1, 2] as unknown as Float32Array), /x must be a Float32Array/);
      await assert.rejects(index.train(new Float32Array(10)), /x length 10 is not a multiple of dim 8/);
      await assert.rejects(index.train(new Float32Array(8), 0), /threads must be an integer/);
      await assert.rejects(ivf.train(new Float32Array(80).fill(NaN)), /NaN/);
      await assert.rejects(ivf.train(new Float32Array(16)), /training points|faiss/);
      await assert.rejects(ivf.add(new Float32Array(8), [1]), /not trained/);
      await assert.rejects(index.add(new Float64Array(8) as unknown as Float32Array, [1]), /x must be a Float32Array/);
      await assert.rejects(index.add(new Float32Array(16), [1, 2, 3]), /x has 16 floats, expected ids\.length \* dim = 24/);
      await assert.rejects(index.add(new Float32Array(8), [1.5]), /ids\[0\] must be an integer/);
      await assert.rejects(index.add(new Float32Array(8), [2 ** 60]), /ids\[0\] must be an integer/);
      await assert.rejects(index.add(new Float32Array(8), 'x' as unknown as bigint[]), /ids must be a BigInt64Array or an array of integers/);
      await assert.rejects(index.add(new Float32Array(8), [1], 1000), /threads must be an integer/);
      await assert.rejects(index.add(Float32Array.of(0, 0, 0, NaN, 0, 0, 0, 0), [99]), /x row 0 contains NaN/);
      await assert.rejects(index.add(Float32Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, Infinity, 0, 0), [98, 99]), /x row 1 contains NaN or Inf/);
      assert.equal(index.ntotal, 10, 'nothing was added by the failed calls');
      await assert.rejects(index.remove([0.5]), /ids\[0\] must be an integer/);
    });

    it('search() rejects bad queries and options, naming them', async () => {
      await assert.rejects(index.search([0] as unknown as Float32Array, { k: 1 }), /queries must be a Float32Array/);
      await assert.rejects(index.search(new Float32Array(12), { k: 1 }), /queries length 12 is not a multiple of dim 8/);
      await assert.rejects(index.search(Float32Array.of(0, 0, 0, NaN, 0, 0, 0, 0), { k: 1 }), /queries\[3\] is not finite/);
      await assert.rejects(index.search(q, { k: -1 }), /k must be an integer/);
      await assert.rejects(index.search(q, { k: 2.5 }), /k must be an integer/);
      await assert.rejects(index.search(q, { k: (1 << 20) + 1 }), /k must be an integer/);
      await assert.rejects(index.search(q, {} as SearchOptions), /k must be an integer/);
      await assert.rejects(index.search(q, { k: 1, efSearch: 0 }), /efSearch must be an integer/);
      await assert.rejects(index.search(q, { k: 1, nprobe: -3 }), /nprobe must be an integer/);
      await assert.rejects(index.search(q, { k: 1, allowIds: [1.5] }), /allowIds\[0\] must be an integer/);
      await assert.rejects(index.search(q, { k: 1, denyIds: 'abc' as unknown as bigint[] }), /denyIds must be a BigInt64Array/);
      await assert.rejects(index.search(q, { k: 1, allowBitmap: new Int8Array(2) as unknown as Uint8Array }), /allowBitmap must be a Uint8Array/);
      await assert.rejects(index.search(q, { k: 1, threads: 0 }), /threads must be an integer/);
    });

    it('read() and write() reject empty paths', async () => {
      await assert.rejects(VectorIndex.read(''), /path must be a non-empty string/);
      await assert.rejects(index.write(''), /path must be a non-empty string/);
    });
  });

  describe('raw addon input checks (throw or reject, never crash)', () => {
    let raw: InstanceType<typeof native.VectorIndex>;
    before(async () => {
      raw = new native.VectorIndex(8, 'Flat', 'ip');
      await raw.add(new Float32Array(16), BigInt64Array.of(1n, 2n));
    });

    it('constructor', () => {
      assert.throws(() => new native.VectorIndex(8, 'Flat', 'cos' as 'ip'), /metric must be 'ip' or 'l2'/);
      assert.throws(() => new native.VectorIndex(0, 'Flat', 'ip'), /dim must be an integer/);
      assert.throws(() => new native.VectorIndex(8, 5 as unknown as string, 'ip'), /factory must be a string/);
      assert.throws(() => new native.VectorIndex(8, 'HNSW32,Bad', 'ip'), /invalid index factory/);
    });

    it('search with queries that are not a multiple of dim, or bad arguments', () => {
      assert.throws(() => raw.search(new Float32Array(7), 1, null, null, null, null, null, 1), /queries length must be a multiple of dim/);
      assert.throws(() => raw.searchSync(new Float32Array(7), 1, null, null, null, null, null, 1), /queries length must be a multiple of dim/);
      assert.throws(() => raw.searchSync(new Float32Array(8), -1, null, null, null, null, null, 1), /k must be an integer/);
      assert.throws(() => raw.search(new Float32Array(8), -1, null, null, null, null, null, 1), /k must be an integer/);
      assert.throws(() => raw.search(new Float32Array(8), 1, -5, null, null, null, null, 1), /efSearch must be an integer/);
      assert.throws(() => raw.search(new Float32Array(8), 1, null, null, new Int32Array(1) as unknown as BigInt64Array, null, null, 1), /allowIds must be a BigInt64Array/);
      assert.throws(() => raw.search(new Float32Array(8), 1, null, null, null, [1n] as unknown as BigInt64Array, null, 1), /denyIds must be a BigInt64Array/);
      assert.throws(() => raw.search(new Float32Array(8), 1, null, null, null, null, new Float32Array(1) as unknown as Uint8Array, 1), /allowBitmap must be a Uint8Array/);
      assert.throws(() => raw.search(new Float32Array(8), 1, null, null, null, null, null, 0), /threads must be an integer/);
      assert.throws(() => raw.search(new Float64Array(8) as unknown as Float32Array, 1, null, null, null, null, null, 1), /queries must be a Float32Array/);
    });

    it('add with NaN vectors rejects; add/train/remove/write with bad sizes or types throw', async () => {
      await assert.rejects(raw.add(Float32Array.of(NaN, 0, 0, 0, 0, 0, 0, 0), BigInt64Array.of(3n)), /NaN/);
      await assert.rejects(raw.train(new Float32Array(8).fill(NaN)), /NaN/);
      assert.throws(() => raw.add(new Float32Array(12), BigInt64Array.of(3n)), /x length must equal ids\.length \* dim/);
      assert.throws(() => raw.add(new Float32Array(8), [3n] as unknown as BigInt64Array), /ids must be a BigInt64Array/);
      assert.throws(() => raw.train(new Float32Array(9)), /x length must be a multiple of dim/);
      assert.throws(() => raw.remove(Int32Array.of(1) as unknown as BigInt64Array), /ids must be a BigInt64Array/);
      assert.throws(() => raw.write(5 as unknown as string), /path must be a string/);
      assert.throws(() => native.VectorIndex.read(undefined as unknown as string), /path must be a string/);
      assert.equal(raw.ntotal, 2);
    });

    it('a factory with zero inverted lists fails with a JS error instead of aborting the process', () => {
      // Run in a child process: an abort inside FAISS would take the test runner down with it.
      const script = `
        const { native } = require(${JSON.stringify(require.resolve('../../src/native/binding'))});
        (async () => {
          const x = new Float32Array(8 * 100).map((_, i) => Math.sin(i));
          const ids = BigInt64Array.from({ length: 100 }, (_, i) => BigInt(i));
          try {
            const ix = new native.VectorIndex(8, 'IVF0,Flat', 'ip');
            await ix.train(x);
            await ix.add(x, ids);
            await ix.search(x.subarray(0, 8), 3, null, null, null, null, null, 1);
            console.log('no error');
          } catch (e) {
            console.log('js error: ' + e.message);
          }
        })();`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 });
      assert.equal(r.signal, null, `child died with ${r.signal}: ${r.stderr.trim().split('\n').pop()}`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /js error: ./);
    });
  });
});
