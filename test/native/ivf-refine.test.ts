// The two-pass IVF search (SearchOptions.refine) of IVF<n>,SQfp16 indexes:
// an 8-bit first pass keeps refine * k candidates, re-scored from the fp16
// codes. Checked against the one-pass search of the same index (FAISS's
// arithmetic on the same codes) for IP and L2, every filter, k below and
// above the list sizes, one query and batches, and after add / remove.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { native } from '../../src/native/binding';
import { Metric, SearchOptions, SearchResult, VectorIndex } from '../../src/native/vector-index';
import { mulberry32, normalArray, Rng } from '../oracles/random';

const N = 3000; // 16 lists of ~190
const NLIST = 16;

const ids = BigInt64Array.from({ length: N }, (_, i) => BigInt(7 * i + 3)); // ids are not row numbers

function subset(r: Rng, all: BigInt64Array, share: number): BigInt64Array {
  return all.filter(() => r() < share);
}

interface Filter {
  name: string;
  opts: Partial<SearchOptions>;
  keeps: (id: bigint) => boolean;
}

function filters(r: Rng): Filter[] {
  const allow = subset(r, ids, 0.2);
  const allowSet = new Set(allow);
  const deny = subset(r, ids, 0.3);
  const denySet = new Set(deny);
  const bitmap = new Uint8Array(Math.ceil((7 * N + 3) / 8) + 1);
  for (const id of ids) if (r() < 0.5) bitmap[Number(id) >> 3] |= 1 << (Number(id) & 7);
  const inBitmap = (id: bigint): boolean => (bitmap[Number(id) >> 3] & (1 << (Number(id) & 7))) !== 0;
  const alive = new Uint8Array(7 * N + 3);
  for (const id of ids) alive[Number(id)] = r() < 0.7 ? 1 : 0;
  return [
    { name: 'no filter', opts: {}, keeps: () => true },
    { name: 'allowIds', opts: { allowIds: allow }, keeps: (id) => allowSet.has(id) },
    { name: 'denyIds', opts: { denyIds: deny }, keeps: (id) => !denySet.has(id) },
    { name: 'allowBitmap', opts: { allowBitmap: bitmap }, keeps: inBitmap },
    { name: 'allowBitmap + denyIds', opts: { allowBitmap: bitmap, denyIds: deny }, keeps: (id) => inBitmap(id) && !denySet.has(id) },
    { name: 'alive', opts: { alive }, keeps: (id) => alive[Number(id)] === 1 },
    { name: 'four allowed ids (fewer than k)', opts: { allowIds: allow.slice(0, 4) }, keeps: (id) => allow.slice(0, 4).includes(id) },
  ];
}

const better = (metric: Metric, a: number, b: number): boolean => (metric === 'ip' ? a > b : a < b);
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-4 * (1 + Math.abs(b));

/** Same ids slot by slot, except where two candidates tie within rounding; same padding. */
function assertSameResults(got: SearchResult, gotOff: number, want: SearchResult, wantOff: number, k: number, what: string): void {
  for (let j = 0; j < k; j++) {
    const [g, w] = [got.ids[gotOff + j], want.ids[wantOff + j]];
    const [gd, wd] = [got.distances[gotOff + j], want.distances[wantOff + j]];
    if (w === -1n) {
      assert.equal(g, -1n, `${what}: slot ${j} should be padding`);
      continue;
    }
    assert.ok(close(gd, wd), `${what}: slot ${j} distance ${gd} vs ${wd}`);
    if (g !== w) {
      // A tie: both ids must be in the wanted list near this slot.
      const near = Array.from(want.ids.subarray(wantOff + Math.max(0, j - 2), wantOff + Math.min(k, j + 3)));
      assert.ok(near.includes(g), `${what}: slot ${j} id ${g} vs ${w} (distances ${gd} vs ${wd})`);
    }
  }
}

