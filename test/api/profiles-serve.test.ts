// Rank profiles through the gRPC API: a named profile's sizes and stages
// apply, an experiment splits users by hash and says which bucket served,
// an unknown profile is INVALID_ARGUMENT naming it.
import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';

import type { RankResponse__Output } from '../../src/client';
import { CASCADE_STAGES } from '../../src/stages';
import { bucketPoint, ProfileSet } from '../../src/api/profiles';
import { DEFAULT_RANK } from '../../src/pipeline/options';
import { ENGINE_OPTIONS, expectStatus, Harness, startHarness } from './harness';

/** The pre-ranker keeps M candidates plus up to freshKeep new items (the exploration pool). */
const kept = (m: number) => m + ENGINE_OPTIONS.freshKeep;

const PROFILES = {
  profiles: {
    small: { retrievalK: 60, prerankKeep: 25, numResults: 7, diversity: 'none', exploration: 'none', stages: ['user_state', 'user_embedding', 'retrieval', 'prerank', 'policy'] },
    big: { retrievalK: 400, prerankKeep: 120, diversity: 'none', exploration: 'none' },
  },
  surfaces: { search: 'small' },
  experiments: [
    {
      name: 'k-test',
      surfaces: ['home'],
      buckets: [
        { name: 'control', profile: 'default', share: 0.5 },
        { name: 'big-k', profile: 'big', share: 0.5 },
      ],
    },
  ],
};

const stage = (res: RankResponse__Output, id: string) => res.stages.find((s) => s.stage === id);

describe('rank profiles over gRPC', function () {
  this.timeout(120_000);
  let h: Harness;

  before(async () => {
    const profiles = ProfileSet.parse(PROFILES, { base: DEFAULT_RANK, stages: CASCADE_STAGES, source: 'test profiles' });
    h = await startHarness({}, { profiles });
  });

  after(async () => {
    await h?.close();
  });

  it("a request naming a profile runs that profile's stages and sizes", async () => {
    const res = await h.client.rank({ user_id: 'user-000003', profile: 'small', debug: true });
    assert.equal(res.profile, 'small');
    assert.equal(res.experiment, '');
    assert.equal(res.items.length, 7, 'numResults from the profile');
    assert.deepEqual(res.stages.map((s) => s.stage), ['user_state', 'user_embedding', 'retrieval', 'prerank', 'policy']);
    assert.ok(stage(res, 'retrieval')!.candidates_out <= 60 + 50, `retrieval kept ${stage(res, 'retrieval')!.candidates_out}`); // K, plus the fresh-item pool
    assert.equal(stage(res, 'prerank')!.candidates_out, kept(25));
    // Without the ranker the objectives are unknown.
    for (const it of res.items) for (const o of it.objectives) assert.equal(o.probability, 0);
    // A request's own options still win over its profile's.
    const own = await h.client.rank({ user_id: 'user-000003', profile: 'small', num_results: 4, options: { prerank_keep: 10 }, debug: true });
    assert.equal(own.items.length, 4);
    assert.equal(stage(own, 'prerank')!.candidates_out, kept(10));
  });

  it("the surface's default profile serves requests that name none", async () => {
    const res = await h.client.rank({ user_id: 'user-000004', context: { surface: 'SURFACE_SEARCH' }, debug: true });
    assert.equal(res.profile, 'small');
    assert.equal(res.items.length, 7);
    const pdp = await h.client.rank({ user_id: 'user-000004', context: { surface: 'SURFACE_PDP' }, num_results: 5, debug: true });
    assert.equal(pdp.profile, 'default');
    assert.ok(stage(pdp, 'rank'), 'the built-in profile runs every stage');
  });

  it('an experiment splits users by hash, applies the bucket and says which one served', async () => {
    const seen = new Map<string, number>();
    for (let u = 0; u < 40; u++) {
      const user = `user-${String(u).padStart(6, '0')}`;
      const res = await h.client.rank({ user_id: user, context: { surface: 'SURFACE_HOME' }, num_results: 5, debug: true });
      const expected = bucketPoint('k-test', user) < 0.5 ? 'control' : 'big-k';
      assert.equal(res.experiment, 'k-test');
      assert.equal(res.bucket, expected, user);
      assert.equal(res.profile, expected === 'control' ? 'default' : 'big');
      // M kept, plus the fresh items that pass the cut outside them (all of them, unless some are among the M).
      const m = expected === 'big-k' ? 120 : DEFAULT_RANK.prerankKeep;
      const out = stage(res, 'prerank')!.candidates_out;
      assert.ok(out >= m && out <= kept(m), `prerank kept ${out} for M = ${m}`);
      seen.set(expected, (seen.get(expected) ?? 0) + 1);
      // The same user gets the same bucket again.
      if (u < 5) assert.equal((await h.client.rank({ user_id: user, num_results: 5 })).bucket, expected);
    }
    assert.equal(seen.size, 2, `both buckets used: ${[...seen].join(' ')}`);
    // A named profile takes the request out of the experiment.
    const named = await h.client.rank({ user_id: 'user-000001', profile: 'big', num_results: 5 });
    assert.deepEqual([named.profile, named.experiment, named.bucket], ['big', '', '']);
  });

  it('an unknown profile is INVALID_ARGUMENT naming the field and the known profiles', async () => {
    await expectStatus(h.client.rank({ user_id: 'user-000001', profile: 'fastest', num_results: 5 }), grpc.status.INVALID_ARGUMENT, /^profile: unknown profile "fastest" \(profiles: default, small, big\)/);
  });
});
