import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';

import { loadBundle } from '../../src/bundle/loader';
import { RankingClient } from '../../src/client';
import { Engine } from '../../src/pipeline/engine';
import { createMetrics } from '../../src/metrics/metrics';
import { RankingService } from '../../src/api/service';
import { bearer, ENGINE_OPTIONS, makeWorld, silentLogger, World } from './harness';

/** Deadline of every call of these tests. */
const DEADLINE_MS = 60_000;

async function status(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    return grpc.status[(err as grpc.ServiceError).code];
  }
}

describe('server admin calls: auth, hot reload, graceful shutdown', function () {
  this.timeout(180_000);
  let world: World;
  let service: RankingService;
  let client: RankingClient;
  const TOKEN = 's3cret-token';
  const metrics = createMetrics({ defaultMetrics: false });
  const loadEngine = async (dir: string) => Engine.create(await loadBundle(dir, { progress: false }), { ...ENGINE_OPTIONS, seedEvents: world.paths.events, metrics });

  before(async () => {
    world = await makeWorld();
    service = new RankingService({
      host: '127.0.0.1',
      grpcPort: 0,
      httpPort: 0,
      metrics,
      logger: silentLogger,
      admin: { token: TOKEN },
      bundleRoot: world.root,
      loadEngine,
    });
    await service.start();
    service.setEngine(await loadEngine(world.paths.bundle));
    client = new RankingClient(`127.0.0.1:${service.grpcPort}`, { deadlineMs: DEADLINE_MS });
  });
  after(async () => {
    client?.close();
    await service?.stop(1000).catch(() => undefined);
    await service?.current()?.close();
    await fs.rm(world.root, { recursive: true, force: true });
  });

  const item = { item_id: 'admin-item-1', brand: 'b', category: 'sneakers', price: 10, embedding: Array.from({ length: 16 }, (_, i) => (i === 0 ? 1 : 0)) };

  it('admin calls need the bearer token: UNAUTHENTICATED without, PERMISSION_DENIED when wrong', async () => {
    assert.equal(await status(client.upsertItems({ items: [item] })), 'UNAUTHENTICATED');
    assert.equal(await status(client.upsertItems({ items: [item] }, bearer('wrong'))), 'PERMISSION_DENIED');
    assert.equal(await status(client.deleteItems({ item_ids: ['x'] })), 'UNAUTHENTICATED');
    assert.equal(await status(client.reloadBundle({ path: 'bundle' }, bearer('nope'))), 'PERMISSION_DENIED');
    assert.equal(await status(client.upsertItems({ items: [item] }, bearer(TOKEN))), 'OK');
    // Non-admin calls need no token.
    assert.equal(await status(client.rank({ user_id: 'user-000001', num_results: 3 })), 'OK');
  });

  it('a server with admin calls disabled refuses them with PERMISSION_DENIED', async () => {
    const s = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics: createMetrics({ defaultMetrics: false }), logger: silentLogger, admin: 'disabled' });
    await s.start();
    s.setEngine(service.current()!);
    const c = new RankingClient(`127.0.0.1:${s.grpcPort}`, { deadlineMs: DEADLINE_MS });
    try {
      assert.equal(await status(c.upsertItems({ items: [item] }, bearer(TOKEN))), 'PERMISSION_DENIED');
    } finally {
      c.close();
      await s.stop(500);
    }
  });

  it('ReloadBundle refuses paths outside the bundle root and broken bundles; the old bundle keeps serving', async () => {
    assert.equal(await status(client.reloadBundle({ path: '../../etc' }, bearer(TOKEN))), 'INVALID_ARGUMENT');
    assert.equal(await status(client.reloadBundle({ path: 'no-such-dir' }, bearer(TOKEN))), 'INVALID_ARGUMENT');
    const broken = path.join(world.root, 'broken');
    await fs.cp(world.paths.bundle, broken, { recursive: true });
    await fs.appendFile(path.join(broken, 'items.jsonl'), '{"id":"extra"}\n');
    const before = service.current();
    const err = await client.reloadBundle({ path: 'broken' }, bearer(TOKEN)).catch((e: grpc.ServiceError) => e);
    assert.ok(err instanceof Error);
    assert.equal(grpc.status[(err as grpc.ServiceError).code], 'INVALID_ARGUMENT');
    assert.match((err as grpc.ServiceError).details, /items\.jsonl/);
    assert.equal(service.current(), before, 'the old engine still serves');
    assert.equal(await status(client.rank({ user_id: 'user-000002', num_results: 5 })), 'OK');
  });

  it('reloads under load with zero failed calls, replaying recorded events into the new bundle', async () => {
    const user = 'user-000007';
    const first = await client.rank({ user_id: user, num_results: 5, options: { exploration: 'EXPLORATION_METHOD_NONE', diversity: 'DIVERSITY_METHOD_NONE' } });
    const top = first.items[0].item_id;
    await client.recordEvents({ events: [{ user_id: user, item_id: top, type: 'ACTION_TYPE_PURCHASE' }] });

    const old = service.current()!;
    let stop = false;
    let failures = 0;
    let calls = 0;
    const load = (async () => {
      while (!stop) {
        calls++;
        if ((await status(client.rank({ user_id: `user-0000${10 + (calls % 50)}`, num_results: 10 }))) !== 'OK') failures++;
      }
    })();
    const res = await client.reloadBundle({ path: 'bundle' }, bearer(TOKEN));
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await load;
    assert.equal(failures, 0, `${failures} of ${calls} calls failed during the reload`);
    assert.ok(calls > 5, 'calls ran during the reload');
    assert.notEqual(service.current(), old, 'the engine was swapped');
    assert.ok(Number(res.replayed_events) >= 1, 'recorded events were replayed');
    const after = await client.rank({ user_id: user, num_results: 5, options: { exploration: 'EXPLORATION_METHOD_NONE', diversity: 'DIVERSITY_METHOD_NONE' } });
    assert.ok(!after.items.some((it) => it.item_id === top), 'the purchase recorded before the reload still pushes the item out');
  });

  it('replays at most maxJournal of the most recent events into a reloaded bundle', async () => {
    const s2 = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics: createMetrics({ defaultMetrics: false }), logger: silentLogger, admin: { token: TOKEN }, bundleRoot: world.root, loadEngine, maxJournal: 10 });
    await s2.start();
    const engine = await loadEngine(world.paths.bundle);
    s2.setEngine(engine);
    const c2 = new RankingClient(`127.0.0.1:${s2.grpcPort}`, { deadlineMs: DEADLINE_MS });
    try {
      // 3 calls of 9 events: 27 recorded, past the trimming point (10 + 10/8).
      for (let k = 0; k < 3; k++) {
        const events = Array.from({ length: 9 }, (_, i) => ({ user_id: 'user-000042', item_id: engine.catalog.ids[k * 9 + i], type: 'ACTION_TYPE_CLICK' as const }));
        const r = await c2.recordEvents({ events });
        assert.equal(Number(r.accepted), 9);
      }
      const res = await c2.reloadBundle({ path: 'bundle' }, bearer(TOKEN));
      assert.equal(Number(res.replayed_events), 10, 'the 10 most recent events');
    } finally {
      c2.close();
      await s2.stop(1000);
      await s2.current()?.close();
      await engine.close().catch(() => undefined);
    }
  });

  it('stops gracefully: in-flight calls finish, health goes NOT_SERVING, new calls are refused', async () => {
    const engine = service.current()!;
    const inflight = Array.from({ length: 8 }, (_, i) => status(client.rank({ user_id: `user-00010${i}`, num_results: 50, options: { retrieval_k: 3000 } })));
    // Stop once the engine is working on some of them.
    const until = Date.now() + 5000;
    while (engine.inflight === 0 && Date.now() < until) await new Promise((r) => setImmediate(r));
    assert.ok(engine.inflight > 0, 'calls reached the engine');
    const stopped = service.stop(5000);
    const results = await Promise.all(inflight);
    await stopped;
    assert.ok(results.every((r) => r === 'OK' || r === 'UNAVAILABLE'), results.join(','));
    assert.ok(results.includes('OK'), 'calls accepted before the stop completed');
    assert.equal(await status(client.rank({ user_id: 'user-000001', num_results: 3 })), 'UNAVAILABLE');
  });
});
