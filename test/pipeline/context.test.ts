// What a stage reads of the request context before the stage that sets it ran
// is a bug in the stage list: it says so, instead of a TypeError on null.
import * as assert from 'node:assert/strict';

import { RankContext, userEmbOf, userFeaturesOf, userOf } from '../../src/pipeline/context';

describe('request context accessors', () => {
  const ctx = { user: null, userEmb: null, userFeatures: null } as Pick<RankContext, 'user' | 'userEmb' | 'userFeatures'> as RankContext;

  it('name the stage that should have run first', () => {
    assert.throws(() => userOf(ctx), /the user state: read before the user_state stage set it/);
    assert.throws(() => userEmbOf(ctx), /the user embedding: read before the user_embedding stage set it/);
    assert.throws(() => userFeaturesOf(ctx), /the user features: read before the user_embedding stage set it/);
  });

  it('return what the stage set', () => {
    const emb = Float32Array.of(1, 2);
    assert.equal(userEmbOf({ ...ctx, userEmb: emb }), emb);
  });
});