describe('native VectorIndex: two-pass IVF SQfp16 search (refine)', function () {
  this.timeout(120_000);

  for (const metric of ['ip', 'l2'] as const) {
    for (const dim of [32, 20]) {
      describe(`IVF${NLIST},SQfp16, ${metric}, d ${dim}`, () => {
        let index: VectorIndex;
        let qs: Float32Array;
        let all: Map<bigint, number>; // every id's one-pass (fp16) score per query
        const nq = 8;

        before(async () => {
          const rng = mulberry32(dim * 10 + (metric === 'ip' ? 1 : 2));
          const base = normalArray(rng, N * dim);
          qs = normalArray(rng, nq * dim);
          index = VectorIndex.create(dim, `IVF${NLIST},SQfp16`, metric);
          await index.train(base);
          await index.add(base, ids);
          assert.equal(index.kind, 'ivf-sq-simd');
          all = new Map();
        });

        it('with refine * k >= every scanned code, equals the one-pass search (every filter, k < and > list sizes, batch and single)', async () => {
          for (const f of filters(mulberry32(dim + 5))) {
            for (const [nprobe, k] of [[4, 64], [16, 300], [2, 500]] as const) {
              const want = await index.search(qs, { k, nprobe, ...f.opts });
              const batch = await index.search(qs, { k, nprobe, refine: 64, ...f.opts });
              for (let q = 0; q < nq; q++) {
                const one = qs.subarray(q * dim, (q + 1) * dim);
                const single = index.searchSync(one, { k, nprobe, refine: 64, ...f.opts })!;
                const label = `${f.name}, nprobe ${nprobe}, k ${k}, query ${q}`;
                assertSameResults(batch, q * k, want, q * k, k, `${label}, batch`);
                assertSameResults(single, 0, want, q * k, k, `${label}, single`);
              }
            }
          }
        });

        it('returns the re-scored candidates in exact order: each score is the one-pass score of that id, best first, filters honoured', async () => {
          const k = 40;
          for (const f of filters(mulberry32(dim + 6))) {
            for (let q = 0; q < nq; q++) {
              const one = qs.subarray(q * dim, (q + 1) * dim);
              // Every id's fp16 score for this query: the one-pass search over every list, all of k.
              const every = index.searchSync(one, { k: N, nprobe: NLIST })!;
              all.clear();
              for (let j = 0; j < N; j++) all.set(every.ids[j], every.distances[j]);
              const got = index.searchSync(one, { k, nprobe: 6, refine: q % 2 === 0 ? 2 : 1.5, ...f.opts })!;
              const seen = new Set<bigint>();
              let n = 0;
              for (let j = 0; j < k; j++) {
                const id = got.ids[j];
                if (id === -1n) break;
                n++;
                const at = `${f.name}, query ${q}, slot ${j}`;
                assert.ok(f.keeps(id), `${at}: id ${id} is filtered out`);
                assert.ok(!seen.has(id), `${at}: id ${id} repeated`);
                seen.add(id);
                const s = all.get(id);
                assert.ok(s !== undefined, `${at}: id ${id} unknown`);
                assert.ok(close(got.distances[j], s), `${at}: score ${got.distances[j]} vs one-pass ${s}`);
                if (j > 0) assert.ok(!better(metric, got.distances[j], got.distances[j - 1]), `${at}: not best first`);
              }
              for (let j = n; j < k; j++) assert.equal(got.ids[j], -1n, `${f.name}, query ${q}: padding after the last result`);
              if (f.name === 'four allowed ids (fewer than k)') assert.ok(n <= 4);
              else if (f.name === 'alive') assert.ok(n > 0, `alive, query ${q}: some results`); // a post-filter of the k
              else assert.equal(n, k, `${f.name}, query ${q}: full result list`);
            }
          }
        });

        it('misses few of the one-pass results at refine 2 (recall@100 >= 0.95)', async () => {
          const k = 100;
          const want = await index.search(qs, { k, nprobe: 8 });
          const got = await index.search(qs, { k, nprobe: 8, refine: 2 });
          let hits = 0;
          for (let q = 0; q < nq; q++) {
            const truth = new Set(want.ids.subarray(q * k, (q + 1) * k));
            for (const id of got.ids.subarray(q * k, (q + 1) * k)) if (truth.has(id)) hits++;
          }
          assert.ok(hits / (k * nq) >= 0.95, `recall@${k} against the one-pass search: ${hits / (k * nq)}`);
        });
      });
    }
  }

  it('sees vectors added and removed after a refined search (the 8-bit copy is rebuilt)', async () => {
    const dim = 16;
    const rng = mulberry32(77);
    const base = normalArray(rng, N * dim);
    const index = VectorIndex.create(dim, `IVF${NLIST},SQfp16`, 'ip');
    await index.train(base);
    await index.add(base.subarray(0, 2000 * dim), ids.subarray(0, 2000));
    const q = normalArray(rng, dim);
    const k = 50;
    const check = async (what: string): Promise<SearchResult> => {
      const want = index.searchSync(q, { k, nprobe: NLIST })!;
      const got = index.searchSync(q, { k, nprobe: NLIST, refine: 64 })!;
      assertSameResults(got, 0, want, 0, k, what);
      return got;
    };
    await check('before add');
    // Strong new vectors: 3 x the query, sure to rank first.
    const strong = new Float32Array(1000 * dim);
    for (let i = 0; i < 1000; i++) for (let j = 0; j < dim; j++) strong[i * dim + j] = i < 10 ? 3 * q[j] : base[(2000 + i) * dim + j];
    await index.add(strong, ids.subarray(2000, 3000));
    const after = await check('after add');
    assert.ok(ids.subarray(2000, 2010).includes(after.ids[0]), `a new vector ranks first, got ${after.ids[0]}`);
    await index.remove(ids.subarray(2000, 2010));
    const removed = await check('after remove');
    for (const id of removed.ids) assert.ok(!ids.subarray(2000, 2010).includes(id), `removed id ${id} came back`);
  });

  it('gives the same results on every kernel level (AVX-512 VNNI, AVX2, scalar)', function () {
    const script = `
      const { VectorIndex } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'native', 'vector-index'))});
      const { mulberry32, normalArray } = require(${JSON.stringify(path.join(__dirname, '..', 'oracles', 'random'))});
      (async () => {
        const rng = mulberry32(5);
        const dim = 24, n = 3000;
        const base = normalArray(rng, n * dim);
        const out = [];
        for (const metric of ['ip', 'l2']) {
          const index = VectorIndex.create(dim, 'IVF16,SQfp16', metric);
          await index.train(base);
          await index.add(base, BigInt64Array.from({ length: n }, (_, i) => BigInt(i)));
          const qs = normalArray(rng, 4 * dim);
          // refine 1: the first pass alone decides which 30 are kept
          const r = await index.search(qs, { k: 30, nprobe: 5, refine: 1 });
          out.push(Array.from(r.ids, String).join(','));
        }
        process.stdout.write(JSON.stringify(out));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const run = (level: string | undefined): string => {
      const env = { ...process.env };
      if (level === undefined) delete env.RANK_BLOCKS_LEVEL;
      else env.RANK_BLOCKS_LEVEL = level;
      const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `child (${level ?? 'default'}) failed: ${r.stderr}`);
      return r.stdout;
    };
    const dflt = run(undefined);
    assert.equal(run('avx2'), dflt, 'AVX2 differs from the default level');
    assert.equal(run('scalar'), dflt, 'scalar differs from the default level');
  });

  it('rejects a bad refine, naming it (the wrapper and the raw addon)', async () => {
    const index = VectorIndex.create(8, 'Flat', 'ip');
    await index.add(normalArray(mulberry32(1), 80), BigInt64Array.from({ length: 10 }, (_, i) => BigInt(i)));
    const q = normalArray(mulberry32(2), 8);
    for (const bad of [-1, 0.5, 65, Number.NaN, Infinity]) assert.throws(() => index.searchSync(q, { k: 3, refine: bad }), /refine must be 0 or a number in \[1, 64\]/);
    const raw = new native.VectorIndex(8, 'Flat', 'ip');
    for (const bad of [-1, 0.5, 65, Number.NaN]) assert.throws(() => raw.searchSync(q, 3, null, null, null, null, null, 1, null, false, bad), /refine/);
    // Ignored by other index kinds.
    assert.deepEqual(index.searchSync(q, { k: 3, refine: 4 })!.ids, index.searchSync(q, { k: 3 })!.ids);
  });
});
