// Rank profiles and A/B experiments (src/server/profiles.ts): the file's
// checks, the resolution order, and the split of users into buckets.
import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';

import { CASCADE_STAGES } from '../../src/stages';
import { toStatus } from '../../src/api/errors';
import { bucketPoint, BUILTIN_PROFILE, ProfileSet, ProfilesError } from '../../src/api/profiles';
import { DEFAULT_RANK } from '../../src/pipeline/options';

const opts = { base: DEFAULT_RANK, stages: CASCADE_STAGES, source: 'profiles.json' };

const DOC = {
  profiles: {
    wide: { retrievalK: 2000, prerankKeep: 300, diversity: 'mmr', diversityLambda: 0.5, maxInterests: 2, calibration: 0.7 },
    fast: { retrievalK: 300, numResults: 12, stages: ['user_state', 'user_embedding', 'retrieval', 'prerank', 'policy'] },
    fresh: { seenTtlMs: 3_600_000, purchaseWindowMs: 86_400_000, exploration: 'thompson' },
  },
  surfaces: { search: 'fast', '*': 'wide' },
  experiments: [
    {
      name: 'home-fresh',
      surfaces: ['home'],
      buckets: [
        { name: 'control', profile: 'default', share: 0.7 },
        { name: 'fresh', profile: 'fresh', share: 0.3 },
      ],
    },
  ],
};

function problem(doc: unknown): string {
  try {
    ProfileSet.parse(doc, opts);
  } catch (err) {
    assert.ok(err instanceof ProfilesError, String(err));
    return err.message;
  }
  assert.fail('the document was accepted');
}

