// options.ensemble: the weighted sum is the default; asking for the learned
// ensemble of a bundle that has none is INVALID_ARGUMENT naming the field.
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';

import { expectStatus, Harness, startHarness } from './harness';

describe('options.ensemble', function () {
  this.timeout(120_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('WEIGHTED (and unset) rank with the weighted sum; LEARNED without a learned ensemble in the bundle is INVALID_ARGUMENT', async () => {
    const a = await h.client.rank({ user_id: 'user-000004', num_results: 5, options: { exploration: 'EXPLORATION_METHOD_NONE' } });
    const b = await h.client.rank({ user_id: 'user-000004', num_results: 5, options: { exploration: 'EXPLORATION_METHOD_NONE', ensemble: 'ENSEMBLE_METHOD_WEIGHTED' } });
    assert.deepEqual(b.items.map((it) => it.item_id), a.items.map((it) => it.item_id));
    await expectStatus(h.client.rank({ user_id: 'user-000004', num_results: 5, options: { ensemble: 'ENSEMBLE_METHOD_LEARNED' } }), grpc.status.INVALID_ARGUMENT, /options\.ensemble: the serving bundle has no learned ensemble/);
  });
});
