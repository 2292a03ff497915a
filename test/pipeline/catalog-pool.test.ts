import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { Bundle, loadBundle } from '../../src/bundle/loader';
import { CatalogError, LiveCatalog } from '../../src/catalog/catalog';
import { Engine } from '../../src/pipeline/engine';
import { ENGINE_DEFAULTS } from '../../src/pipeline/options';
import type { RankInput } from '../../src/pipeline/request';
import { plainRankInput } from './rank-input';
import { QueueFullError, ScoringPool, WorkerLostError } from '../../src/scoring/pool';
import { flopsPerRow } from '../../src/scoring/scorer';
import { featureLayout, gatherItemFeatures } from '../../src/models/layout';
import { DcnModel, VectorIndex } from '../../src/native';
import { makeWorld, smallConfig, tmpDir } from '../tools/world/helpers';

const DAY = 86_400_000;

describe('engine: live catalog and scoring pool', function () {
  this.timeout(120_000);
  let root: string;
  let bundle: Bundle;

  before(async () => {
    root = await tmpDir('rank-catalog-');
    await makeWorld(smallConfig({ items: 3000, users: 100, dim: 16 }), root, 'IVF16,Flat');
    bundle = await loadBundle(path.join(root, 'bundle'));
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const item = (id: string, emb: Float32Array, createdAt: number, category = 'sneakers') => ({
    id,
    brand: 'brand-new',
    category,
    price: 42,
    createdAt,
    contentHash: `hash-${id}`,
    embedding: emb,
    bias: 0,
  });

  it('upserts new items into shared memory and the index, and deletes them for good', async () => {
    const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
    const cat = new LiveCatalog(bundle, index, 10);
    const d = cat.dim;
    const emb = cat.cols.embeddings.slice(7 * d, 8 * d); // a copy of row 7's vector
    const now = Date.parse(bundle.manifest.referenceTime!);
    const r = await cat.upsert([item('fresh-1', emb, now - DAY)]);
    assert.deepEqual(r, { inserted: 1, updated: 0 });
    const row = cat.rowOf.get('fresh-1')!;
    assert.equal(row, bundle.items.n);
    assert.ok(cat.cols.embeddings.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(Array.from(cat.cols.embeddings.subarray(row * d, (row + 1) * d)), Array.from(emb));
    const hits = await index.search(emb, { k: 3, nprobe: 16 });
    assert.ok(Array.from(hits.ids).includes(BigInt(row)), 'the upserted item is retrievable');
    assert.ok(cat.isNew(row, now));
    assert.ok(Array.from(cat.freshRows(now, 1000)).includes(row), 'a new item feeds the fresh source');
    const newest = cat.freshRows(now, 1000);
    for (let i = 1; i < newest.length; i++) assert.ok(cat.cols.createdAt[newest[i - 1]] >= cat.cols.createdAt[newest[i]], 'newest first');
    const sneakers = cat.categories.find('sneakers')!;
    const bm = cat.categoryBitmap(sneakers);
    assert.equal((bm[row >> 3] >> (row & 7)) & 1, 1);

    // Updating an item keeps its row (user state refers to rows) and moves it between category bitmaps.
    const u = await cat.upsert([item('fresh-1', emb, now - DAY, 'bags')]);
    assert.deepEqual(u, { inserted: 0, updated: 1 });
    const row2 = cat.rowOf.get('fresh-1')!;
    assert.equal(row2, row);
    assert.equal(cat.alive[row], 1);
    assert.equal((bm[row >> 3] >> (row & 7)) & 1, 0, 'the row left the old category bitmap');
    const bags = cat.categoryBitmap(cat.categories.find('bags')!);
    assert.equal((bags[row >> 3] >> (row & 7)) & 1, 1, 'and joined the new one');
    assert.equal(cat.size, bundle.items.n + 1, 'no new row for an update');
    const again = await index.search(emb, { k: 5, nprobe: 16 });
    assert.equal(Array.from(again.ids).filter((id) => id === BigInt(row)).length, 1, 'one vector per row in the index');

    const del = await cat.delete(['fresh-1', 'nope']);
    assert.deepEqual(del, { deleted: 1, unknown: ['nope'] });
    assert.equal(cat.alive[row2], 0);
    const after = await index.search(emb, { k: 20, nprobe: 16 });
    assert.ok(!Array.from(after.ids).includes(BigInt(row2)), 'deleted rows never come back');
    assert.ok(!Array.from(cat.freshRows(now, 100)).includes(row2));
    assert.equal(cat.itemCount, bundle.items.n);
  });

  // The search on a libuv thread.
  it('never returns a row deleted while its search ran (the search filters by alive rows; a change meanwhile is checked again)', async () => {
    const placement = { syncSearchMaxBytes: 0 };
    const engine = await Engine.create(bundle, { ...ENGINE_DEFAULTS, clock: 'bundle', ...placement, search: { nprobe: 8 }, freshKeep: 0, seedEvents: path.join(root, 'events.jsonl') });
    try {
      const request = (userId: string): RankInput => plainRankInput(bundle, userId);
      const userId = 'user-000003';
      const before = (await engine.rank(request(userId))).items.map((it) => it.row);
      assert.equal(before.length, 20);
      // Delete the top five after the native search has filtered, before
      // the stage reads its result.
      const gone = before.slice(0, 5);
      const index = engine.catalog.index;
      const search = index.search.bind(index);
      let deletion: Promise<unknown> | null = null;
      const remove = () => (deletion ??= engine.catalog.delete(gone.map((r) => engine.catalog.ids[r])));
      index.search = async (q, o) => {
        const hits = await search(q, o);
        remove();
        return hits;
      };
      const after = (await engine.rank(request(userId))).items.map((it) => it.row);
      await deletion;
      assert.ok(deletion !== null, 'the search ran');
      for (const r of gone) assert.ok(!after.includes(r), `deleted row ${r} was returned`);
      assert.equal(after.length, 20);
      // The next search filters the deleted rows itself.
      index.search = search;
      const third = (await engine.rank(request(userId))).items.map((it) => it.row);
      for (const r of gone) assert.ok(!third.includes(r));
    } finally {
      await engine.close();
    }
  });

  it('freshRows answers from its cache only while the answer cannot have changed', async () => {
    const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
    const cat = new LiveCatalog(bundle, index, 10);
    const now = Date.parse(bundle.manifest.referenceTime!);
    // The same walk without a cache, for comparison.
    const direct = (t: number, limit: number) => {
      const all = Array.from({ length: cat.size }, (_, r) => r).filter((r) => cat.alive[r] === 1 && cat.isNew(r, t));
      return all.sort((a, b) => cat.cols.createdAt[b] - cat.cols.createdAt[a] || 0).slice(0, limit);
    };
    const sameSet = (a: ArrayLike<number>, b: number[], what: string) => assert.deepEqual(Array.from(a).sort((x, y) => x - y), [...b].sort((x, y) => x - y), what);
    const first = cat.freshRows(now, 40);
    assert.ok(first.length > 0, 'the demo world has new items');
    sameSet(first, direct(now, 40), 'at reference time');
    assert.equal(cat.freshRows(now + 1, 40), first, 'an unchanged answer comes from the cache');
    // Move the clock to the moment the oldest included item ages out.
    const oldest = Math.min(...Array.from(first, (r) => cat.cols.createdAt[r]));
    const later = oldest + cat.newItemMs;
    const aged = cat.freshRows(later, 40);
    sameSet(aged, direct(later, 40), 'after the oldest item aged out');
    assert.ok(!Array.from(aged).some((r) => cat.cols.createdAt[r] === oldest), 'the aged item left the fresh source');
    // A future-dated item appears when its time comes, even with the cache warm.
    const emb = cat.cols.embeddings.slice(0, cat.dim);
    await cat.upsert([item('soon', emb, later + 5000)]);
    const soon = cat.rowOf.get('soon')!;
    assert.ok(!Array.from(cat.freshRows(later, 40)).includes(soon), 'not before its creation time');
    assert.ok(Array.from(cat.freshRows(later + 5000, 40)).includes(soon), 'there from its creation time on');
    // Deleting invalidates too.
    await cat.delete(['soon']);
    assert.ok(!Array.from(cat.freshRows(later + 5000, 40)).includes(soon), 'gone after delete');
    sameSet(cat.freshRows(later + 5000, 40), direct(later + 5000, 40), 'after the delete');
  });

  it('freshBlock packs the fresh rows\' embeddings in order, and follows an upsert that changes one', async () => {
    const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
    const cat = new LiveCatalog(bundle, index, 10);
    const d = cat.dim;
    const now = Date.parse(bundle.manifest.referenceTime!);
    const check = (what: string) => {
      const { rows, emb } = cat.freshBlock(now, 40);
      assert.deepEqual(rows, cat.freshRows(now, 40), `${what}: the same rows as freshRows`);
      assert.equal(emb.length, rows.length * d);
      rows.forEach((r, i) => assert.deepEqual(Array.from(emb.subarray(i * d, (i + 1) * d)), Array.from(cat.cols.embeddings.subarray(r * d, (r + 1) * d)), `${what}: row ${r}`));
      return { rows, emb };
    };
    const first = check('at reference time');
    assert.equal(cat.freshBlock(now, 40).emb, first.emb, 'cached while nothing changes');
    const r0 = first.rows[0];
    const id = bundle.items.ids[r0];
    const moved = new Float32Array(d).fill(0.5);
    await cat.upsert([item(id, moved, cat.cols.createdAt[r0])]);
    const after = check('after the upsert');
    assert.deepEqual(Array.from(after.emb.subarray(after.rows.indexOf(r0) * d, (after.rows.indexOf(r0) + 1) * d)), Array.from(moved));
  });

  it('refuses upserts past its capacity without changing anything', async () => {
    const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
    const cat = new LiveCatalog(bundle, index, 1);
    const e = new Float32Array(cat.dim).fill(0.25);
    await assert.rejects(cat.upsert([item('a', e, 0), item('b', e, 0)]), (err: unknown) => err instanceof CatalogError && err.kind === 'capacity');
    assert.equal(cat.size, bundle.items.n);
    assert.equal(cat.rowOf.has('a'), false);
    await assert.rejects(cat.upsert([item('c', new Float32Array(3), 0)]), /embedding has 3 values/);
  });

  it('scores concurrent requests each in its own worker task, in arrival order, equal to the exact model', async () => {
    const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
    const cat = new LiveCatalog(bundle, index, 0);
    // fp32: compared with the exact model below.
    const pool = new ScoringPool(bundle, cat, { threads: 1, maxQueuedRows: 100_000, inlineMaxFlops: 0, precision: 'fp32' });
    const batches: { rows: number; segments: number }[] = [];
    pool.onBatch = (_m, rows, segments) => batches.push({ rows, segments });
    try {
      const l = featureLayout(cat.dim);
      const now = Date.parse(bundle.manifest.referenceTime!);
      const reqs = Array.from({ length: 6 }, (_, g) => ({
        user: Float32Array.from({ length: l.userDim }, (_, j) => Math.sin(g + j)),
        rows: Int32Array.from({ length: 40 + g }, (_, i) => (i * 7 + g * 13) % cat.size),
      }));
      const got = await Promise.all(reqs.map((r) => pool.score('ranker', r.user, r.rows, now)));
      assert.deepEqual(batches.map((b) => b.segments), [1, 1, 1, 1, 1, 1], 'one request per task');
      assert.deepEqual(batches.map((b) => b.rows), reqs.map((r) => r.rows.length), 'in arrival order');
      const model = new DcnModel(bundle.ranker.shape, bundle.ranker.weights);
      const isNew = new Uint8Array(cat.size);
      for (let r = 0; r < cat.size; r++) isNew[r] = cat.isNew(r, now) ? 1 : 0;
      reqs.forEach((r, g) => {
        const want = model.forward(r.user, gatherItemFeatures(l, { embeddings: cat.cols.embeddings, logPrice: cat.cols.logPrice, isNew, popularity: cat.cols.bias }, r.rows));
        assert.equal(got[g].length, want.length);
        for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[g][i] - want[i]) < 1e-5, `request ${g} value ${i}`);
      });
    } finally {
      await pool.close();
    }
  });

  it('scores batches under inlineMaxFlops on the calling thread, equal to the worker, and larger ones in the worker', async () => {
    const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
    const cat = new LiveCatalog(bundle, index, 0);
    const perRow = flopsPerRow(bundle.preranker.shape);
    const pool = new ScoringPool(bundle, cat, { threads: 1, maxQueuedRows: 100_000, inlineMaxFlops: 30 * perRow });
    const viaWorker = new ScoringPool(bundle, cat, { threads: 1, maxQueuedRows: 100_000, inlineMaxFlops: 0 });
    try {
      await pool.ready;
      const l = featureLayout(cat.dim);
      const now = Date.parse(bundle.manifest.referenceTime!);
      const user = Float32Array.from({ length: l.userDim }, (_, j) => Math.cos(j));
      const small = Int32Array.from({ length: 30 }, (_, i) => (i * 11) % cat.size);
      const inline = await pool.score('preranker', user, small, now);
      assert.equal(pool.inlineRows, 30, '30 rows x flopsPerRow is at the bound: inline');
      const remote = await viaWorker.score('preranker', user, small, now);
      assert.equal(viaWorker.inlineRows, 0);
      assert.deepEqual(Array.from(inline), Array.from(remote), 'the same scorer code on both threads');
      await pool.score('preranker', user, Int32Array.from({ length: 31 }, (_, i) => i % cat.size), now);
      assert.equal(pool.inlineRows, 30, 'one row more goes to the worker');
      const aborted = new AbortController();
      aborted.abort(new Error('caller left'));
      await assert.rejects(pool.score('preranker', user, small, now, aborted.signal), /caller left/);
    } finally {
      await pool.close();
      await viaWorker.close();
    }
  });

  it('scores batches between the busy and the idle bound inline only when the caller prefers it', async () => {
    const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
    const cat = new LiveCatalog(bundle, index, 0);
    const perRow = flopsPerRow(bundle.preranker.shape);
    const pool = new ScoringPool(bundle, cat, { threads: 1, maxQueuedRows: 100_000, inlineMaxFlops: 100 * perRow, inlineBusyMaxFlops: 10 * perRow, inlineMaxSlices: 1 });
    try {
      await pool.ready;
      const l = featureLayout(cat.dim);
      const now = Date.parse(bundle.manifest.referenceTime!);
      const user = new Float32Array(l.userDim);
      const rows = (n: number) => Int32Array.from({ length: n }, (_, i) => (i * 3) % cat.size);
      await pool.score('preranker', user, rows(10), now);
      assert.equal(pool.inlineRows, 10, 'under the busy bound: always inline');
      await pool.score('preranker', user, rows(50), now);
      assert.equal(pool.inlineRows, 10, 'over the busy bound, not preferred: a worker');
      await pool.score('preranker', user, rows(50), now, undefined, true);
      assert.equal(pool.inlineRows, 60, 'preferred and under the idle bound: inline');
      await pool.score('preranker', user, rows(101), now, undefined, true);
      assert.equal(pool.inlineRows, 60, 'over the idle bound: a worker even when preferred');
    } finally {
      await pool.close();
    }
  });

  it('scores a preferred batch over the idle bound inline in slices, serving the event loop between them', async () => {
    const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
    const cat = new LiveCatalog(bundle, index, 0);
    const perRow = flopsPerRow(bundle.ranker.shape);
    const pool = new ScoringPool(bundle, cat, { threads: 1, maxQueuedRows: 100_000, inlineMaxFlops: 40 * perRow, inlineMaxSlices: 3 });
    const viaWorker = new ScoringPool(bundle, cat, { threads: 1, maxQueuedRows: 100_000, inlineMaxFlops: 0 });
    try {
      await pool.ready;
      const l = featureLayout(cat.dim);
      const now = Date.parse(bundle.manifest.referenceTime!);
      const user = Float32Array.from({ length: l.userDim }, (_, j) => Math.sin(0.3 * j));
      const rows = (n: number) => Int32Array.from({ length: n }, (_, i) => (i * 17 + 5) % cat.size);
      const order: string[] = [];
      pool.onBatch = (_m, n) => order.push(`slice ${n}`);
      setImmediate(() => order.push('loop'));
      const sliced = await pool.score('ranker', user, rows(100), now, undefined, true);
      assert.deepEqual(order, ['slice 33', 'loop', 'slice 33', 'slice 34'], 'equal slices under the bound, the event loop served after the first');
      assert.equal(pool.inlineRows, 100);
      const remote = await viaWorker.score('ranker', user, rows(100), now);
      assert.equal(sliced.length, remote.length);
      for (let i = 0; i < remote.length; i++) assert.ok(Math.abs(sliced[i] - remote[i]) < 1e-5, `value ${i}: ${sliced[i]} vs ${remote[i]}`);
      await pool.score('ranker', user, rows(100), now);
      assert.equal(pool.inlineRows, 100, 'not preferred: a worker');
      await pool.score('ranker', user, rows(121), now, undefined, true);
      assert.equal(pool.inlineRows, 100, 'more than 3 slices: a worker');
      const ctl = new AbortController();
      pool.onBatch = () => ctl.abort(new Error('caller left mid-batch'));
      await assert.rejects(pool.score('ranker', user, rows(100), now, ctl.signal, true), /caller left mid-batch/);
      assert.equal(pool.inlineRows, 133, 'no slice runs after the caller left');
    } finally {
      await pool.close();
      await viaWorker.close();
    }
  });

  it('scores the same through the native, ONNX Runtime and TypeScript backends', async () => {
    const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
    const cat = new LiveCatalog(bundle, index, 0);
    const l = featureLayout(cat.dim);
    const now = Date.parse(bundle.manifest.referenceTime!);
    const users = [0, 1].map((g) => Float32Array.from({ length: l.userDim }, (_, j) => Math.sin(3 * g + j)));
    const rows = [Int32Array.from({ length: 17 }, (_, i) => (i * 5) % cat.size), Int32Array.from({ length: 9 }, (_, i) => (i * 13 + 2) % cat.size)];
    const results: Record<string, Float32Array[]> = {};
    for (const backend of ['native', 'ort', 'ts'] as const) {
      const pool = new ScoringPool(bundle, cat, { threads: 1, maxQueuedRows: 100_000, inlineMaxFlops: 0, backend, precision: 'fp32' });
      try {
        // Two requests at once, so the second may share a batch with the first.
        results[backend] = await Promise.all(users.map((u, g) => pool.score('ranker', u, rows[g], now)));
      } finally {
        await pool.close();
      }
    }
    for (const other of ['ort', 'ts']) {
      results.native.forEach((want, g) => {
        const got = results[other][g];
        assert.equal(got.length, want.length, `${other} request ${g} length`);
        for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `${other} request ${g} value ${i}: ${got[i]} vs ${want[i]}`);
      });
    }
  });

  it('pools closed while their workers still start stop cleanly (the native workers load no ONNX Runtime, whose addon aborts a stopping thread)', () => {
    // In a child process: an abort there is a failed assertion here, not a lost test run.
    const src = (...p: string[]) => JSON.stringify(path.join(__dirname, '..', '..', 'src', ...p));
    const script = `
      require(${src('scoring', 'scorer')});
      const scorerLoadsOrt = Object.keys(require.cache).some((k) => k.includes('onnxruntime-node'));
      const { loadBundle } = require(${src('bundle', 'loader')});
      const { LiveCatalog } = require(${src('catalog', 'catalog')});
      const { ScoringPool } = require(${src('scoring', 'pool')});
      (async () => {
        const b = await loadBundle(${JSON.stringify(path.join(root, 'bundle'))}, { progress: false });
        const cat = new LiveCatalog(b, b.index, 0);
        for (let i = 0; i < 12; i++) {
          const pool = new ScoringPool(b, cat, { threads: 2, maxQueuedRows: 1000, inlineMaxFlops: 0, backend: 'native', precision: 'fp32' });
          await new Promise((r) => setTimeout(r, i * 3));
          await pool.close();
        }
        console.log(JSON.stringify({ ok: true, scorerLoadsOrt }));
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `the process ended with ${r.status ?? r.signal}: ${r.stderr.slice(-500)}`);
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { ok: true, scorerLoadsOrt: false });
  });

  it('flopsPerRow counts cross, MLP and head multiply-adds', () => {
    // D = 10, 2 full-rank cross layers (2 x 100), MLP 10->8->4 (80 + 32), parallel heads on [x_L, h] = 14 wide, 3 heads.
    assert.equal(flopsPerRow({ inputDim: 10, userDim: 4, crossLayers: 2, crossRank: 0, mlp: [8, 4], heads: 3, structure: 'parallel' }), 2 * (200 + 112 + 42));
    // low rank r = 2: 2 x (2 x 10 x 2); stacked heads on h = 4 wide.
    assert.equal(flopsPerRow({ inputDim: 10, userDim: 4, crossLayers: 2, crossRank: 2, mlp: [8, 4], heads: 3, structure: 'stacked' }), 2 * (80 + 112 + 12));
  });

  it('a terminated worker does not fail its batch: the batch runs again on the replacement', async () => {
    const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
    const cat = new LiveCatalog(bundle, index, 0);
    const pool = new ScoringPool(bundle, cat, { threads: 1, maxQueuedRows: 1_000_000, inlineMaxFlops: 0 });
    try {
      const l = featureLayout(cat.dim);
      const user = new Float32Array(l.userDim);
      await pool.score('ranker', user, Int32Array.from([1, 2, 3]), 0); // the worker is up
      const rows = Int32Array.from({ length: 200_000 }, (_, i) => i % cat.size);
      const survivor = pool.score('ranker', user, rows, 0);
      await new Promise((r) => setTimeout(r, 5));
      await pool.workers[0].terminate();
      const out = await survivor;
      assert.equal(out.length, rows.length * bundle.ranker.shape.heads, 'the whole batch is scored');
      const again = await pool.score('ranker', user, Int32Array.from([4, 5]), 0);
      assert.equal(again.length, 2 * bundle.ranker.shape.heads, 'a new worker serves the next batch');
    } finally {
      await pool.close();
    }
  });

  describe('a worker exiting mid-batch', () => {
    let tokens: string;
    const workerFile = path.join(__dirname, 'dying-worker.js');
    before(async () => {
      tokens = await tmpDir('rank-worker-exits-');
      process.env.RANKING_TEST_WORKER_EXITS = tokens;
    });
    after(async () => {
      delete process.env.RANKING_TEST_WORKER_EXITS;
      await fs.rm(tokens, { recursive: true, force: true });
    });
    /** The next n batches are lost to their worker exiting. */
    const exits = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => fs.writeFile(path.join(tokens, `exit-${i}`), '')));

    it('is retried once on a fresh worker: every request of the batch gets its scores', async () => {
      const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
      const cat = new LiveCatalog(bundle, index, 0);
      const opts = { threads: 1, maxQueuedRows: 1_000_000, inlineMaxFlops: 0 };
      const pool = new ScoringPool(bundle, cat, { ...opts, workerFile });
      const plain = new ScoringPool(bundle, cat, opts);
      try {
        const l = featureLayout(cat.dim);
        const users = [0, 1, 2].map((g) => Float32Array.from({ length: l.userDim }, (_, j) => Math.cos(g + 0.5 * j)));
        const rows = users.map((_, g) => Int32Array.from({ length: 40 + g }, (_, i) => (i * 7 + g) % cat.size));
        await pool.score('ranker', users[0], rows[0], 0); // the worker is up
        const want = await Promise.all(users.map((u, g) => plain.score('ranker', u, rows[g], 0)));
        await exits(1);
        // The first request's batch is lost; the other two wait for its retry and share the next batch.
        const got = await Promise.all(users.map((u, g) => pool.score('ranker', u, rows[g], 0)));
        assert.equal(pool.retriedBatches, 1, 'one batch was lost and run again');
        assert.deepEqual((await fs.readdir(tokens)).length, 0, 'the worker did exit');
        got.forEach((g, i) => assert.deepEqual(Array.from(g), Array.from(want[i]), `request ${i} scores`));
      } finally {
        await pool.close();
        await plain.close();
      }
    });

    it('fails the batch with a clear error when the retry is lost too, and keeps serving', async () => {
      const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
      const cat = new LiveCatalog(bundle, index, 0);
      const pool = new ScoringPool(bundle, cat, { threads: 1, maxQueuedRows: 1_000_000, inlineMaxFlops: 0, workerFile });
      try {
        const user = new Float32Array(featureLayout(cat.dim).userDim);
        await pool.score('ranker', user, Int32Array.from([1, 2, 3]), 0);
        await exits(2);
        await assert.rejects(pool.score('ranker', user, Int32Array.from([4, 5, 6]), 0), (err: unknown) => {
          assert.ok(err instanceof WorkerLostError, `a WorkerLostError, got ${String(err)}`);
          assert.match(err.message, /^scoring batch for ranker lost: its worker exited on each of 2 attempts \(worker exited with code: 1\)$/);
          return true;
        });
        const again = await pool.score('ranker', user, Int32Array.from([4, 5]), 0);
        assert.equal(again.length, 2 * bundle.ranker.shape.heads, 'a new worker serves the next batch');
      } finally {
        await pool.close();
      }
    });
  });

  it('refuses work past the queue bound with QueueFullError', async () => {
    const index = await VectorIndex.read(path.join(root, 'bundle', 'index.faiss'));
    const cat = new LiveCatalog(bundle, index, 0);
    const pool = new ScoringPool(bundle, cat, { threads: 1, maxQueuedRows: 150, inlineMaxFlops: 0 });
    try {
      const l = featureLayout(cat.dim);
      const user = new Float32Array(l.userDim);
      const rows = Int32Array.from({ length: 100 }, (_, i) => i);
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => pool.score('ranker', user, rows, 0)));
      const refused = results.filter((r) => r.status === 'rejected');
      assert.ok(refused.length > 0, 'some calls are refused');
      for (const r of refused) assert.ok((r as PromiseRejectedResult).reason instanceof QueueFullError);
      assert.ok(results.some((r) => r.status === 'fulfilled'), 'the accepted ones complete');
    } finally {
      await pool.close();
    }
  });
});
