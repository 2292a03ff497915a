// Two server processes (dist/src/main.js) sharing user state in Redis
// (--user-store, a redis-server of the test's own): an event recorded through
// one replica changes what the other serves on its very next call, and a
// replica started later serves the same state. A server whose Redis is not
// there stays NOT_SERVING and says why.
import { strict as assert } from 'node:assert';

import { RankingClient } from '../../src/client';
import { redisForSuite, startRedis } from '../state/redis-server';
import { RedisUserStore } from '../../src/state/redis-user-store';
import { startNginx } from './nginx';
import { PLAIN, kill, serverProcesses, topItems } from './server-process';
import type { Running } from './server-process';

/** Rank calls the replica answered OK (its own metrics). */
async function ranksServed(r: Running): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.httpPort}/metrics`)).text();
  return Number(/^ranking_requests_total\{method="Rank",code="OK"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

describe('user state in Redis shared by two server processes', function () {
  this.timeout(180_000);
  const servers = serverProcesses();
  const redis = redisForSuite();

  it('a purchase recorded through replica A leaves the top results of replica B at once, and of a replica started later', async () => {
    const flags = ['--user-store', redis().url];
    const [a, b] = [await servers.start(flags), await servers.start(flags)];
    const user = 'user-000011';
    const before = await topItems(b.client, user);
    assert.deepEqual(await topItems(a.client, user), before, 'both replicas serve the same state');
    const top = before[0];
    const ack = await a.client.recordEvents({ events: [{ user_id: user, item_id: top, type: 'ACTION_TYPE_PURCHASE' }] });
    assert.equal(Number(ack.accepted), 1);
    for (let i = 0; i < 20; i++) {
      const via = i % 2 === 0 ? b : a;
      const items = await topItems(via.client, user);
      assert.ok(!items.includes(top), `call ${i}: purchased ${top} still in the top 10: ${items.join(', ')}`);
    }
    const c = await servers.start(flags);
    assert.ok(!(await topItems(c.client, user)).includes(top), 'a replica started later serves the shared state');
    await Promise.all([kill(a), kill(b), kill(c)]);
  });

  it('without Redis, Rank serves the user as new and says so, RecordEvents is UNAVAILABLE; both recover when it is back', async () => {
    const a = await servers.start(['--user-store', redis().url]);
    const user = 'user-000012';
    await redis().stop();
    const res = await a.client.rank({ user_id: user, num_results: 10, options: PLAIN });
    assert.equal(res.items.length, 10);
    assert.ok(res.degraded && res.degradations.includes('user_state_unavailable'), JSON.stringify(res.degradations));
    await assert.rejects(
      a.client.recordEvents({ events: [{ user_id: user, item_id: res.items[0].item_id, type: 'ACTION_TYPE_CLICK' }] }),
      (err: { code?: number; details?: string }) => err.code === 14 && /user store/.test(err.details ?? ''),
    );
    redis.replace(await startRedis(redis().port));
    const until = Date.now() + 15_000;
    for (;;) {
      const again = await a.client.rank({ user_id: user, num_results: 10, options: PLAIN });
      if (!again.degradations.includes('user_state_unavailable')) break;
      assert.ok(Date.now() < until, 'the store reconnects within 15 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const ack = await a.client.recordEvents({ events: [{ user_id: user, item_id: res.items[0].item_id, type: 'ACTION_TYPE_CLICK' }] });
    assert.equal(Number(ack.accepted), 1);
    await kill(a);
  });

  it('a Redis that hangs (SIGSTOP) is bounded by the call\'s deadline: Rank answers in time as for a new user, RecordEvents UNAVAILABLE', async () => {
    const a = await servers.start(['--user-store', redis().url]);
    await topItems(a.client, 'user-000015'); // a served call: the engine predicts its stages' times
    const pid = redis().pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const res = await a.client.rank({ user_id: 'user-000014', num_results: 10, options: PLAIN }, { deadline: t0 + 500 });
      const took = Date.now() - t0;
      assert.ok(took < 500, `Rank answered after ${took} ms`);
      assert.equal(res.items.length, 10);
      assert.ok(res.degradations.includes('user_state_unavailable'), JSON.stringify(res.degradations));
      const t1 = Date.now();
      await assert.rejects(
        a.client.recordEvents({ events: [{ user_id: 'user-000014', item_id: res.items[0].item_id, type: 'ACTION_TYPE_CLICK' }] }, { deadline: t1 + 5000 }),
        (err: { code?: number; details?: string }) => err.code === 14 && /timed out/.test(err.details ?? ''),
      );
      assert.ok(Date.now() - t1 < 2500, `RecordEvents answered after ${Date.now() - t1} ms (the store's 1 s bound)`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const again = await a.client.rank({ user_id: 'user-000014', num_results: 10, options: PLAIN });
    assert.deepEqual(again.degradations, [], 'served from Redis once it answers again');
    await kill(a);
  });

  it('through nginx (deploy/nginx-grpc.conf): a purchase leaves the top results of the next 20 calls, both replicas serving', async function () {
    const flags = ['--user-store', redis().url];
    const [a, b] = [await servers.start(flags), await servers.start(flags)];
    const lb = await startNginx([a.grpcPort, b.grpcPort]);
    if (lb === null) this.skip();
    const client = new RankingClient(`127.0.0.1:${lb!.port}`, { deadlineMs: 20_000 });
    try {
      const user = 'user-000013';
      const top = (await topItems(client, user))[0];
      const before = [await ranksServed(a), await ranksServed(b)];
      const ack = await client.recordEvents({ events: [{ user_id: user, item_id: top, type: 'ACTION_TYPE_PURCHASE' }] });
      assert.equal(Number(ack.accepted), 1);
      // Concurrent calls, so that least_conn spreads them over both replicas.
      const lists = await Promise.all(Array.from({ length: 20 }, () => topItems(client, user)));
      for (const [i, items] of lists.entries()) assert.ok(!items.includes(top), `call ${i}: purchased ${top} still in the top 10`);
      const served = [(await ranksServed(a)) - before[0], (await ranksServed(b)) - before[1]];
      assert.equal(served[0] + served[1], 20);
      assert.ok(served[0] > 0 && served[1] > 0, `both replicas served calls: ${served.join(' + ')}`);
    } finally {
      client.close();
      await lb?.stop();
      await Promise.all([kill(a), kill(b)]);
    }
  });

  it('through nginx, SIGKILL of one replica under load: calls keep succeeding (the failures during the switch are counted)', async function () {
    const flags = ['--user-store', redis().url];
    const [a, b] = [await servers.start(flags), await servers.start(flags)];
    const lb = await startNginx([a.grpcPort, b.grpcPort]);
    if (lb === null) this.skip();
    const client = new RankingClient(`127.0.0.1:${lb!.port}`, { deadlineMs: 20_000 });
    const outcomes: { at: number; ok: boolean; code?: number }[] = [];
    let killedAt = Infinity;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          await client.rank({ user_id: `user-0000${String((w * 7 + i) % 90).padStart(2, '0')}`, num_results: 10, options: PLAIN });
          outcomes.push({ at: Date.now(), ok: true });
        } catch (err) {
          outcomes.push({ at: Date.now(), ok: false, code: (err as { code?: number }).code });
        }
      }
    };
    try {
      const load = Promise.all([0, 1, 2, 3].map(worker));
      await new Promise((r) => setTimeout(r, 1500));
      killedAt = Date.now();
      await kill(a);
      await new Promise((r) => setTimeout(r, 2500));
      stop = true;
      await load;
      const failed = outcomes.filter((o) => !o.ok);
      const after = outcomes.filter((o) => o.at > killedAt + 1000);
      this.test!.title += ` (${outcomes.length} calls, ${failed.length} failed${failed.length ? `: codes ${[...new Set(failed.map((f) => f.code))].join(', ')}` : ''})`;
      assert.ok(failed.every((f) => f.at >= killedAt), 'nothing failed before the kill');
      assert.ok(failed.length <= 8, `at most the calls in flight at the kill fail: ${failed.length}`);
      assert.ok(after.length > 20 && after.every((o) => o.ok), 'a second after the kill every call succeeds (on the other replica)');
      // A call in flight on the killed replica fails as nginx resets its stream:
      // UNAVAILABLE, or INTERNAL when grpc-js reads the reset (RST_STREAM) itself.
      assert.ok(failed.every((f) => f.code === 14 || f.code === 13), `only the calls cut by the kill fail: codes ${failed.map((f) => f.code).join(', ')}`);
    } finally {
      stop = true;
      client.close();
      await lb?.stop();
      await kill(b);
    }
  });

  it('a restart of redis-server (AOF on) under load: Rank degrades, RecordEvents is UNAVAILABLE, never INTERNAL, and no acknowledged event is lost', async function () {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const aof = await mkdtemp(path.join(os.tmpdir(), 'redis-aof-'));
    let store = await startRedis(undefined, aof);
    const a = await servers.start(['--user-store', store!.url]);
    const item = (await topItems(a.client, 'user-000001'))[0];
    const acked: string[] = [];
    const codes = new Map<string, number>();
    let stop = false;
    const count = (k: string) => codes.set(k, (codes.get(k) ?? 0) + 1);
    const writer = async () => {
      for (let i = 0; !stop; i++) {
        const user = `restart-${process.pid}-${i}`;
        try {
          await a.client.recordEvents({ events: [{ user_id: user, item_id: item, type: 'ACTION_TYPE_CLICK' }] });
          acked.push(user);
          count('events OK');
        } catch (err) {
          count(`events ${(err as { code?: number }).code}`);
        }
      }
    };
    const reader = async () => {
      while (!stop) {
        try {
          const res = await a.client.rank({ user_id: 'user-000002', num_results: 10, options: PLAIN });
          count(res.degradations.includes('user_state_unavailable') ? 'rank degraded' : 'rank OK');
        } catch (err) {
          count(`rank ${(err as { code?: number }).code}`);
        }
      }
    };
    try {
      const load = Promise.all([writer(), reader()]);
      await new Promise((r) => setTimeout(r, 800));
      await store!.stop();
      await new Promise((r) => setTimeout(r, 500));
      store = await startRedis(store!.port, aof);
      await new Promise((r) => setTimeout(r, 2500));
      stop = true;
      await load;
      this.test!.title += ` (${[...codes].map(([k, v]) => `${k} ${v}`).join(', ')})`;
      assert.deepEqual([...codes.keys()].filter((k) => !['events OK', 'events 14', 'rank OK', 'rank degraded'].includes(k)), [], 'only OK, UNAVAILABLE (14) and degraded answers');
      assert.ok((codes.get('events 14') ?? 0) > 0 && (codes.get('rank degraded') ?? 0) > 0, 'the outage was seen');
      const check = await RedisUserStore.connect({ url: store!.url, cacheEntries: 0 });
      try {
        const missing: string[] = [];
        // The store names items by id: read through a catalog of the one item clicked.
        const catalog = { ids: [item], rowOf: new Map([[item, 0]]) };
        for (const user of acked) if ((await check.snapshot(user, Date.now(), catalog)).actionRows.length !== 1) missing.push(user);
        assert.deepEqual(missing, [], `every acknowledged event is in Redis after the restart (${acked.length} acknowledged)`);
      } finally {
        await check.close();
      }
    } finally {
      stop = true;
      await kill(a);
      await store?.stop();
      await rm(aof, { recursive: true, force: true });
    }
  });
});
