import * as assert from 'node:assert/strict';

import { EngineEvent, InMemoryUserStore } from '../../src/state';
import { ACTION, ActionCode } from '../../src/models/schema';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-11-01T00:00:00.000Z');

function ev(userId: string, row: number, action: ActionCode, ts: number): EngineEvent {
  return { userId, row, action, ts };
}

function actions(store: InMemoryUserStore, user: string, now = T0): [number, number, number][] {
  const s = store.snapshot(user, now);
  return Array.from(s.actionRows, (r, i) => [r, s.actionCodes[i], s.actionTimes[i]]);
}

describe('engine/state/user-store', () => {
  it('keeps the last maxActions actions, oldest first', () => {
    const store = new InMemoryUserStore({ maxActions: 5 });
    const evs: EngineEvent[] = [];
    for (let i = 0; i < 23; i++) evs.push(ev('u', i, ACTION.click, T0 + i));
    assert.deepEqual(store.apply(evs, T0 + 100), { applied: 23 });
    assert.deepEqual(actions(store, 'u'), [18, 19, 20, 21, 22].map((r) => [r, ACTION.click, T0 + r]));
    // one at a time through the ring's wrap-around, beyond the initial capacity
    const big = new InMemoryUserStore({ maxActions: 50 });
    for (let i = 0; i < 137; i++) big.apply([ev('u', i, ((i % 4) + 2) as ActionCode, T0 + i)], T0 + 200);
    const got = actions(big, 'u');
    assert.equal(got.length, 50);
    assert.deepEqual(got.map((a) => a[0]), Array.from({ length: 50 }, (_, i) => 87 + i));
    assert.deepEqual(got.map((a) => a[1]), Array.from({ length: 50 }, (_, i) => ((87 + i) % 4) + 2));
  });

  it('impressions go to seen, not to the action sequence', () => {
    const store = new InMemoryUserStore();
    store.apply([ev('u', 7, ACTION.impression, T0), ev('u', 8, ACTION.click, T0 + 1)], T0 + 2);
    const s = store.snapshot('u', T0 + 2);
    assert.deepEqual(Array.from(s.actionRows), [8]);
    assert.deepEqual([...s.seen], [[7, T0]]);
    assert.equal(s.purchased.size, 0);
  });

  it('inserts out-of-order events in time order, equal times in arrival order', () => {
    const store = new InMemoryUserStore({ maxActions: 4 });
    store.apply([ev('u', 1, ACTION.click, T0 + 10), ev('u', 2, ACTION.click, T0 + 30)], T0 + 100);
    store.apply([ev('u', 3, ACTION.cart, T0 + 20), ev('u', 4, ACTION.wishlist, T0 + 10)], T0 + 100);
    assert.deepEqual(actions(store, 'u').map((a) => a[0]), [1, 4, 3, 2]);
    // full: an event older than everything kept is dropped, a newer-than-oldest one evicts the oldest
    assert.deepEqual(store.apply([ev('u', 5, ACTION.click, T0 + 5)], T0 + 100), { applied: 0 });
    assert.deepEqual(actions(store, 'u').map((a) => a[0]), [1, 4, 3, 2]);
    store.apply([ev('u', 6, ACTION.click, T0 + 25)], T0 + 100);
    assert.deepEqual(actions(store, 'u').map((a) => a[0]), [4, 3, 6, 2]);
    store.apply([ev('u', 7, ACTION.click, T0 + 30)], T0 + 100);
    assert.deepEqual(actions(store, 'u').map((a) => a[0]), [3, 6, 2, 7]);
    const times = actions(store, 'u').map((a) => a[2]);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
  });

  it('matches a sorted-list reference on random out-of-order input', () => {
    let seed = 12345;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const store = new InMemoryUserStore({ maxActions: 20 });
    const ref: [number, number][] = [];
    for (let i = 0; i < 2000; i++) {
      const ts = T0 + i * 10 - rand(300);
      store.apply([ev('u', i, ACTION.click, ts)], T0 + 1e6);
      // reference: stable insert by ts, keep the last 20
      let p = ref.length;
      while (p > 0 && ref[p - 1][1] > ts) p--;
      if (!(ref.length === 20 && p === 0)) ref.splice(p, 0, [i, ts]);
      if (ref.length > 20) ref.shift();
    }
    assert.deepEqual(actions(store, 'u').map((a) => [a[0], a[2]]), ref);
  });

  it('drops purchases beyond the window and impressions beyond the ttl', () => {
    const store = new InMemoryUserStore({ purchaseWindowMs: 60 * DAY, seenTtlMs: DAY });
    const now = T0 + 100 * DAY;
    store.apply(
      [
        ev('u', 1, ACTION.purchase, now - 61 * DAY), // already expired: sequence only
        ev('u', 2, ACTION.purchase, now - 10 * DAY),
        ev('u', 2, ACTION.purchase, now - 20 * DAY), // older repeat: keeps the latest
        ev('u', 3, ACTION.impression, now - 2 * DAY), // expired
        ev('u', 4, ACTION.impression, now - HOUR),
        ev('u', 4, ACTION.impression, now - 3 * HOUR),
      ],
      now,
    );
    let s = store.snapshot('u', now);
    assert.deepEqual([...s.purchased], [[2, now - 10 * DAY]]);
    assert.deepEqual([...s.seen], [[4, now - HOUR]]);
    assert.deepEqual(Array.from(s.actionTimes), [now - 61 * DAY, now - 20 * DAY, now - 10 * DAY]);
    assert.deepEqual(Array.from(s.actionRows), [1, 2, 2]);
    // time passes: the same state read later has expired entries
    s = store.snapshot('u', now + 2 * HOUR);
    assert.equal(s.seen.size, 1);
    s = store.snapshot('u', now + DAY);
    assert.equal(s.seen.size, 0);
    assert.equal(s.purchased.size, 1);
    s = store.snapshot('u', now + 51 * DAY);
    assert.equal(s.purchased.size, 0);
    assert.equal(s.actionRows.length, 3);
  });

  it('sweeps expired impressions as the seen map grows', () => {
    const store = new InMemoryUserStore({ seenTtlMs: 1000 });
    for (let i = 0; i < 1000; i++) store.apply([ev('u', i, ACTION.impression, T0 + i * 100)], T0 + i * 100);
    const s = store.snapshot('u', T0 + 99_900);
    assert.equal(s.seen.size, 11);
    // the store itself holds a bounded number of rows, not all 1000
    const held = (store as unknown as { users: Map<string, { seen: { size: number } }> }).users.get('u')!.seen.size;
    assert.ok(held < 100, `held ${held}`);
  });

  it('evicts the least recently active user beyond maxUsers', () => {
    const store = new InMemoryUserStore({ maxUsers: 3 });
    store.apply([ev('a', 1, ACTION.click, T0), ev('b', 1, ACTION.click, T0), ev('c', 1, ACTION.click, T0)], T0);
    store.apply([ev('a', 2, ACTION.click, T0 + 1)], T0 + 1); // a is active again: b is the oldest
    store.apply([ev('d', 1, ACTION.click, T0 + 2)], T0 + 2);
    assert.equal(store.size(), 3);
    assert.ok(!store.has('b'));
    assert.ok(store.has('a') && store.has('c') && store.has('d'));
    assert.equal(store.snapshot('b', T0 + 2).actionRows.length, 0);
    // within one batch too
    store.apply([ev('e', 1, ACTION.click, T0 + 3), ev('c', 3, ACTION.click, T0 + 3), ev('f', 1, ACTION.click, T0 + 3)], T0 + 3);
    assert.deepEqual(['a', 'c', 'd', 'e', 'f'].filter((u) => store.has(u)), ['c', 'e', 'f']);
    // snapshots do not count as activity: e stays the least recently active
    assert.equal(store.snapshot('e', T0 + 4).actionRows.length, 1);
    store.apply([ev('g', 1, ACTION.click, T0 + 4)], T0 + 4);
    assert.deepEqual(['c', 'e', 'f', 'g'].filter((u) => store.has(u)), ['c', 'f', 'g']);
    // an evicted user's slot is reused: the newcomer starts empty
    store.apply([ev('h', 9, ACTION.cart, T0 + 5)], T0 + 5);
    assert.deepEqual(actions(store, 'h'), [[9, ACTION.cart, T0 + 5]]);
    assert.deepEqual(actions(store, 'g'), [[1, ACTION.click, T0 + 4]]);
  });

  it('an unknown user gets an empty snapshot', () => {
    const s = new InMemoryUserStore().snapshot('nobody', T0);
    assert.equal(s.actionRows.length + s.actionCodes.length + s.actionTimes.length, 0);
    assert.ok(s.actionRows instanceof Int32Array && s.actionCodes instanceof Uint8Array && s.actionTimes instanceof Float64Array);
    assert.equal(s.purchased.size + s.seen.size, 0);
  });

  it('rejects a bad batch before applying any of it', () => {
    const store = new InMemoryUserStore();
    store.apply([ev('u', 1, ACTION.click, T0)], T0);
    const good = ev('u', 2, ACTION.purchase, T0 + 1);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...good, ts: -5 }, /events\[1\]\.ts/],
      [{ ...good, ts: NaN }, /events\[1\]\.ts/],
      [{ ...good, action: 9 }, /events\[1\]\.action/],
      [{ ...good, action: 0 }, /events\[1\]\.action/],
      [{ ...good, action: 'click' }, /events\[1\]\.action/],
      [{ ...good, row: -1 }, /events\[1\]\.row/],
      [{ ...good, row: 1.5 }, /events\[1\]\.row/],
      [{ ...good, userId: '' }, /events\[1\]\.userId/],
      [{ ...good, userId: 42 }, /events\[1\]\.userId/],
    ];
    for (const [e, msg] of bad) {
      const batch = [ev('new-user', 3, ACTION.click, T0 + 1), e as unknown as EngineEvent, good];
      assert.throws(() => store.apply(batch, T0 + 2), (err: Error) => err instanceof TypeError && msg.test(err.message));
    }
    assert.throws(() => store.apply([null as unknown as EngineEvent], T0), TypeError);
    assert.throws(() => store.apply([good], NaN), /now/);
    assert.equal(store.size(), 1);
    assert.ok(!store.has('new-user'));
    assert.deepEqual(actions(store, 'u'), [[1, ACTION.click, T0]]);
    assert.equal(store.snapshot('u', T0 + 2).purchased.size, 0);
  });

  it('snapshots are copies, independent of later applies', () => {
    const store = new InMemoryUserStore({ maxActions: 3 });
    store.apply([ev('u', 1, ACTION.purchase, T0), ev('u', 2, ACTION.impression, T0), ev('u', 3, ACTION.click, T0 + 1)], T0 + 1);
    const s = store.snapshot('u', T0 + 1);
    const before = { rows: Array.from(s.actionRows), purchased: [...s.purchased], seen: [...s.seen] };
    store.apply([ev('u', 4, ACTION.purchase, T0 + 2), ev('u', 5, ACTION.click, T0 + 3), ev('u', 6, ACTION.impression, T0 + 3)], T0 + 3);
    assert.deepEqual({ rows: Array.from(s.actionRows), purchased: [...s.purchased], seen: [...s.seen] }, before);
    // and mutating the snapshot does not touch the store
    s.actionRows.fill(-1);
    s.purchased.clear();
    s.seen.set(99, T0);
    const t = store.snapshot('u', T0 + 3);
    assert.deepEqual(Array.from(t.actionRows), [3, 4, 5]);
    assert.deepEqual([...t.purchased.keys()], [1, 4]);
    assert.deepEqual([...t.seen.keys()], [2, 6]);
  });

  it('validates its options', () => {
    assert.throws(() => new InMemoryUserStore({ maxActions: 0 }), RangeError);
    assert.throws(() => new InMemoryUserStore({ maxUsers: 1.5 }), RangeError);
    assert.throws(() => new InMemoryUserStore({ seenTtlMs: -1 }), RangeError);
    assert.equal(new InMemoryUserStore().options.maxActions, 50);
    assert.equal(new InMemoryUserStore({ maxActions: undefined, maxUsers: 7 }).options.maxActions, 50);
    assert.throws(() => new InMemoryUserStore().snapshot('u', NaN), /now/);
  });

  it('throughput: 200k events (printed, not asserted)', () => {
    const users = 20_000;
    const n = 200_000;
    const evs: EngineEvent[] = new Array(n);
    let x = 1;
    for (let i = 0; i < n; i++) {
      x = (x * 1664525 + 1013904223) >>> 0;
      const action = (i % 3 === 0 ? ACTION.impression : (x % 4) + 2) as ActionCode;
      evs[i] = { userId: `user-${(x >>> 8) % users}`, row: (x >>> 7) % 100_000, action, ts: T0 + i * 10 - (x % 5 === 0 ? 5000 : 0) };
    }
    const store = new InMemoryUserStore();
    const now = T0 + n * 10;
    const batches: EngineEvent[][] = [];
    for (let i = 0; i < n; i += 1000) batches.push(evs.slice(i, i + 1000));
    const t = process.hrtime.bigint();
    let applied = 0;
    for (const b of batches) applied += store.apply(b, now).applied;
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    console.log(`      apply: ${n} events (${applied} applied, ${store.size()} users) in ${(s * 1000).toFixed(0)} ms = ${Math.round(n / s).toLocaleString('en-US')} events/s`);
    assert.ok(store.size() > users * 0.99);
  });
});
