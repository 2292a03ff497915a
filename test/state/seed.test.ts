import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { InMemoryUserStore, ItemStats, seedFromEvents } from '../../src/state';
import { ACTION } from '../../src/models/schema';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-01T00:00:00.000Z');

/** A catalog's ids by row from its rows by id. */
function itemIds(rowOf: Map<string, number>): { ids: string[]; rowOf: Map<string, number> } {
  const ids: string[] = [];
  for (const [id, row] of rowOf) ids[row] = id;
  return { ids, rowOf };
}

describe('engine/state/seed', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rank-state-seed-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('streams events.jsonl into the store and the stats, skipping unknown items', async () => {
    const lines = [
      { user: 'u1', item: 'i-a', action: 'click', ts: T0 - 5 * DAY },
      { user: 'u1', item: 'i-b', action: 'wishlist', ts: T0 - 4 * DAY },
      { user: 'u2', item: 'i-a', action: 'click', ts: T0 - 3 * DAY },
      { user: 'u2', item: 'i-zzz', action: 'click', ts: T0 - 3 * DAY }, // unknown item
      { user: 'u3', item: 'i-gone', action: 'purchase', ts: T0 - 3 * DAY }, // unknown item, only event of u3
      { user: 'u1', item: 'i-b', action: 'cart', ts: T0 - 2 * DAY },
      { user: 'u1', item: 'i-b', action: 'purchase', ts: T0 - DAY },
      { user: 'u2', item: 'i-c', action: 'impression', ts: T0 - 1000 },
    ];
    const file = path.join(dir, 'events.jsonl');
    await fs.writeFile(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n\n');
    const rowOf = new Map([['i-a', 0], ['i-b', 1], ['i-c', 2]]);
    const store = new InMemoryUserStore();
    const stats = new ItemStats(3);
    const res = await seedFromEvents(store, stats, file, itemIds(rowOf), T0, { batchSize: 3, yieldEvery: 2 });
    assert.deepEqual(res, { users: 2, events: 6, skipped: 2 });
    assert.equal(store.size(), 2);

    const s1 = store.snapshot('u1', T0);
    assert.deepEqual(Array.from(s1.actionRows), [0, 1, 1, 1]);
    assert.deepEqual(Array.from(s1.actionCodes), [ACTION.click, ACTION.wishlist, ACTION.cart, ACTION.purchase]);
    assert.deepEqual([...s1.purchased], [[1, T0 - DAY]]);
    const s2 = store.snapshot('u2', T0);
    assert.deepEqual(Array.from(s2.actionRows), [0]);
    assert.deepEqual([...s2.seen], [[2, T0 - 1000]]);

    assert.equal(stats.clicks(0), 2);
    assert.equal(stats.impressions(2), 1);
    assert.equal(stats.clicks(1), 0);
  });

  it('keeps the event loop responsive on a larger file', async () => {
    const n = 30_000;
    const rows: string[] = [];
    for (let i = 0; i < n; i++) rows.push(JSON.stringify({ user: `u${i % 500}`, item: `i${i % 1000}`, action: 'click', ts: T0 - n + i }));
    const file = path.join(dir, 'big.jsonl');
    await fs.writeFile(file, rows.join('\n') + '\n');
    const rowOf = new Map(Array.from({ length: 900 }, (_, i) => [`i${i}`, i] as [string, number]));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const res = await seedFromEvents(new InMemoryUserStore(), new ItemStats(), file, itemIds(rowOf), T0);
    clearInterval(timer);
    assert.deepEqual(res, { users: 500, events: 27_000, skipped: 3_000 });
    assert.ok(ticks > 0, 'timers ran while seeding');
  });

  it('names the file and line of a malformed line', async () => {
    const file = path.join(dir, 'bad.jsonl');
    await fs.writeFile(file, `${JSON.stringify({ user: 'u', item: 'i-a', action: 'click', ts: 1 })}\n{"user":"u","item":"i-a","action":"poke","ts":2}\n`);
    await assert.rejects(
      seedFromEvents(new InMemoryUserStore(), new ItemStats(), file, itemIds(new Map([['i-a', 0]])), T0),
      (err: Error) => err instanceof TypeError && err.message.includes('bad.jsonl:2') && err.message.includes('poke'),
    );
    await fs.writeFile(file, 'not json\n');
    await assert.rejects(seedFromEvents(new InMemoryUserStore(), new ItemStats(), file, itemIds(new Map()), T0), /bad\.jsonl:1: not JSON/);
  });
});
