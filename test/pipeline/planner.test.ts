// The deadline planner over the default cascade's declared degradations:
// steps in the documented order, only while the prediction does not fit,
// skipping steps that do not apply.
import * as assert from 'node:assert/strict';

import { plan, waitBudget } from '../../src/pipeline/planner';
import type { RankInput } from '../../src/pipeline/request';
import { defaultCascade } from '../../src/stages';
import { DEFAULT_RANK } from '../../src/pipeline/options';

const stages = defaultCascade({ seenTtlMs: 0, purchaseWindowMs: 0 });
const NOW = 1_000_000;
/** Predicted ms per stage: 10 ms in all. */
const COST: Record<string, number> = { user_state: 0.2, user_embedding: 0.8, retrieval: 3, prerank: 2, rank: 2.5, ensemble: 0.1, policy: 1.4 };
const cost = (id: string) => COST[id] ?? 0;

function input(leftMs: number, over: Partial<RankInput['options']> = {}, candidateRows?: Int32Array): RankInput {
  return {
    requestId: 'r',
    userId: 'u',
    surface: 'home',
    device: 'mobile',
    recentActions: [],
    candidateRows,
    numResults: 20,
    weights: Float32Array.of(1, 1, 1, 1),
    options: { ...DEFAULT_RANK, exclude: new Set(), seed: 1, ...over },
    debug: false,
    deadline: NOW + leftMs,
  };
}

describe('deadline planner', () => {
  it('takes no step without a deadline or when the prediction fits with its margin', () => {
    assert.deepEqual(plan({ ...input(0), deadline: Infinity }, stages, cost, NOW).steps, []);
    const p = plan(input(12.5), stages, cost, NOW);
    assert.deepEqual(p.steps, []);
    assert.equal(p.skip.size, 0);
  });

  it('takes the steps in the documented order until the prediction fits', () => {
    // 10 ms predicted (x 1.25 margin); smaller K saves 2.5, the strong pre-ranker 1, diversity 0.7.
    assert.deepEqual(plan(input(12), stages, cost, NOW).steps, ['smaller_k']);
    assert.deepEqual(plan(input(9), stages, cost, NOW).steps, ['smaller_k', 'no_strong_prerank']);
    assert.deepEqual(plan(input(8), stages, cost, NOW).steps, ['smaller_k', 'no_strong_prerank', 'no_diversity']);
    const all = plan(input(1), stages, cost, NOW);
    assert.deepEqual(all.steps, ['smaller_k', 'no_strong_prerank', 'no_diversity', 'no_rank']);
    assert.deepEqual([...all.skip].sort(), ['ensemble', 'rank']);
    assert.equal(all.input.options.retrievalK, 250);
    assert.equal(all.input.options.heavyBudget, 0);
    assert.equal(all.input.options.diversity, 'none');
  });

  it('skips the steps that do not apply', () => {
    // Re-rank mode: no smaller K; no strong model and no diversity already.
    const p = plan(input(1, { heavyBudget: 0, diversity: 'none' }, Int32Array.of(1, 2, 3)), stages, cost, NOW);
    assert.deepEqual(p.steps, ['no_rank']);
    // K already at 5 x num_results.
    assert.deepEqual(plan(input(9, { retrievalK: 100 }), stages, cost, NOW).steps.slice(0, 1), ['no_strong_prerank']);
  });

  it('leaves a waiting stage the time before the deadline less the later stages\' predicted cost, with the margin', () => {
    const at = stages.findIndex((s) => s.id === 'user_state');
    // The stages after user_state: 9.8 ms predicted, 12.25 with the margin.
    assert.equal(waitBudget(NOW + 20, NOW, stages, at, cost, new Set()), 20 - 9.8 * 1.25);
    // A stage the plan skips is not waited for.
    assert.equal(waitBudget(NOW + 20, NOW, stages, at, cost, new Set(['rank', 'ensemble'])), 20 - 7.2 * 1.25);
    assert.ok(waitBudget(NOW + 5, NOW, stages, at, cost, new Set()) < 0, 'no time to wait at all');
    // Without predictions (a first call), at most 80% of the time left.
    assert.equal(waitBudget(NOW + 100, NOW, stages, at, () => 0, new Set()), 80);
    assert.equal(waitBudget(Infinity, NOW, stages, at, cost, new Set()), Infinity);
  });
});
