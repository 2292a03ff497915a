// A user's interests from the action history: clusters of the acted-on
// items' embeddings, weighted by action type and recency.
import { strict as assert } from 'node:assert';

import { ACTION } from '../../src/models/schema';
import { INTEREST_DEFAULTS, clusterActions, splitK } from '../../src/models/interests';
import type { UserSnapshot } from '../../src/state/snapshot';
import { mulberry32 } from '../../src/util/random';

const D = 8;
const NOW = Date.UTC(2026, 0, 1);

/** Items of three categories: category c points along axis c, with a little noise. */
function catalog(perCategory: number): { emb: Float32Array; category: Int32Array } {
  const rng = mulberry32(3);
  const n = 3 * perCategory;
  const emb = new Float32Array(n * D);
  const category = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    category[i] = Math.floor(i / perCategory);
    let norm = 0;
    for (let j = 0; j < D; j++) {
      const v = (j === category[i] ? 1 : 0) + 0.15 * (rng() - 0.5);
      emb[i * D + j] = v;
      norm += v * v;
    }
    for (let j = 0; j < D; j++) emb[i * D + j] /= Math.sqrt(norm);
  }
  return { emb, category };
}

function user(rows: number[], codes: number[]): UserSnapshot {
  return {
    actionRows: Int32Array.from(rows),
    actionCodes: Uint8Array.from(codes),
    actionTimes: Float64Array.from(rows, (_, i) => NOW - (rows.length - i) * 60_000),
    purchased: new Map(),
    seen: new Map(),
  };
}

describe('models: interests from the action history', () => {
  const { emb, category } = catalog(10);

  it('finds one interest per category of a history split 50/30/20, largest first, with the category mix', () => {
    const rows = [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 6 }, (_, i) => 10 + i), ...Array.from({ length: 4 }, (_, i) => 20 + i)];
    const c = clusterActions(user(rows, rows.map(() => ACTION.click)), emb, D, category, NOW, 50, INTEREST_DEFAULTS);
    assert.equal(c.count, 3);
    assert.deepEqual(Array.from(c.categories), [0, 1, 2]);
    assert.deepEqual(Array.from(c.shares, (s) => Number(s.toFixed(2))), [0.5, 0.3, 0.2]);
    assert.deepEqual(Array.from(c.categoryShares, (s) => Number(s.toFixed(2))), [0.5, 0.3, 0.2]);
    // Every action of a category in the same interest, interest q = category q.
    rows.forEach((r, i) => assert.equal(c.assign[i], category[r]));
  });

  it('gives a one-category history one interest, and ignores impressions', () => {
    const rows = [0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 15, 20, 21];
    const codes = rows.map((r) => (r < 10 ? ACTION.click : ACTION.impression));
    const c = clusterActions(user(rows, codes), emb, D, category, NOW, 50, INTEREST_DEFAULTS);
    assert.equal(c.count, 1);
    assert.deepEqual(Array.from(c.categories), [0]);
    rows.forEach((r, i) => assert.equal(c.assign[i], r < 10 ? 0 : -1));
  });

  it('folds an interest under the minimum share into the nearest one, and drops stray categories from the mix', () => {
    // Category 0 last, so a little heavier (recency); one stray purchase of category 2 (1/21 of the weight).
    const rows = [...Array.from({ length: 10 }, (_, i) => 10 + i), ...Array.from({ length: 10 }, (_, i) => i), 20];
    const c = clusterActions(user(rows, rows.map(() => ACTION.purchase)), emb, D, category, NOW, 50, INTEREST_DEFAULTS);
    assert.equal(c.count, 2);
    assert.deepEqual(Array.from(c.categories), [0, 1]);
    assert.ok(c.assign[rows.length - 1] >= 0, 'the stray action still belongs to an interest');
  });

  it('reads only the last `window` actions and weighs purchases over clicks', () => {
    const rows = [10, 11, 12, 13, 0, 1];
    const codes = [ACTION.click, ACTION.click, ACTION.click, ACTION.click, ACTION.purchase, ACTION.purchase];
    const all = clusterActions(user(rows, codes), emb, D, category, NOW, 50, INTEREST_DEFAULTS);
    assert.equal(all.count, 2);
    assert.deepEqual(Array.from(all.categories), [0, 1], 'two purchases (weight 8) outweigh four clicks (weight 4)');
    const last = clusterActions(user(rows, codes), emb, D, category, NOW, 2, INTEREST_DEFAULTS);
    assert.equal(last.count, 1);
    assert.equal(last.assign[0], -1);
  });

  it('splits K by share, each part at least a tenth before scaling, summing to K', () => {
    assert.deepEqual(Array.from(splitK(1000, Float32Array.of(0.6, 0.3, 0.1))), [600, 300, 100]);
    assert.deepEqual(Array.from(splitK(1000, Float32Array.of(0.9, 0.05, 0.05))), [818, 91, 91]);
    assert.deepEqual(Array.from(splitK(7, Float32Array.of(1))), [7]);
    for (const K of [1, 5, 99, 1000]) assert.equal(splitK(K, Float32Array.of(0.5, 0.25, 0.25)).reduce((a, b) => a + b, 0), K);
  });
});
