// What a page promises, end to end over gRPC: one broken item never fails a
// ranking, the brand-run rule holds for the whole page, the caller's
// objective weights are the weights, debug scores are each stage's own, the
// strong-model metric counts what the strong model scored, and events from
// the future are refused.
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';

import { RankedItem__Output, RankingClient, RankRequest, RankResponse__Output, StageOptions } from '../../src/client';
import { expectStatus, maxBrandRun, Harness, startHarness } from './harness';

function stageScore(it: RankedItem__Output, stage: string): number | undefined {
  return it.stage_scores.find((s) => s.stage === stage)?.score;
}

/** The value of one sample in Prometheus text (0 when absent). */
function sampleValue(text: string, name: string, labels = ''): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}${labels} `)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('server: ranking integrity (end to end over gRPC)', function () {
  this.timeout(120_000);
  let h: Harness;
  let client: RankingClient;
  let users: string[] = [];
  let next = 0;
  const user = (): string => users[next++];
  const base = (userId: string, over: RankRequest = {}): RankRequest => ({
    user_id: userId,
    context: { surface: 'SURFACE_HOME', device: 'DEVICE_MOBILE' },
    num_results: 10,
    ...over,
  });

  before(async function () {
    this.timeout(240_000);
    // fp32: the non-finite test needs an overflowing item to overflow (int8
    // rankers saturate their inputs to the calibrated ranges instead).
    h = await startHarness({ rankerPrecision: 'fp32' });
    client = h.client;
    users = h.world.users.filter((u) => u.segment === 'returning').map((u) => u.id);
  });
  after(async () => h?.close());

  describe('one broken item', () => {
    it('UpsertItems refuses embedding values and biases beyond the magnitude bound, naming the item field', async () => {
      const dim = h.bundle.manifest.embeddingDim;
      const item = { item_id: 'poison-1', brand: 'b', category: 'c', price: 10, embedding: new Array(dim).fill(3e38) };
      await expectStatus(client.upsertItems({ items: [item] }), grpc.status.INVALID_ARGUMENT, /items\[0\]\.embedding\[0\]: .*magnitude at most/);
      await expectStatus(client.upsertItems({ items: [{ ...item, embedding: new Array(dim).fill(0.1), bias: 1e30 }] }), grpc.status.INVALID_ARGUMENT, /items\[0\]\.bias/);
      await expectStatus(client.upsertItems({ items: [{ ...item, embedding: new Array(dim).fill(0.1), price: 1e300 }] }), grpc.status.INVALID_ARGUMENT, /items\[0\]\.price/);
      const res = await client.rank(base(user(), { candidate_ids: ['poison-1'] }));
      assert.deepEqual(res.unknown_candidate_ids, ['poison-1'], 'the refused item must not be in the catalog');
    });

    it('a candidate whose scores are not finite is dropped, listed in debug and counted; the page is served', async () => {
      // An item whose features overflow the models, as a bundle built
      // before the bound would hold: written straight into the catalog.
      const { catalog } = h.engine;
      const dim = catalog.dim;
      const before = await h.metrics.text();
      const probe = base(user(), { num_results: 20, options: { exploration: 'EXPLORATION_METHOD_NONE' } });
      const page = await client.rank(probe);
      const victim = page.items[0].item_id;
      const row = catalog.rowOf.get(victim)!;
      const saved = catalog.cols.embeddings.slice(row * dim, (row + 1) * dim);
      try {
        catalog.cols.embeddings.fill(3e38, row * dim, (row + 1) * dim);
        const failures: string[] = [];
        let served = 0;
        for (let i = 0; i < 30; i++) {
          const u = users[(next + i) % users.length];
          try {
            const res = await client.rank(base(u, { num_results: 10, debug: true, candidate_ids: i % 3 === 0 ? [victim, ...page.items.slice(1).map((x) => x.item_id)] : [] }));
            assert.equal(res.items.length, 10);
            served++;
            // Served only where every score of it came out finite (a cold
            // user's zero vector can make it so); otherwise removed, and why.
            const shown = res.items.find((it) => it.item_id === victim);
            if (shown) assert.ok(Number.isFinite(shown.score) && shown.objectives.every((o) => Number.isFinite(o.probability)), `${u}: served with a score that is not finite`);
            else if (i % 3 === 0) {
              const removed = res.removed.find((r) => r.item_id === victim);
              assert.ok(removed, `${u}: the broken item is neither served nor listed in debug removed`);
              assert.equal(removed.reason, 'non_finite_score');
            }
          } catch (err) {
            failures.push(`${u}: ${(err as Error).message}`);
          }
        }
        assert.deepEqual(failures, []);
        assert.equal(served, 30);
      } finally {
        catalog.cols.embeddings.set(saved, row * dim);
      }
      const after = await h.metrics.text();
      // Dropped where a score first came out non-finite: the light score or the ranker's.
      let dropped = 0;
      for (const stage of ['prerank', 'rank']) {
        const labels = `{stage="${stage}",reason="non_finite_score"}`;
        dropped += sampleValue(after, 'ranking_candidates_dropped_total', labels) - sampleValue(before, 'ranking_candidates_dropped_total', labels);
      }
      assert.ok(dropped >= 9, `candidates_dropped_total grew by ${dropped}`);
    });
  });

  describe('brand-run rule', () => {
    /** Ids of the established (not new) items, grouped by brand. */
    function byBrand(): Map<string, string[]> {
      const out = new Map<string, string[]>();
      for (const it of h.world.items.values()) {
        if (h.world.isNew(it.id)) continue;
        let l = out.get(it.brand);
        if (!l) out.set(it.brand, (l = []));
        l.push(it.id);
      }
      return out;
    }

    it('holds on the page when the breakers rank below the best max(3N, 100) candidates', async () => {
      // 110 items of one brand, copies of established items (their
      // embeddings and biases), and other-brand items that all rank below
      // the 105th of them: the best 100 candidates are one brand.
      const { catalog } = h.engine;
      const dim = catalog.dim;
      const u = user();
      const plain: StageOptions = { exploration: 'EXPLORATION_METHOD_NONE', diversity: 'DIVERSITY_METHOD_NONE' };
      // The user's best and worst of 200 established items, in score order.
      const sample = [...byBrand().values()].flat().slice(0, 200);
      const ranked = await client.rank(base(u, { num_results: 200, candidate_ids: sample, options: { ...plain, brand_run_limit: 1000 } }));
      const established = ranked.items.map((it) => it.item_id);
      const copies = established.slice(0, 110).map((id, i) => {
        const row = catalog.rowOf.get(id)!;
        return {
          item_id: `mono-${i}`,
          brand: 'mono',
          category: h.world.items.get(id)!.category,
          price: h.world.items.get(id)!.price,
          created_at_ms: h.world.referenceTime - 200 * 86_400_000,
          embedding: Array.from(catalog.cols.embeddings.subarray(row * dim, (row + 1) * dim)),
          bias: catalog.cols.bias[row],
        };
      });
      await client.upsertItems({ items: copies });
      const mono = copies.map((c) => c.item_id);
      const pool = [...mono, ...established.slice(150, 200)];
      const scored = await client.rank(base(u, { num_results: pool.length, candidate_ids: pool, options: { ...plain, brand_run_limit: 1000 } }));
      const monoScores = scored.items.filter((it) => it.brand === 'mono').map((it) => it.score).sort((a, b) => b - a);
      const floor = monoScores[104];
      const low = scored.items.filter((it) => it.brand !== 'mono' && it.score < floor).slice(0, 6).map((it) => it.item_id);
      assert.ok(low.length >= 5, `only ${low.length} other-brand items score below the 105th copy`);
      const res = await client.rank(base(u, { num_results: 10, candidate_ids: [...mono, ...low], options: { ...plain, brand_run_limit: 1 }, debug: true }));
      assert.equal(res.items.length, 10);
      assert.equal(maxBrandRun(res.items), 1, `brands: ${res.items.map((it) => it.brand).join(' ')}`);
      await client.deleteItems({ item_ids: mono });
    });

    it('holds for the whole page with exploration picks, or the response says it could not', async () => {
      const violations: string[] = [];
      for (let i = 0; i < 6; i++) {
        const u = user();
        for (const limit of [1, 2, 3]) {
          for (const epsilon of [0.3, 1]) {
            const res = await client.rank(base(u, { num_results: 20, debug: true, options: { brand_run_limit: limit, exploration_epsilon: epsilon, exploration_start: 2, seed: 7 + i } }));
            const run = maxBrandRun(res.items);
            const note = res.stages.find((s) => s.stage === 'policy')!.note;
            if (run > limit && !note.includes('brand-run limit')) violations.push(`${u} limit ${limit} epsilon ${epsilon}: run ${run} (${res.items.map((it) => `${it.brand}${it.exploration ? '*' : ''}`).join(' ')})`);
            if (run <= limit) assert.ok(!note.includes('not met'), note);
          }
        }
      }
      assert.deepEqual(violations, []);
    });

    it('holds when exploration picks are all of one brand', async () => {
      // 40 new items of one brand, each a blend of two of the user's good
      // items (no near-duplicate of either): with a small retrieval K they
      // are not retrieved, and they are the fresh source's best picks.
      const { catalog } = h.engine;
      const dim = catalog.dim;
      const u = user();
      const top = await client.rank(base(u, { num_results: 80, options: { exploration: 'EXPLORATION_METHOD_NONE', diversity: 'DIVERSITY_METHOD_NONE', brand_run_limit: 1000 } }));
      const emb = (id: string) => catalog.cols.embeddings.subarray(catalog.rowOf.get(id)! * dim, (catalog.rowOf.get(id)! + 1) * dim);
      const fresh = Array.from({ length: 40 }, (_, i) => {
        const a = emb(top.items[30 + (i % 25)].item_id);
        const b = emb(top.items[79 - i].item_id);
        return {
          item_id: `newbrand-${i}`,
          brand: 'newbrand',
          category: top.items[i].category,
          price: 20,
          created_at_ms: h.engine.now() - 3_600_000,
          embedding: Array.from(a, (x, j) => 0.7 * x + 0.3 * b[j]),
        };
      });
      await client.upsertItems({ items: fresh });
      try {
        for (const limit of [1, 3]) {
          const res = await client.rank(base(u, { num_results: 20, debug: true, options: { retrieval_k: 30, brand_run_limit: limit, exploration_epsilon: 1, exploration_start: 2, seed: 5 } }));
          const picks = res.items.filter((it) => it.exploration);
          assert.ok(picks.filter((it) => it.brand === 'newbrand').length >= 5, `exploration placed ${picks.map((it) => it.brand).join(' ')}`);
          assert.ok(maxBrandRun(res.items) <= limit, `limit ${limit}: ${res.items.map((it) => `${it.brand}${it.exploration ? '*' : ''}`).join(' ')}`);
        }
      } finally {
        await client.deleteItems({ item_ids: fresh.map((f) => f.item_id) });
      }
    });

    it('says so in the debug note and the metric when the candidates cannot satisfy it', async () => {
      const groups = [...byBrand().values()].sort((x, y) => y.length - x.length);
      const [major, others] = [groups[0], groups[1]];
      const before = sampleValue(await h.metrics.text(), 'ranking_policy_rule_unmet_total', '{rule="brand_run"}');
      // Ten of one brand and one other: no order has runs of at most 1.
      const res = await client.rank(base(user(), { num_results: 10, candidate_ids: [...major.slice(0, 10), others[0]], options: { exploration: 'EXPLORATION_METHOD_NONE', brand_run_limit: 1 }, debug: true }));
      assert.ok(maxBrandRun(res.items) > 1);
      assert.match(res.stages.find((s) => s.stage === 'policy')!.note, /brand-run limit 1 not met/);
      const after = sampleValue(await h.metrics.text(), 'ranking_policy_rule_unmet_total', '{rule="brand_run"}');
      assert.equal(after - before, 1);
    });
  });

  describe('objective weights', () => {
    it('partial weights are the weights: objectives left out weigh 0', async () => {
      const res = await client.rank(base(user(), { objective_weights: { purchase: 1, click: 0.2 }, debug: true, options: { exploration: 'EXPLORATION_METHOD_NONE' } }));
      assert.match(res.stages.find((s) => s.stage === 'ensemble')!.note, /weights 0\.2\/0\/0\/1$/);
      for (const it of res.items) {
        const p = Object.fromEntries(it.objectives.map((o) => [o.objective, o.probability]));
        assert.ok(Math.abs(stageScore(it, 'ensemble')! - (0.2 * p.click + p.purchase)) < 1e-5, `${it.item_id}: ensemble ${stageScore(it, 'ensemble')} vs ${0.2 * p.click + p.purchase}`);
      }
    });

    it('without weights the surface defaults apply', async () => {
      const res = await client.rank(base(user(), { debug: true }));
      const w = h.bundle.manifest.defaultWeights.home;
      assert.match(res.stages.find((s) => s.stage === 'ensemble')!.note, new RegExp(`weights ${h.bundle.manifest.objectives.map((o) => w[o] ?? 0).join('/')}$`));
    });
  });

  describe('debug scores', () => {
    const check = (res: RankResponse__Output, strongExpected: boolean) => {
      const biasWeight = h.bundle.manifest.lightModel?.biasWeight ?? 0;
      const w = h.bundle.manifest.defaultWeights.home;
      for (const it of res.items) {
        const names = it.stage_scores.map((s) => s.stage);
        assert.ok(!names.includes('rank'), `${it.item_id}: the ranker computes objectives, not one score (${names.join(',')})`);
        const retrieval = stageScore(it, 'retrieval');
        const light = stageScore(it, 'light');
        const prerank = stageScore(it, 'prerank');
        assert.ok(retrieval !== undefined && light !== undefined && prerank !== undefined, `${it.item_id}: ${names.join(',')}`);
        if (it.provenance === 'PROVENANCE_RETRIEVED') assert.notEqual(retrieval, 0, `${it.item_id}: retrieval score 0`);
        if (it.provenance === 'PROVENANCE_RETRIEVED' && it.interest === 0) {
          // light = <user, item> (the search's inner product) + biasWeight * bias
          // (for a user with several interests it is per interest: see prerank.ts).
          const bias = h.engine.catalog.cols.bias[h.engine.catalog.rowOf.get(it.item_id)!];
          assert.ok(Math.abs(light - retrieval - biasWeight * bias) < 1e-3 * Math.max(1, Math.abs(light)), `${it.item_id}: light ${light}, retrieval ${retrieval}, bias ${bias}`);
        }
        assert.equal(it.strong_scored, strongExpected, it.item_id);
        if (strongExpected) {
          const strong = stageScore(it, 'strong');
          assert.ok(strong !== undefined, `${it.item_id}: strong-scored without a strong entry`);
          // Fresh items pass the pre-rank cut by rule and keep their light score (prerank.ts).
          if (it.provenance !== 'PROVENANCE_FRESH') assert.notEqual(prerank, light, `${it.item_id}: the merged score of a strong-scored item is the light one`);
        } else {
          assert.equal(stageScore(it, 'strong'), undefined);
          assert.equal(prerank, light);
        }
        const p = it.objectives.map((o) => o.probability);
        const expected = h.bundle.manifest.objectives.reduce((a, o, k) => a + (w[o] ?? 0) * p[k], 0);
        assert.ok(Math.abs(stageScore(it, 'ensemble')! - expected) < 1e-4 * Math.max(1, expected));
      }
    };

    it('each stage entry is the score that stage computed (strong model on every candidate)', async () => {
      const res = await client.rank(base(user(), { num_results: 30, debug: true, options: { exploration: 'EXPLORATION_METHOD_NONE', heavy_budget: 1 } }));
      check(res, true);
    });

    it('each stage entry is the score that stage computed (light model only)', async () => {
      const res = await client.rank(base(user(), { num_results: 30, debug: true, options: { exploration: 'EXPLORATION_METHOD_NONE', heavy_budget: 0 } }));
      check(res, false);
    });
  });

  describe('strong model fraction', () => {
    it('observes the share of the K pre-rank candidates the strong model scored', async () => {
      const before = await h.metrics.text();
      const res = await client.rank(base(user(), { debug: true }));
      const after = await h.metrics.text();
      const m = /strong model on (\d+) of (\d+)/.exec(res.stages.find((s) => s.stage === 'prerank')!.note);
      assert.ok(m, 'the pre-rank note names the strong model count');
      const want = Number(m[1]) / Number(m[2]);
      const got = sampleValue(after, 'ranking_strong_model_fraction_sum') - sampleValue(before, 'ranking_strong_model_fraction_sum');
      assert.equal(sampleValue(after, 'ranking_strong_model_fraction_count') - sampleValue(before, 'ranking_strong_model_fraction_count'), 1);
      assert.ok(want > 0.1, `strong share ${want}`);
      assert.ok(Math.abs(got - want) < 1e-9, `metric ${got}, debug ${want}`);
    });
  });

  describe('user embedding cache', () => {
    const note = (res: RankResponse__Output) => res.stages.find((s) => s.stage === 'user_embedding')!.note;
    const plain: StageOptions = { exploration: 'EXPLORATION_METHOD_NONE' };

    it('reuses the embedding while nothing changed, with the same page', async () => {
      const u = user();
      const first = await client.rank(base(u, { debug: true, options: plain }));
      const second = await client.rank(base(u, { debug: true, options: plain }));
      assert.doesNotMatch(note(first), /cached/);
      assert.match(note(second), /\(cached\)$/);
      assert.deepEqual(second.items.map((it) => it.item_id), first.items.map((it) => it.item_id));
      assert.deepEqual(second.items.map((it) => it.score), first.items.map((it) => it.score));
    });

    it('recomputes after a recorded event, with an in-session action, and after a catalog change', async () => {
      const u = user();
      const first = await client.rank(base(u, { debug: true, options: plain }));
      assert.match(note(await client.rank(base(u, { debug: true, options: plain }))), /cached/);
      const clicked = first.items[3].item_id;
      await client.recordEvents({ events: [{ user_id: u, item_id: clicked, type: 'ACTION_TYPE_CART' }] });
      const afterEvent = await client.rank(base(u, { debug: true, options: plain }));
      assert.doesNotMatch(note(afterEvent), /cached/, 'a recorded event must recompute the embedding');
      const session = await client.rank(base(u, { debug: true, options: plain, recent_actions: [{ item_id: first.items[5].item_id, type: 'ACTION_TYPE_CLICK' }] }));
      assert.doesNotMatch(note(session), /cached/, 'an in-session action must recompute the embedding');
      assert.match(note(await client.rank(base(u, { debug: true, options: plain }))), /cached/);
      await client.deleteItems({ item_ids: [first.items[9].item_id] });
      assert.doesNotMatch(note(await client.rank(base(u, { debug: true, options: plain }))), /cached/, 'a catalog change must recompute the embedding');
    });
  });

  describe('timestamps from the future', () => {
    const item = (): string => [...h.world.items.keys()][0];
    for (const ts of [1e15, 9e18]) {
      it(`RecordEvents refuses timestamp_ms ${ts} naming the field`, async () => {
        await expectStatus(
          client.recordEvents({ events: [{ user_id: user(), item_id: item(), type: 'ACTION_TYPE_IMPRESSION', timestamp_ms: ts }] }),
          grpc.status.INVALID_ARGUMENT,
          /events\[0\]\.timestamp_ms: .*ahead of the server clock/,
        );
      });
    }

    it('accepts a small skew and refuses in-session actions from the future', async () => {
      const now = h.engine.now();
      const res = await client.recordEvents({ events: [{ user_id: user(), item_id: item(), type: 'ACTION_TYPE_CLICK', timestamp_ms: now + 60_000 }] });
      assert.equal(res.accepted, 1);
      await expectStatus(
        client.rank(base(user(), { recent_actions: [{ item_id: item(), type: 'ACTION_TYPE_CLICK', timestamp_ms: now + 3_600_000 }] })),
        grpc.status.INVALID_ARGUMENT,
        /recent_actions\[0\]\.timestamp_ms/,
      );
    });
  });
});
