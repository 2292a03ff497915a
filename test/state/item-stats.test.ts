import * as assert from 'node:assert/strict';

import { ItemStats } from '../../src/state';
import { ACTION } from '../../src/models/schema';

describe('engine/state/item-stats', () => {
  it('counts impressions and clicks into a Beta posterior', () => {
    const st = new ItemStats(10);
    assert.deepEqual(st.posterior(3), { alpha: 1, beta: 1 });
    for (let i = 0; i < 10; i++) st.record(3, ACTION.impression, 1000 + i);
    for (let i = 0; i < 3; i++) st.record(3, ACTION.click, 2000 + i);
    st.record(3, ACTION.purchase, 5000); // ignored
    st.record(3, ACTION.cart, 5000);
    st.record(3, ACTION.wishlist, 5000);
    assert.equal(st.impressions(3), 10);
    assert.equal(st.clicks(3), 3);
    assert.deepEqual(st.posterior(3), { alpha: 4, beta: 8 });
    assert.equal(st.lastEventTime(3), 2002);
    // more clicks than impressions (a log without impressions): beta stays at 1
    for (let i = 0; i < 12; i++) st.record(4, ACTION.click, 0);
    assert.deepEqual(st.posterior(4), { alpha: 13, beta: 1 });
    st.record(4, ACTION.impression, 0);
    assert.deepEqual(st.posterior(4), { alpha: 13, beta: 1 });
    // other rows untouched
    assert.deepEqual(st.posterior(2), { alpha: 1, beta: 1 });
  });

  it('grows with the catalog, keeping the counts', () => {
    const st = new ItemStats();
    assert.equal(st.capacity, 0);
    assert.deepEqual(st.posterior(5), { alpha: 1, beta: 1 });
    assert.equal(st.impressions(-1), 0);
    st.record(0, ACTION.click, 1);
    st.record(99, ACTION.impression, 1);
    assert.ok(st.capacity >= 100);
    st.ensureCapacity(1000);
    assert.equal(st.capacity, 1000);
    st.ensureCapacity(10); // never shrinks
    assert.equal(st.capacity, 1000);
    assert.equal(st.clicks(0), 1);
    assert.equal(st.impressions(99), 1);
    st.record(5000, ACTION.click, 1);
    assert.equal(st.clicks(5000), 1);
    assert.equal(st.clicks(0), 1);
  });

  it('applies a batch of engine events and rejects bad rows', () => {
    const st = new ItemStats(4);
    st.apply([
      { userId: 'a', row: 1, action: ACTION.impression, ts: 1 },
      { userId: 'b', row: 1, action: ACTION.impression, ts: 2 },
      { userId: 'b', row: 1, action: ACTION.click, ts: 3 },
      { userId: 'b', row: 2, action: ACTION.purchase, ts: 4 },
    ]);
    assert.deepEqual(st.posterior(1), { alpha: 2, beta: 2 });
    assert.deepEqual(st.posterior(2), { alpha: 1, beta: 1 });
    assert.throws(() => st.record(-1, ACTION.click, 0), TypeError);
    assert.throws(() => st.record(0.5, ACTION.impression, 0), TypeError);
    assert.throws(() => st.ensureCapacity(-3), TypeError);
  });
});
