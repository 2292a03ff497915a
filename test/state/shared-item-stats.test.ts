// The new items' click counts shared between replicas (shared-item-stats.ts):
// only new items' impressions and clicks are counted, a refresh sets base +
// shared totals, and two engines on one Redis see each other's traffic in
// their exploration posteriors.
import { strict as assert } from 'node:assert';

import { loadBundle } from '../../src/bundle/loader';
import { ACTION, ActionCode } from '../../src/models/schema';
import { Engine } from '../../src/pipeline/engine';
import { ItemStats } from '../../src/state/item-stats';
import { RedisUserStore } from '../../src/state/redis-user-store';
import { ItemCounter, ItemCounts, SharedItemStats } from '../../src/state/shared-item-stats';
import { ENGINE_OPTIONS, makeWorld } from '../api/harness';
import { redisForSuite } from './redis-server';

/** Counts in memory, as Redis would keep them. */
class FakeCounter implements ItemCounter {
  readonly totals = new Map<string, ItemCounts>();
  readonly touched = new Map<string, number>();
  writes = 0;
  async touchedSince(since: number): Promise<string[]> {
    return [...this.touched].filter(([, t]) => t >= since).map(([id]) => id);
  }
  async countItems(counts: ReadonlyMap<string, ItemCounts>): Promise<void> {
    this.writes++;
    for (const [id, c] of counts) {
      this.touched.set(id, Date.now());
      const t = this.totals.get(id) ?? { impressions: 0, clicks: 0 };
      this.totals.set(id, { impressions: t.impressions + c.impressions, clicks: t.clicks + c.clicks });
    }
  }
  async itemCounts(ids: readonly string[]): Promise<ItemCounts[]> {
    return ids.map((id) => this.totals.get(id) ?? { impressions: 0, clicks: 0 });
  }
}

/** Rows 0-1 new, row 2 old. */
function catalog() {
  const ids = ['new-a', 'new-b', 'old-c'];
  return { ids, rowOf: new Map(ids.map((id, i) => [id, i])), isNew: (row: number) => row < 2, freshRows: () => Int32Array.from([0, 1]) };
}

describe('shared item stats: the new items\' click counts of every replica', () => {
  it('counts the impressions and clicks of new items only, one write per batch', async () => {
    const counter = new FakeCounter();
    const shared = new SharedItemStats(counter, new ItemStats(3), catalog(), { ttlMs: 1000 });
    const ev = (row: number, action: ActionCode) => ({ userId: 'u', row, action, ts: 1 });
    await shared.record([ev(0, ACTION.impression), ev(0, ACTION.impression), ev(0, ACTION.click), ev(1, ACTION.purchase), ev(2, ACTION.click)], 1);
    assert.deepEqual([...counter.totals], [['new-a', { impressions: 2, clicks: 1 }]]);
    await shared.record([ev(2, ACTION.impression), ev(1, ACTION.cart)], 1);
    assert.equal(counter.writes, 1, 'a batch without new items\' impressions or clicks writes nothing');
  });

  it('a refresh sets each new item\'s local counts to its seeded base plus the shared totals', async () => {
    const counter = new FakeCounter();
    const stats = new ItemStats(3);
    stats.record(0, ACTION.impression, 1); // the seed events
    stats.record(0, ACTION.click, 1);
    const cat = catalog();
    const shared = new SharedItemStats(counter, stats, cat, { ttlMs: 1000, refreshMs: 60_000 });
    shared.start(() => 1);
    await shared.stop();
    counter.totals.set('new-a', { impressions: 10, clicks: 3 });
    counter.totals.set('new-b', { impressions: 4, clicks: 0 });
    counter.totals.set('old-c', { impressions: 99, clicks: 99 });
    assert.equal(await shared.refresh(1, true), 2);
    assert.deepEqual(stats.posterior(0), { alpha: 1 + 1 + 3, beta: 1 + (11 - 4) });
    assert.deepEqual(stats.posterior(1), { alpha: 1, beta: 5 });
    assert.deepEqual(stats.posterior(2), { alpha: 1, beta: 1 }, 'an old item is not refreshed');
    // The item at row 1 was replaced while its counts were read: the row is left alone.
    cat.rowOf.delete('new-b');
    counter.totals.set('new-b', { impressions: 50, clicks: 0 });
    await shared.refresh(1, true);
    assert.deepEqual(stats.posterior(1), { alpha: 1, beta: 5 });
  });

  it('between full refreshes, reads only the items whose counts changed', async () => {
    const counter = new FakeCounter();
    const stats = new ItemStats(3);
    const shared = new SharedItemStats(counter, stats, catalog(), { ttlMs: 1000, skewMs: 0 });
    assert.equal(await shared.refresh(1), 2, 'the first refresh reads every new item');
    assert.equal(await shared.refresh(1), 0, 'nothing changed since');
    await counter.countItems(new Map([['new-b', { impressions: 3, clicks: 1 }]]));
    assert.equal(await shared.refresh(1), 1, 'only the changed item');
    assert.deepEqual(stats.posterior(1), { alpha: 2, beta: 3 });
  });
});

describe('shared item stats through Redis: two engines', function () {
  this.timeout(120_000);
  const redis = redisForSuite();

  it('impressions and clicks recorded through one engine reach the other\'s posterior after its refresh', async () => {
    const world = await makeWorld();
    const bundle = await loadBundle(world.paths.bundle, { progress: false });
    const stores = [await RedisUserStore.connect({ url: redis().url }), await RedisUserStore.connect({ url: redis().url })];
    const [a, b] = await Promise.all(stores.map(async (store) => Engine.create(bundle, { ...ENGINE_OPTIONS, store })));
    try {
      const now = a.now();
      const fresh = a.catalog.freshRows(now, 10);
      assert.ok(fresh.length > 0, 'the test world has new items');
      const row = fresh[0];
      // b's refresher is stopped: the test refreshes it by hand.
      const shared = (b as unknown as { sharedStats: SharedItemStats }).sharedStats;
      await shared.stop();
      const before = b.stats.posterior(row);
      const events = [
        ...Array.from({ length: 30 }, (_, i) => ({ userId: `u-${i}`, row, action: ACTION.impression, ts: now - 1000 })),
        ...Array.from({ length: 6 }, (_, i) => ({ userId: `u-${i}`, row, action: ACTION.click, ts: now - 500 })),
      ];
      await a.recordEvents(events);
      assert.deepEqual(b.stats.posterior(row), before, 'not before b refreshes');
      await shared.refresh(b.now());
      assert.deepEqual(b.stats.posterior(row), { alpha: before.alpha + 6, beta: before.beta + 24 });
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('the counts of Redis: per item id, added up, expiring', async () => {
    const store = await RedisUserStore.connect({ url: redis().url });
    try {
      await store.countItems(new Map([['x', { impressions: 3, clicks: 1 }], ['y:1', { impressions: 0, clicks: 2 }]]), 60_000);
      await store.countItems(new Map([['x', { impressions: 2, clicks: 0 }]]), 60_000);
      assert.deepEqual(await store.itemCounts(['x', 'y:1', 'never']), [
        { impressions: 5, clicks: 1 },
        { impressions: 0, clicks: 2 },
        { impressions: 0, clicks: 0 },
      ]);
      const { createClient } = await import('redis');
      const raw = createClient({ url: redis().url });
      await raw.connect();
      const ttl = await raw.pTTL('i:{x}');
      await raw.close();
      assert.ok(ttl > 0 && ttl <= 60_000, `expires: ${ttl}`);
    } finally {
      await store.close();
    }
  });
});
