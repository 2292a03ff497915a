// The user tower's output is reused only while its input is exactly the same.
import { strict as assert } from 'node:assert';

import { UserEmbeddingCache } from '../../src/models/user-embedding-cache';
import type { UserSnapshot } from '../../src/state/snapshot';

function snap(rows: number[], codes: number[], times: number[]): UserSnapshot {
  return { actionRows: Int32Array.from(rows), actionCodes: Uint8Array.from(codes), actionTimes: Float64Array.from(times), purchased: new Map(), seen: new Map() };
}

const out = (v: number) => ({ embedding: Float32Array.of(v, v), pricePref: v });

describe('engine: user embedding cache', () => {
  const opts = { maxEntries: 3, maxAgeMs: 1000 };
  const u = snap([1, 2, 3], [2, 2, 5], [10, 20, 30]);

  it('hits for the same actions, catalog version and a recent entry', () => {
    const c = new UserEmbeddingCache(opts, 50);
    assert.equal(c.get('a', u, 1, 100), null);
    c.put('a', u, 1, 100, out(1));
    assert.equal(c.get('a', snap([1, 2, 3], [2, 2, 5], [10, 20, 30]), 1, 500)?.pricePref, 1);
    assert.equal(c.hits, 1);
    assert.equal(c.misses, 1);
  });

  it('misses when an action, its type or its time changed, or one was added', () => {
    const c = new UserEmbeddingCache(opts, 50);
    c.put('a', u, 1, 100, out(1));
    assert.equal(c.get('a', snap([1, 2, 4], [2, 2, 5], [10, 20, 30]), 1, 100), null);
    assert.equal(c.get('a', snap([1, 2, 3], [2, 3, 5], [10, 20, 30]), 1, 100), null);
    assert.equal(c.get('a', snap([1, 2, 3], [2, 2, 5], [10, 20, 31]), 1, 100), null);
    assert.equal(c.get('a', snap([1, 2, 3, 9], [2, 2, 5, 2], [10, 20, 30, 40]), 1, 100), null);
    assert.equal(c.get('b', u, 1, 100), null);
  });

  it('misses after a catalog change and once the entry is older than maxAgeMs (or from the future)', () => {
    const c = new UserEmbeddingCache(opts, 50);
    c.put('a', u, 1, 100, out(1));
    assert.equal(c.get('a', u, 2, 100), null);
    assert.equal(c.get('a', u, 1, 1101), null);
    assert.equal(c.get('a', u, 1, 99), null);
    assert.ok(c.get('a', u, 1, 1100));
  });

  it('compares only the last maxActions actions (what the tower reads)', () => {
    const c = new UserEmbeddingCache(opts, 2);
    c.put('a', u, 1, 100, out(1));
    assert.ok(c.get('a', snap([7, 2, 3], [4, 2, 5], [1, 20, 30]), 1, 100), 'an action the tower does not read changed');
    assert.equal(c.get('a', snap([1, 9, 3], [2, 2, 5], [10, 20, 30]), 1, 100), null);
  });

  it('evicts the least recently used past maxEntries; maxEntries 0 keeps nothing', () => {
    const c = new UserEmbeddingCache(opts, 50);
    for (const id of ['a', 'b', 'c']) c.put(id, u, 1, 100, out(1));
    assert.ok(c.get('a', u, 1, 100));
    c.put('d', u, 1, 100, out(1));
    assert.equal(c.size, 3);
    assert.equal(c.get('b', u, 1, 100), null, 'b was the least recently used');
    assert.ok(c.get('a', u, 1, 100));
    const off = new UserEmbeddingCache({ maxEntries: 0, maxAgeMs: 1000 }, 50);
    off.put('a', u, 1, 100, out(1));
    assert.equal(off.get('a', u, 1, 100), null);
  });
});
