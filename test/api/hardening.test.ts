import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

import { Bundle, loadBundle } from '../../src/bundle/loader';
import { RankingClient } from '../../src/client';
import type { RankInput, RankOutput } from '../../src/pipeline/request';
import { Engine, QueueWaitError } from '../../src/pipeline/engine';
import { toStatus } from '../../src/api/errors';
import { DEFAULT_RANK } from '../../src/pipeline/options';
import { createMetrics } from '../../src/metrics/metrics';
import { RankingService } from '../../src/api/service';
import { ENGINE_OPTIONS, makeWorld, silentLogger, World } from './harness';

/** An engine request for user i on the home surface, 10 results, default options. */
function rankInput(bundle: Bundle, requestId: string, i: number): RankInput {
  return {
    requestId,
    userId: `user-${String(i).padStart(6, '0')}`,
    surface: 'home',
    device: 'mobile',
    recentActions: [],
    numResults: 10,
    weights: Float32Array.from(bundle.manifest.objectives, (o) => bundle.manifest.defaultWeights.home[o] ?? 0),
    options: { ...DEFAULT_RANK, exclude: new Set<number>(), seed: 1 },
    debug: false,
    deadline: Infinity,
  };
}

describe('server hardening: deadlines and load shedding', function () {
  this.timeout(120_000);
  let world: World;
  let engine: Engine;
  let service: RankingService;
  let client: RankingClient;
  const metrics = createMetrics({ defaultMetrics: false });

  before(async () => {
    world = await makeWorld();
    const bundle = await loadBundle(world.paths.bundle, { progress: false });
    engine = await Engine.create(bundle, { ...ENGINE_OPTIONS, seedEvents: world.paths.events, metrics });
    service = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics, logger: silentLogger, maxConcurrentRanks: 2 });
    await service.start();
    service.setEngine(engine);
    client = new RankingClient(`127.0.0.1:${service.grpcPort}`);
    // Warm up so the engine knows what its stages cost.
    for (let i = 0; i < 30; i++) await client.rank({ user_id: `user-${String(i).padStart(6, '0')}`, num_results: 10 });
  });
  after(async () => {
    client.close();
    await service.stop(1000);
    await engine.close();
    await fs.rm(world.root, { recursive: true, force: true });
  });

  it('degrades in the documented order instead of failing when the budget is too short', async () => {
    let degraded = 0;
    for (let i = 0; i < 20; i++) {
      try {
        const res = await client.rank({ user_id: `user-${String(i).padStart(6, '0')}`, num_results: 10, latency_budget_ms: 2, debug: true });
        if (!res.degraded) continue;
        degraded++;
        const order = ['smaller_k', 'no_strong_prerank', 'no_diversity', 'no_rank'];
        const idx = res.degradations.map((d) => order.indexOf(d));
        assert.ok(idx.every((x) => x >= 0), `known steps: ${res.degradations.join(',')}`);
        assert.deepEqual(idx, [...idx].sort((a, b) => a - b), 'applied in order');
        assert.equal(new Set(res.items.map((it) => it.item_id)).size, res.items.length, 'still distinct items');
        if (res.degradations.includes('no_rank')) assert.ok(!res.stages.some((s) => s.stage === 'rank'), 'the ranker was skipped');
      } catch (err) {
        // On a very busy machine even the degraded cascade can miss 2 ms.
        assert.equal((err as grpc.ServiceError).code, grpc.status.DEADLINE_EXCEEDED);
      }
    }
    assert.ok(degraded > 0, 'some responses were degraded rather than failed');
    assert.match(await metrics.text(), /ranking_degraded_total\{reason="[a-z_]+"\} [1-9]/);
  });

  it('does not degrade with a comfortable budget', async () => {
    const res = await client.rank({ user_id: 'user-000001', num_results: 10, latency_budget_ms: 10_000 });
    assert.equal(res.degraded, false);
    assert.deepEqual(res.degradations, []);
    assert.equal(res.items.length, 10);
  });

  it('runs at most maxActiveRanks cascades at once and serves the waiting ones in arrival order', async () => {
    const bundle = await loadBundle(world.paths.bundle, { progress: false });
    const gated = await Engine.create(bundle, { ...ENGINE_OPTIONS, maxActiveRanks: 1 });
    try {
      const input = (i: number) => rankInput(bundle, `g${i}`, i);
      let maxActive = 0;
      let polling = true;
      const poll = () => {
        maxActive = Math.max(maxActive, gated.activeRanks);
        if (polling) setImmediate(poll);
      };
      poll();
      const done: number[] = [];
      await Promise.all(Array.from({ length: 8 }, (_, i) => gated.rank(input(i)).then(() => done.push(i))));
      polling = false;
      assert.equal(gated.maxActive, 1);
      assert.equal(maxActive, 1, 'one ran at a time');
      assert.equal(gated.activeRanks, 0, 'the slot was given back');
      assert.deepEqual(done, [0, 1, 2, 3, 4, 5, 6, 7], 'served in arrival order');
    } finally {
      await gated.close();
    }
  });

  it('refuses requests that waited longer than maxQueueWaitMs for a slot, without losing the slot', async () => {
    const bundle = await loadBundle(world.paths.bundle, { progress: false });
    const gated = await Engine.create(bundle, { ...ENGINE_OPTIONS, maxActiveRanks: 1, maxQueueWaitMs: 1 });
    try {
      const input = (i: number) => rankInput(bundle, `w${i}`, i);
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => gated.rank(input(i))));
      assert.equal(results[0].status, 'fulfilled', 'the first runs at once');
      const refused = results.filter((r) => r.status === 'rejected');
      assert.ok(refused.length >= 1, 'later ones waited more than 1 ms behind a whole cascade');
      for (const r of refused) assert.ok((r as PromiseRejectedResult).reason instanceof QueueWaitError, String((r as PromiseRejectedResult).reason));
      assert.equal(gated.shedWaiting, refused.length);
      assert.equal(gated.activeRanks, 0, 'every slot was given back');
      const again = await gated.rank(input(7));
      assert.equal(again.items.length, 10, 'the engine still serves');
      assert.equal(toStatus(new QueueWaitError(5)).code, grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      await gated.close();
    }
  });

  it('refuses on arrival, before any wait, requests whose predicted wait exceeds maxQueueWaitMs', async () => {
    const bundle = await loadBundle(world.paths.bundle, { progress: false });
    const gated = await Engine.create(bundle, { ...ENGINE_OPTIONS, maxActiveRanks: 1, maxQueueWaitMs: 200 });
    try {
      const input = (i: number) => rankInput(bundle, `a${i}`, i);
      assert.equal(gated.expectedWaitMs(), 0, 'a free slot: no wait');
      for (let i = 0; i < 10; i++) await gated.rank(input(i)); // measures the slot hold time (the first calls of a new engine are slow)
      const order: string[] = [];
      const calls = Array.from({ length: 400 }, (_, i) =>
        gated.rank(input(10 + i)).then(
          () => order.push(`ok${i}`),
          (err: unknown) => order.push(err instanceof QueueWaitError && err.expectedMs !== undefined ? `arrival${i}` : `other${i}`),
        ),
      );
      assert.ok(gated.waitingRanks < 399, `${gated.waitingRanks} queued: the excess was not queued`);
      assert.ok(gated.expectedWaitMs() > 0);
      await Promise.all(calls);
      const refused = order.filter((o) => o.startsWith('arrival'));
      assert.ok(refused.length >= 1, 'some were refused on arrival');
      assert.equal(gated.shedOnArrival, refused.length);
      const firstOk = order.findIndex((o) => o.startsWith('ok'));
      assert.ok(firstOk >= refused.length, 'every arrival refusal came before the first cascade finished');
      assert.ok(order.filter((o) => o.startsWith('ok')).length >= 2, 'the first and the queued ones ran');
      assert.equal(gated.activeRanks, 0, 'every slot was given back');
      assert.equal(toStatus(new QueueWaitError(0, 300)).code, grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      await gated.close();
    }
  });

  it('under a burst admits the calls that can start before their deadline (not only maxQueueWaitMs worth), refuses the rest at once with a retry-after, and serves the newest first once the queue stands', async () => {
    const bundle = await loadBundle(world.paths.bundle, { progress: false });
    // A short queue wait limit: the calls here carry deadlines, which govern their wait.
    const gated = await Engine.create(bundle, { ...ENGINE_OPTIONS, maxActiveRanks: 1, maxQueueWaitMs: 20 });
    // The cascade's cost is stubbed: 40 ms each, recording when each call started.
    const started: { id: string; at: number; deadline: number }[] = [];
    const real = gated as unknown as { runCascade(r: RankInput): Promise<RankOutput> };
    real.runCascade = async (r: RankInput) => {
      started.push({ id: r.requestId, at: Date.now(), deadline: r.deadline });
      await new Promise((res) => setTimeout(res, 40));
      return { items: [], bundleVersion: gated.version, degraded: false, degradations: [], stages: [], removed: [] };
    };
    try {
      for (let i = 0; i < 3; i++) await gated.rank(rankInput(bundle, `warm${i}`, i)); // measures the hold time
      started.length = 0;
      const deadline = Date.now() + 2000;
      const refusedOnArrival: number[] = [];
      const refusedWaiting: number[] = [];
      const calls = Array.from({ length: 80 }, (_, i) =>
        gated.rank({ ...rankInput(bundle, `b${i}`, i), deadline }).then(
          () => undefined,
          (err: unknown) => {
            assert.ok(err instanceof QueueWaitError, String(err));
            const st = toStatus(err);
            assert.equal(st.code, grpc.status.RESOURCE_EXHAUSTED);
            assert.ok(Number(st.metadata.get('retry-after-ms')[0]) > 0, 'with a retry-after-ms hint');
            (err.expectedMs !== undefined ? refusedOnArrival : refusedWaiting).push(i);
          },
        ),
      );
      await new Promise((r) => setImmediate(r));
      assert.ok(refusedOnArrival.length > 0, 'the excess was refused on arrival');
      const admitted = gated.waitingRanks + gated.activeRanks;
      assert.equal(admitted + refusedOnArrival.length, 80);
      assert.ok(admitted >= 10, `${admitted} admitted: as many as fit before the deadline, not maxQueueWaitMs worth`);
      assert.ok(Math.min(...refusedOnArrival) >= admitted, 'the ones refused on arrival are the last to arrive');
      await Promise.all(calls);
      const ids = started.map((x) => Number(x.id.slice(1)));
      assert.equal(ids[0], 0, 'the first took the free slot');
      const rest = ids.slice(1);
      assert.ok(rest.length >= 3, `${rest.length} served from the queue`);
      assert.deepEqual(rest, [...rest].sort((a, b) => b - a), 'newest first: the oldest has waited longer than maxQueueWaitMs');
      for (const i of refusedWaiting) assert.ok(i < Math.min(...rest), `b${i}, refused while waiting, is older than every call served from the queue`);
      for (const x of started) assert.ok(x.at < x.deadline, `${x.id} started before its deadline`);
      assert.equal(gated.activeRanks, 0, 'every slot was given back');
      assert.equal(gated.waitingRanks, 0);
    } finally {
      await gated.close();
    }
  });

  it('a cancelled call stops: the engine counts it and its queued work is dropped', async () => {
    // A client of its own, for the call object of the call to cancel.
    const other = new RankingClient(`127.0.0.1:${service.grpcPort}`);
    const before = engine.cancelled + engine.pool.dropped;
    try {
      for (let round = 0; round < 20 && engine.cancelled + engine.pool.dropped === before; round++) {
        // A heavy call keeps the workers busy (the limit here is 2 calls); the next is cancelled mid-way.
        const busy = [1].map((k) => client.rank({ user_id: `user-00020${k}`, num_results: 200, options: { retrieval_k: 4000, heavy_budget: 1 } }).catch(() => undefined));
        const call = other.raw.Rank({ user_id: 'user-000300', num_results: 200, options: { retrieval_k: 4000, heavy_budget: 1 } }, () => undefined);
        await new Promise((r) => setTimeout(r, 1 + round));
        call.cancel();
        await Promise.all(busy);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      other.close();
    }
    assert.ok(engine.cancelled + engine.pool.dropped > before, 'cancellation reached the engine or its queue');
  });

  it('sheds load past the concurrency limit with RESOURCE_EXHAUSTED and a retry hint', async () => {
    const calls = Array.from({ length: 12 }, (_, i) =>
      new Promise<{ ok: boolean; code?: number; retry?: string }>((resolve) => {
        client
          .rank({ user_id: `user-${String(i).padStart(6, '0')}`, num_results: 20 })
          .then(() => resolve({ ok: true }))
          .catch((e: grpc.ServiceError) => resolve({ ok: false, code: e.code, retry: e.metadata?.get('retry-after-ms')[0] as string | undefined }));
      }),
    );
    const results = await Promise.all(calls);
    const shed = results.filter((r) => !r.ok);
    assert.ok(results.some((r) => r.ok), 'accepted calls complete');
    assert.ok(shed.length > 0, 'the excess is refused');
    for (const r of shed) {
      assert.equal(r.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.ok(Number(r.retry) > 0, 'with a retry-after-ms hint');
    }
  });
});
