// The native item-feature gather (layout user-item-v1) against the layout's
// TypeScript definition, its input checks, and the huge-page advice on the
// catalog's columns.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { featureLayout, gatherItemFeatures as layoutGather } from '../../src/models/layout';
import { native } from '../../src/native/binding';
import { adviseHugePages } from '../../src/native/memory';
import { NativeInputError } from '../../src/native/checks';
import { gatherItemFeatures, ItemFeatureColumns } from '../../src/native/features';
import { mulberry32 } from '../../src/util/random';

const DAY = 86_400_000;

function columns(n: number, dim: number, seed: number, now: number): ItemFeatureColumns {
  const r = mulberry32(seed);
  return {
    dim,
    embeddings: Float32Array.from({ length: n * dim }, () => r() - 0.5),
    logPrice: Float32Array.from({ length: n }, () => 2 * r() - 1),
    bias: Float32Array.from({ length: n }, () => r()),
    // Some in the future, some new, some old, and the window's edges exactly.
    createdAt: Float64Array.from({ length: n }, (_, i) => (i % 7 === 0 ? now : i % 7 === 1 ? now - 7 * DAY : i % 7 === 2 ? now + DAY : now - r() * 14 * DAY)),
  };
}

describe('native item-feature gather (user-item-v1)', () => {
  const now = Date.parse('2026-11-01T00:00:00Z');
  const newItemMs = 7 * DAY;

  for (const [n, dim, B] of [[50, 8, 0], [50, 8, 1], [300, 32, 257], [1000, 64, 250], [40, 3, 100]]) {
    it(`equals the layout's gather: ${B} rows of ${n} x ${dim} (repeats included)`, () => {
      const c = columns(n, dim, n + dim + B, now);
      const r = mulberry32(B + 1);
      const rows = Int32Array.from({ length: B }, () => Math.floor(r() * n));
      const isNew = Uint8Array.from(c.createdAt, (t) => (t <= now && now - t < newItemMs ? 1 : 0));
      const want = layoutGather(featureLayout(dim), { embeddings: c.embeddings, logPrice: c.logPrice, isNew, popularity: c.bias }, rows);
      const got = gatherItemFeatures(c, rows, now, newItemMs);
      assert.deepEqual(got, want);
      // The window: created exactly now is new, exactly newItemMs ago is not, in the future is not.
      const at = (row: number) => gatherItemFeatures(c, Int32Array.of(row), now, newItemMs)[dim + 2];
      assert.deepEqual([at(0), at(1), at(2)], [1, 0, 0]);
    });
  }

  it('writes into `out` (longer is fine) and returns it', () => {
    const c = columns(20, 4, 3, now);
    const out = new Float32Array(100).fill(-7);
    const got = gatherItemFeatures(c, Int32Array.of(5, 6), now, newItemMs, out);
    assert.equal(got, out);
    assert.deepEqual(Array.from(out.subarray(0, 4)), Array.from(c.embeddings.subarray(20, 24)));
    assert.equal(out[16], -7);
  });

  it('rejects rows outside the catalog, short outputs and wrong types; names the field', () => {
    const c = columns(20, 4, 4, now);
    assert.throws(() => gatherItemFeatures(c, Int32Array.of(3, 20), now, newItemMs), /rows\[1\] = 20 is out of range \[0, 20\)/);
    assert.throws(() => gatherItemFeatures(c, Int32Array.of(-1), now, newItemMs), NativeInputError);
    assert.throws(() => gatherItemFeatures(c, Int32Array.of(1, 2), now, newItemMs, new Float32Array(15)), /out must hold at least 16 values/);
    assert.throws(() => gatherItemFeatures({ ...c, createdAt: new Float32Array(20) as unknown as Float64Array }, Int32Array.of(1), now, newItemMs), /createdAt must be a Float64Array/);
    assert.throws(() => gatherItemFeatures({ ...c, bias: new Float32Array(19) }, Int32Array.of(1), now, newItemMs), /must have a value for every embedding row/);
    assert.throws(() => gatherItemFeatures(c, Int32Array.of(1), NaN, newItemMs), /now must be a finite number/);
    // The raw addon checks too.
    assert.throws(() => native.gatherItemFeatures(c.embeddings, 4, c.logPrice, c.createdAt, c.bias, Int32Array.of(99), now, newItemMs, new Float32Array(8)), /outside the catalog/);
    assert.throws(() => native.gatherItemFeatures(c.embeddings, 4, c.logPrice, c.createdAt, c.bias, Int32Array.of(1), now, newItemMs, new Float32Array(7)), /out must hold/);
  });

  it('refuses a row whose features are not finite, naming the row', () => {
    const c = columns(20, 4, 5, now);
    c.embeddings[9 * 4 + 2] = NaN;
    c.bias[11] = Infinity;
    assert.doesNotThrow(() => gatherItemFeatures(c, Int32Array.of(1, 2, 10), now, newItemMs));
    assert.throws(() => gatherItemFeatures(c, Int32Array.of(1, 9), now, newItemMs), /catalog row 9 has a feature that is not finite/);
    assert.throws(() => gatherItemFeatures(c, Int32Array.of(11), now, newItemMs), /catalog row 11/);
  });
});

describe('huge-page advice', () => {
  it('advises the 2 MiB-aligned interior of a large array and keeps its contents', () => {
    const a = new Float32Array(new SharedArrayBuffer(8 << 20));
    a[0] = 1;
    a[a.length - 1] = 2;
    const advised = adviseHugePages(a);
    const thp = (() => {
      try {
        return readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
      } catch {
        return '[never]';
      }
    })();
    // On a kernel with THP in madvise or always mode, at least 6 of the 8 MiB
    // are 2 MiB-aligned and advised; elsewhere the advice is a no-op.
    if (!thp.includes('[never]')) assert.ok(advised >= 6 << 20 && advised <= 8 << 20 && advised % (2 << 20) === 0, `advised ${advised}`);
    assert.equal(adviseHugePages(a, true) >= 0, true);
    assert.equal(a[0], 1);
    assert.equal(a[a.length - 1], 2);
  });

  it('skips arrays under 2 MiB and can be turned off', () => {
    assert.equal(adviseHugePages(new Float32Array(1000)), 0);
    const prev = process.env.RANK_HUGE_PAGES;
    process.env.RANK_HUGE_PAGES = '0';
    try {
      assert.equal(adviseHugePages(new Float32Array(new SharedArrayBuffer(8 << 20))), 0);
    } finally {
      if (prev === undefined) delete process.env.RANK_HUGE_PAGES;
      else process.env.RANK_HUGE_PAGES = prev;
    }
  });
});
