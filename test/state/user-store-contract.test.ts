// The UserStore contract, run against the in-memory store and the Redis
// store (a redis-server of the test's own): the same events give the same
// snapshots. Redis alone: two stores on one server (two replicas) see each
// other's writes at once, and the keys share one Cluster slot per user.
import * as assert from 'node:assert/strict';

import { ACTION, ActionCode } from '../../src/models/schema';
import { InMemoryUserStore } from '../../src/state';
import type { EngineEvent, UserStore } from '../../src/state';
import { RedisUserStore } from '../../src/state/redis-user-store';
import { redisForSuite, startRedisCluster } from './redis-server';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-11-01T00:00:00.000Z');
const OPTS = { maxActions: 5, purchaseWindowMs: 60 * DAY, seenTtlMs: DAY };

const ev = (userId: string, row: number, action: ActionCode, ts: number): EngineEvent => ({ userId, row, action, ts });

async function view(store: UserStore, user: string, now: number) {
  const s = await store.snapshot(user, now);
  return {
    actions: Array.from(s.actionRows, (r, i) => [r, s.actionCodes[i], s.actionTimes[i]]),
    purchased: [...s.purchased].sort((a, b) => a[0] - b[0]),
    seen: [...s.seen].sort((a, b) => a[0] - b[0]),
  };
}

function contract(name: string, make: () => Promise<UserStore>): void {
  describe(`UserStore contract: ${name}`, function () {
    this.timeout(20_000);
    let store: UserStore;
    let n = 0;
    // A fresh user id per test: the Redis server is shared by the tests.
    const user = () => `contract-${name}-${process.pid}-${n++}`;
    before(async () => {
      store = await make();
    });
    after(async () => {
      await store?.close?.();
    });

    it('an unknown user has an empty snapshot', async () => {
      assert.deepEqual(await view(store, user(), T0), { actions: [], purchased: [], seen: [] });
    });

    it('keeps the last maxActions actions in time order, whatever the arrival order', async () => {
      const u = user();
      const evs = [3, 0, 6, 1, 5, 2, 4].map((i) => ev(u, 100 + i, ACTION.click, T0 + i * 1000));
      assert.equal((await store.apply(evs, T0 + 10_000)).applied, 7);
      assert.deepEqual((await view(store, u, T0 + 10_000)).actions, [2, 3, 4, 5, 6].map((i) => [100 + i, ACTION.click, T0 + i * 1000]));
    });

    it('impressions go to seen (until the seen TTL), purchases to the actions and to purchased (until the window)', async () => {
      const u = user();
      await store.apply([ev(u, 7, ACTION.impression, T0), ev(u, 8, ACTION.purchase, T0 + 1), ev(u, 9, ACTION.cart, T0 + 2)], T0 + 2);
      const now = await view(store, u, T0 + 2);
      assert.deepEqual(now.actions, [[8, ACTION.purchase, T0 + 1], [9, ACTION.cart, T0 + 2]]);
      assert.deepEqual(now.seen, [[7, T0]]);
      assert.deepEqual(now.purchased, [[8, T0 + 1]]);
      const later = await view(store, u, T0 + 2 * DAY);
      assert.deepEqual(later.seen, [], 'impressions older than the seen TTL do not count');
      assert.deepEqual(later.purchased, [[8, T0 + 1]]);
      assert.deepEqual((await view(store, u, T0 + 61 * DAY)).purchased, [], 'purchases older than the window do not count');
    });

    it('keeps the latest time of a seen or purchased row, and counts a repeated event as not applied', async () => {
      const u = user();
      await store.apply([ev(u, 7, ACTION.impression, T0 + 10), ev(u, 8, ACTION.purchase, T0 + 10)], T0 + 10);
      const r = await store.apply([ev(u, 7, ACTION.impression, T0 + 5), ev(u, 8, ACTION.purchase, T0 + 10), ev(u, 7, ACTION.impression, T0 + 20)], T0 + 20);
      assert.equal(r.applied, 1);
      const v = await view(store, u, T0 + 20);
      assert.deepEqual(v.seen, [[7, T0 + 20]]);
      assert.deepEqual(v.purchased, [[8, T0 + 10]]);
    });

    it('drops impressions already older than the seen TTL', async () => {
      const u = user();
      assert.equal((await store.apply([ev(u, 7, ACTION.impression, T0)], T0 + 2 * DAY)).applied, 0);
      assert.deepEqual((await view(store, u, T0 + 2 * DAY)).seen, []);
    });

    it('applies a batch atomically: a bad event throws a TypeError naming it, and nothing is applied', async () => {
      const u = user();
      const bad = [ev(u, 1, ACTION.click, T0), { userId: u, row: -1, action: ACTION.click, ts: T0 } as EngineEvent];
      await assert.rejects(async () => store.apply(bad, T0), (err: Error) => err instanceof TypeError && /events\[1\]\.row/.test(err.message));
      assert.deepEqual((await view(store, u, T0)).actions, []);
    });
  });
}

contract('in memory', async () => new InMemoryUserStore(OPTS));

