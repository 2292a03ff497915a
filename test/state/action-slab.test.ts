import * as assert from 'node:assert/strict';

import { ActionSlab, Ring } from '../../src/state/action-slab';

function read(slab: ActionSlab, ring: Ring): [number, number, number][] {
  const rows = new Int32Array(ring.count);
  const codes = new Uint8Array(ring.count);
  const times = new Float64Array(ring.count);
  slab.copyInto(ring, rows, codes, times);
  return Array.from(rows, (r, i) => [r, codes[i], times[i]]);
}

describe('engine/state/action-slab', () => {
  it('matches a stable sorted-insert reference across rings, chunks and recycled slots', () => {
    let seed = 99;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const cap = 7;
    const slab = new ActionSlab(cap, 2); // 2 rings per chunk: 5 rings span 3 chunks
    const rings: Ring[] = [];
    const refs: [number, number, number][][] = [];
    for (let k = 0; k < 5; k++) {
      rings.push(slab.allocate());
      refs.push([]);
    }
    for (let i = 0; i < 5000; i++) {
      const k = rand(5);
      if (rand(200) === 0) {
        // evict and reuse: the new ring starts empty
        slab.release(rings[k]);
        rings[k] = slab.allocate();
        refs[k] = [];
        assert.equal(slab.used, 5);
      }
      const ts = Math.floor(i / 3) - rand(8); // many ties and late arrivals
      const code = 2 + rand(4);
      const kept = slab.insert(rings[k], i, code, ts);
      const ref = refs[k];
      let p = ref.length;
      while (p > 0 && ref[p - 1][2] > ts) p--;
      assert.equal(kept, !(ref.length === cap && p === 0));
      if (kept) ref.splice(p, 0, [i, code, ts]);
      if (ref.length > cap) ref.shift();
    }
    for (let k = 0; k < 5; k++) assert.deepEqual(read(slab, rings[k]), refs[k], `ring ${k}`);
  });

  it('reports slots in use and ignores a double release', () => {
    const slab = new ActionSlab(3, 4);
    const a = slab.allocate();
    const b = slab.allocate();
    assert.equal(slab.used, 2);
    slab.release(a);
    slab.release(a);
    assert.equal(slab.used, 1);
    const c = slab.allocate();
    assert.equal(c.slot, 0);
    assert.notEqual(c.slot, b.slot);
    assert.deepEqual(read(slab, c), []);
  });
});
