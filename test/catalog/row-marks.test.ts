import { strict as assert } from 'node:assert';

import { RowMarks } from '../../src/catalog/row-marks';

describe('engine: RowMarks', () => {
  it('starts empty, holds what was added, and clear() empties it', () => {
    const m = new RowMarks(10);
    for (let r = 0; r < 10; r++) assert.equal(m.has(r), false, `row ${r} before any add`);
    m.add(3);
    m.add(9);
    assert.deepEqual(
      Array.from({ length: 10 }, (_, r) => m.has(r)),
      [false, false, false, true, false, false, false, false, false, true],
    );
    m.clear();
    assert.equal(m.has(3), false);
    assert.equal(m.has(9), false);
    m.add(0);
    assert.equal(m.has(0), true);
  });

  it('clear() empties it after many adds, rows sharing a byte and repeated rows included', () => {
    const n = 5000;
    const m = new RowMarks(n);
    const want = new Set<number>();
    for (let i = 0; i < 3000; i++) {
      const r = (i * 7919) % n; // repeats and neighbours in the same byte
      m.add(r);
      want.add(r);
    }
    for (let r = 0; r < n; r++) assert.equal(m.has(r), want.has(r), `row ${r}`);
    m.clear();
    for (let r = 0; r < n; r++) assert.equal(m.has(r), false, `row ${r} after clear`);
    m.add(n - 1);
    assert.equal(m.has(n - 1), true);
    assert.equal(m.has(n - 2), false, 'a neighbour in the same byte is not a member');
  });
});