describe('UserStore in Redis', function () {
  this.timeout(30_000);
  const redis = redisForSuite();

  // The contract, once the server is up (mocha builds suites before hooks run: the URL is read lazily).
  contract('redis', async () => RedisUserStore.connect({ url: redis().url, ...OPTS }));

  it('two stores on one server (two replicas) see each other\'s writes once Redis\'s invalidation arrives, through the local cache', async () => {
    const a = await RedisUserStore.connect({ url: redis().url, ...OPTS });
    const b = await RedisUserStore.connect({ url: redis().url, ...OPTS });
    try {
      const u = `replicas-${process.pid}`;
      assert.deepEqual((await view(b, u, T0)).actions, []);
      await a.apply([ev(u, 42, ACTION.purchase, T0)], T0);
      // b cached the empty answer; Redis sent b the invalidation as a wrote
      // (before acknowledging a): a push on b's connection, read on b's next
      // turn of the event loop. Between processes that turn comes long before
      // a call could travel from a's caller to b; in one process, yield to it.
      const delivered = () => new Promise((r) => setTimeout(r, 20));
      await delivered();
      assert.deepEqual((await view(b, u, T0)).purchased, [[42, T0]]);
      await b.apply([ev(u, 43, ACTION.click, T0 + 1)], T0 + 1);
      await delivered();
      assert.deepEqual((await view(a, u, T0 + 1)).actions, [[42, ACTION.purchase, T0], [43, ACTION.click, T0 + 1]]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('items are named by id: a catalog with other rows reads the same state, and items it does not have are left out', async () => {
    const store = await RedisUserStore.connect({ url: redis().url, ...OPTS });
    const catalog = (ids: string[]) => ({ ids, rowOf: new Map(ids.map((id, i) => [id, i])) });
    const a = catalog(['shoe', 'boot:tall', 'hat']);
    const b = catalog(['hat', 'sock', 'shoe']); // another bundle: other rows, boot:tall deleted
    try {
      const u = `ids-${process.pid}`;
      await store.apply([ev(u, 0, ACTION.click, T0), ev(u, 1, ACTION.cart, T0 + 1), ev(u, 2, ACTION.purchase, T0 + 2), ev(u, 1, ACTION.impression, T0 + 3)], T0 + 3, a);
      const inA = await store.snapshot(u, T0 + 3, a);
      assert.deepEqual([...inA.actionRows], [0, 1, 2]);
      assert.deepEqual([...inA.actionCodes], [ACTION.click, ACTION.cart, ACTION.purchase]);
      assert.deepEqual([...inA.seen], [[1, T0 + 3]], 'an id with ":" in it reads back');
      const inB = await store.snapshot(u, T0 + 3, b);
      assert.deepEqual([...inB.actionRows], [2, 0], 'shoe and hat at their rows in the other catalog; boot:tall left out');
      assert.deepEqual([...inB.actionTimes], [T0, T0 + 2]);
      assert.deepEqual([...inB.purchased], [[0, T0 + 2]]);
      assert.deepEqual([...inB.seen], []);
    } finally {
      await store.close();
    }
  });

  it('a user is one key (one Cluster slot) that expires with the purchase window; an id with a line break stays one item', async () => {
    const store = await RedisUserStore.connect({ url: redis().url, ...OPTS });
    const { createClient } = await import('redis');
    const raw = createClient({ url: redis().url });
    await raw.connect();
    try {
      const u = `keys-${process.pid}`;
      const ids = ['plain', 'evil\na|1|5|plain', '%41'];
      const catalog = { ids, rowOf: new Map(ids.map((id, i) => [id, i])) };
      await store.apply([ev(u, 0, ACTION.impression, T0), ev(u, 1, ACTION.purchase, T0), ev(u, 2, ACTION.click, T0 + 1)], T0 + 1, catalog);
      assert.deepEqual(await raw.keys(`u:{${u}}*`), [`u:{${u}}`]);
      const ttl = await raw.pTTL(`u:{${u}}`);
      assert.ok(ttl > DAY && ttl <= 60 * DAY, `expires with the purchase window: ${ttl}`);
      const s = await store.snapshot(u, T0 + 1, catalog);
      assert.deepEqual([...s.actionRows], [1, 2], 'the id with a line break is one action, and adds none of its own');
      assert.deepEqual([...s.actionCodes], [ACTION.purchase, ACTION.click]);
      assert.deepEqual([...s.purchased], [[1, T0]]);
      assert.deepEqual([...s.seen], [[0, T0]]);
    } finally {
      await raw.close();
      await store.close();
    }
  });
});

describe('UserStore in a 3-node Redis Cluster', function () {
  this.timeout(60_000);
  const cluster = redisForSuite(startRedisCluster);

  contract('redis cluster', async () => RedisUserStore.connect({ url: cluster().url, cluster: true, ...OPTS }));

  it('events of many users in one batch land on every node and read back', async () => {
    const a = await RedisUserStore.connect({ url: cluster().url, cluster: true, ...OPTS });
    const b = await RedisUserStore.connect({ url: cluster().url, cluster: true, ...OPTS });
    try {
      const users = Array.from({ length: 30 }, (_, i) => `spread-${process.pid}-${i}`);
      const r = await a.apply(users.map((u, i) => ev(u, i, ACTION.purchase, T0 + i)), T0 + 100);
      assert.equal(r.applied, 30);
      for (const [i, u] of users.entries()) assert.deepEqual((await view(b, u, T0 + 100)).purchased, [[i, T0 + i]]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