describe('rank profiles', () => {
  const set = ProfileSet.parse(DOC, opts);

  it('resolves over the built-in defaults: a profile sets only what it names', () => {
    const wide = set.profiles.get('wide')!;
    assert.deepEqual(wide.defaults, { ...DEFAULT_RANK, retrievalK: 2000, prerankKeep: 300, diversity: 'mmr', diversityLambda: 0.5, maxInterests: 2, calibration: 0.7 });
    assert.deepEqual([...wide.skipStages], []);
    const fast = set.profiles.get('fast')!;
    assert.equal(fast.numResults, 12);
    assert.deepEqual([...fast.skipStages].sort(), ['ensemble', 'rank']);
    const fresh = set.profiles.get('fresh')!;
    assert.equal(fresh.seenTtlMs, 3_600_000);
    assert.equal(fresh.purchaseWindowMs, 86_400_000);
    assert.deepEqual(set.profiles.get(BUILTIN_PROFILE)!.defaults, DEFAULT_RANK);
  });

  it('a named profile wins; else the experiment on the surface; else the surface default; else "*"', () => {
    assert.equal(set.resolve('u1', 'home', 'fast').profile.name, 'fast');
    assert.equal(set.resolve('u1', 'home', 'fast').bucket, undefined);
    const home = set.resolve('u1', 'home', undefined);
    assert.equal(home.experiment, 'home-fresh');
    assert.ok(['control', 'fresh'].includes(home.bucket!));
    assert.equal(home.profile.name, home.bucket === 'control' ? 'default' : 'fresh');
    assert.equal(set.resolve('u1', 'search', '').profile.name, 'fast');
    assert.equal(set.resolve('u1', 'pdp', undefined).profile.name, 'wide');
    assert.equal(ProfileSet.builtin(DEFAULT_RANK, CASCADE_STAGES).resolve('u1', 'pdp', undefined).profile.name, BUILTIN_PROFILE);
  });

  it('an unknown profile in a request is INVALID_ARGUMENT naming the field and the known profiles', () => {
    let err: unknown;
    try {
      set.resolve('u1', 'home', 'nope');
    } catch (e) {
      err = e;
    }
    const s = toStatus(err);
    assert.equal(s.code, grpc.status.INVALID_ARGUMENT);
    assert.match(s.details, /^profile: unknown profile "nope" \(profiles: default, wide, fast, fresh\)/);
  });

  it('splits users by a hash of experiment and user id: the same bucket every time, in the declared shares', () => {
    const again = ProfileSet.parse(JSON.parse(JSON.stringify(DOC)), opts);
    let fresh = 0;
    const n = 20_000;
    for (let u = 0; u < n; u++) {
      const id = `user-${u}`;
      const a = set.resolve(id, 'home', undefined);
      assert.equal(again.resolve(id, 'home', undefined).bucket, a.bucket);
      if (a.bucket === 'fresh') fresh++;
    }
    assert.ok(Math.abs(fresh / n - 0.3) < 0.02, `fresh share ${fresh / n}`);
    // Ids that differ only in their last characters are spread too.
    const points = Array.from({ length: 1000 }, (_, u) => bucketPoint('ab1', `user-${String(u).padStart(6, '0')}`) < 0.5);
    const share = points.filter(Boolean).length / points.length;
    assert.ok(Math.abs(share - 0.5) < 0.06, `consecutive ids: share ${share}`);
    let run = 1;
    let longest = 1;
    for (let i = 1; i < points.length; i++) longest = Math.max(longest, (run = points[i] === points[i - 1] ? run + 1 : 1));
    assert.ok(longest < 16, `longest run of one bucket over consecutive ids: ${longest}`);
    // Another experiment's split is independent of this one's.
    let both = 0;
    for (let u = 0; u < n; u++) if (bucketPoint('home-fresh', `user-${u}`) < 0.3 && bucketPoint('other', `user-${u}`) < 0.5) both++;
    assert.ok(Math.abs(both / n - 0.15) < 0.02, `joint share ${both / n}`);
  });

  it('names the field of every problem in the file', () => {
    assert.match(problem({ profile: {} }), /profiles\.json: profile is not a known field/);
    assert.match(problem({ profiles: { a: { retrievalk: 5 } } }), /profiles\.a\.retrievalk is not a known field/);
    assert.match(problem({ profiles: { a: { retrievalK: 0 } } }), /profiles\.a\.retrievalK must be an integer in \[1, 100000\], got 0/);
    assert.match(problem({ profiles: { a: { diversity: 'maximal' } } }), /profiles\.a\.diversity must be one of none, mmr, dpp/);
    assert.match(problem({ profiles: { a: { calibration: 1.5 } } }), /profiles\.a\.calibration must be a number in \[0, 1\], got 1\.5/);
    assert.match(problem({ profiles: { a: { maxInterests: 0 } } }), /profiles\.a\.maxInterests must be an integer in \[1, 8\], got 0/);
    assert.match(problem({ profiles: { a: { stages: ['user_state', 'teleport'] } } }), /profiles\.a\.stages names an unknown stage "teleport"/);
    assert.match(problem({ profiles: { a: { stages: ['user_state', 'retrieval', 'user_embedding', 'prerank', 'policy'] } } }), /profiles\.a\.stages must keep the cascade's order/);
    assert.match(problem({ profiles: { a: { stages: ['user_state', 'user_embedding', 'retrieval', 'rank', 'ensemble', 'policy'] } } }), /profiles\.a\.stages must include "prerank" \(only rank, ensemble may be left out\)/);
    assert.match(problem({ surfaces: { home: 'nope' } }), /surfaces\.home must name a profile/);
    const exp = (e: object) => problem({ experiments: [e] });
    assert.match(exp({ name: 'x', buckets: [{ name: 'a', profile: 'default', share: 0.5 }] }), /experiments\[0\]\.buckets must list at least two buckets/);
    assert.match(exp({ name: 'x', buckets: [{ name: 'a', profile: 'default', share: 0.5 }, { name: 'b', profile: 'default', share: 0.4 }] }), /shares must add up to 1/);
    assert.match(exp({ name: 'x', buckets: [{ name: 'a', profile: 'default', share: 0.5 }, { name: 'b', profile: 'gone', share: 0.5 }] }), /experiments\[0\]\.buckets\[1\]\.profile must name a profile/);
    const two = (s1: string[] | undefined, s2: string[] | undefined) =>
      problem({
        experiments: [s1, s2].map((surfaces, i) => ({ name: `e${i}`, surfaces, buckets: [{ name: 'a', profile: 'default', share: 0.5 }, { name: 'b', profile: 'default', share: 0.5 }] })),
      });
    assert.match(two(['home', 'pdp'], ['pdp']), /experiments\[1\] overlaps experiment "e0" on pdp: one experiment per surface/);
    assert.match(two(undefined, ['search']), /experiments\[1\] overlaps experiment "e0" on search/);
    // Experiments on different surfaces are fine.
    assert.doesNotThrow(() => ProfileSet.parse({ experiments: [['home'], ['pdp']].map((surfaces, i) => ({ name: `e${i}`, surfaces, buckets: [{ name: 'a', profile: 'default', share: 0.5 }, { name: 'b', profile: 'default', share: 0.5 }] })) }, opts));
  });
});
