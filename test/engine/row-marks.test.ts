import { strict as assert } from 'node:assert';

import { RowMarks } from '../../src/engine/row-marks';

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

  it('stays correct across the epoch wrap-around', () => {
    const m = new RowMarks(4);
    m.add(1);
    // Drive the epoch to its last value, then one more clear wraps it.
    (m as unknown as { epoch: number }).epoch = 0xfffffffe;
    m.add(2);
    assert.equal(m.has(2), true);
    assert.equal(m.has(1), false, 'a mark of an old epoch is not a member');
    m.clear();
    assert.equal(m.has(2), false, 'after the wrap nothing is a member');
    assert.equal(m.has(1), false);
    m.add(1);
    assert.equal(m.has(1), true);
  });
});
