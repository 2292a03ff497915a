// End-to-end tests of the ranking service: the real RankingService on a small
// generated demo world, called through a real grpc-js client (and the HTTP
// gateway). Status codes are compared by name (grpc.status[...]).
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';

import { Device, DiversityMethod, RankedItem__Output, RankingCallOptions, RankingClient, RankRequest, RankResponse__Output, StageOptions, Surface } from '../../src/client';
import { createMetrics } from '../../src/metrics/metrics';
import { RankingService, SERVICE_NAME } from '../../src/api/service';
import { expectStatus, maxBrandRun, Harness, healthCheck, httpRequest, reflectionListServices, startHarness, startService } from './harness';

const OBJECTIVES = ['click', 'wishlist', 'cart', 'purchase'];
const STAGES = ['user_state', 'user_embedding', 'retrieval', 'prerank', 'rank', 'ensemble', 'policy'];
/** The demo bundle's default weights for SURFACE_HOME (tools/world/generate.ts). */
const HOME_WEIGHTS: Record<string, number> = { click: 1, wishlist: 2, cart: 4, purchase: 8 };
const PLAIN: StageOptions = { exploration: 'EXPLORATION_METHOD_NONE' };

function prob(it: RankedItem__Output, objective: string): number {
  const o = it.objectives.find((x) => x.objective === objective);
  assert.ok(o, `item ${it.item_id} has no ${objective} probability`);
  return o.probability;
}

function ids(res: RankResponse__Output): string[] {
  return res.items.map((it) => it.item_id);
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

describe('server/service (end to end over gRPC)', function () {
  this.timeout(120_000);
  let h: Harness;
  let client: RankingClient;
  let returning: string[] = [];
  let nextUser = 0;
  /** A returning user (with history in the log) that no other test has touched. */
  const freshUser = (): string => {
    assert.ok(nextUser < returning.length, 'ran out of test users');
    return returning[nextUser++];
  };
  const rank = (req: RankRequest, opts?: RankingCallOptions): Promise<RankResponse__Output> => client.rank(req, opts);
  const base = (userId: string, over: RankRequest = {}): RankRequest => ({
    user_id: userId,
    context: { surface: 'SURFACE_HOME', device: 'DEVICE_MOBILE' },
    num_results: 20,
    ...over,
  });

  before(async function () {
    this.timeout(240_000);
    h = await startHarness();
    client = h.client;
    returning = h.world.users.filter((u) => u.segment === 'returning').map((u) => u.id);
  });

  after(async () => {
    await h?.close();
  });

  describe('health and reflection', () => {
    it('grpc.health.v1 is NOT_SERVING (and Rank UNAVAILABLE) before setEngine, SERVING after', async () => {
      const service = await startService(createMetrics({ defaultMetrics: false }));
      const address = `127.0.0.1:${service.grpcPort}`;
      const c = new RankingClient(address);
      try {
        assert.equal(await healthCheck(address, ''), 'NOT_SERVING');
        assert.equal(await healthCheck(address, SERVICE_NAME), 'NOT_SERVING');
        assert.equal((await httpRequest(service.httpPort, 'GET', '/healthz')).status, 503);
        await expectStatus(c.rank(base('user-000001')), grpc.status.UNAVAILABLE);
        service.setEngine(h.engine);
        assert.equal(await healthCheck(address, ''), 'SERVING');
        assert.equal(await healthCheck(address, SERVICE_NAME), 'SERVING');
        assert.equal((await httpRequest(service.httpPort, 'GET', '/healthz')).status, 200);
        const res = await c.rank(base('user-000001', { num_results: 3 }));
        assert.equal(res.items.length, 3);
      } finally {
        c.close();
        await service.stop(1000);
      }
    });

    it('the harness server is SERVING; an unknown service name is NOT_FOUND', async () => {
      assert.equal(await healthCheck(h.address, ''), 'SERVING');
      assert.equal(await healthCheck(h.address, SERVICE_NAME), 'SERVING');
      await expectStatus(healthCheck(h.address, 'no.such.Service'), grpc.status.NOT_FOUND);
    });

    it('server reflection (v1 and v1alpha) lists ranking.v1.RankingService and the health service', async () => {
      for (const version of ['v1', 'v1alpha'] as const) {
        const names = await reflectionListServices(h.address, version);
        assert.ok(names.includes(SERVICE_NAME), `${version}: ${names.join(', ')}`);
      }
    });
  });

  describe('Rank', () => {
    it('returns exactly num_results distinct known items with 4 probabilities in [0, 1] and the bundle version', async () => {
      const user = freshUser();
      for (const n of [1, 20, 50]) {
        const res = await rank(base(user, { num_results: n }));
        assert.equal(res.items.length, n);
        assert.equal(new Set(ids(res)).size, n, 'items are distinct');
        assert.equal(res.bundle_version, h.bundle.manifest.version);
        assert.ok(res.request_id.length > 0);
        for (const it of res.items) {
          const known = h.world.items.get(it.item_id);
          assert.ok(known, `${it.item_id} is in the catalog`);
          assert.ok(h.engine.catalog.rowOf.has(it.item_id));
          assert.equal(it.brand, known.brand);
          assert.equal(it.category, known.category);
          assert.deepEqual(
            it.objectives.map((o) => o.objective),
            OBJECTIVES,
          );
          for (const o of it.objectives) assert.ok(o.probability >= 0 && o.probability <= 1, `${it.item_id} P(${o.objective}) = ${o.probability}`);
          assert.ok(['PROVENANCE_RETRIEVED', 'PROVENANCE_FRESH'].includes(it.provenance), it.provenance);
          assert.ok(Number.isFinite(it.score));
          assert.deepEqual(it.stage_scores, [], 'no stage scores without debug');
        }
        assert.deepEqual(res.stages, [], 'no stage reports without debug');
      }
    });

    it('num_results at the limit (200) returns exactly 200 items when retrieval found far more', async () => {
      const res = await rank(base(freshUser(), { num_results: 200, options: PLAIN, debug: true }));
      const retrieval = res.stages.find((s) => s.stage === 'retrieval')!;
      assert.ok(retrieval.candidates_out >= 1000, `retrieval found ${retrieval.candidates_out}`);
      assert.equal(res.items.length, 200, `policy: ${res.stages.find((s) => s.stage === 'policy')!.note}`);
    });

    it('debug=true reports all 7 stages in order and per-item stage scores; score = sum of weighted probabilities', async () => {
      const res = await rank(base(freshUser(), { debug: true }));
      assert.equal(res.items.length, 20);
      assert.deepEqual(
        res.stages.map((s) => s.stage),
        STAGES,
      );
      for (let i = 0; i < res.stages.length; i++) {
        const s = res.stages[i];
        assert.ok(s.millis >= 0 && Number.isFinite(s.millis), `${s.stage} millis`);
        if (i > 0) assert.equal(s.candidates_in, res.stages[i - 1].candidates_out, `${s.stage} takes what ${res.stages[i - 1].stage} gave`);
      }
      const byStage = new Map(res.stages.map((s) => [s.stage, s]));
      assert.ok(byStage.get('retrieval')!.candidates_out > 20);
      assert.equal(byStage.get('policy')!.candidates_out, 20);
      for (const it of res.items) {
        assert.ok(it.stage_scores.length > 0, `${it.item_id} has stage scores`);
        const stages = it.stage_scores.map((s) => s.stage);
        for (const s of ['retrieval', 'ensemble', 'policy']) assert.ok(stages.includes(s), `${it.item_id}: ${stages.join(',')} lacks ${s}`);
        const policy = it.stage_scores.find((s) => s.stage === 'policy')!;
        assert.ok(Math.abs(policy.score - it.score) < 1e-5, `policy stage score ${policy.score} vs ${it.score}`);
        const expected = OBJECTIVES.reduce((a, o) => a + HOME_WEIGHTS[o] * prob(it, o), 0);
        assert.ok(Math.abs(it.score - expected) < 1e-4 * Math.max(1, expected), `${it.item_id}: score ${it.score} vs sum w p ${expected}`);
      }
    });

    it('echoes the x-request-id metadata as request_id', async () => {
      const md = new grpc.Metadata();
      md.set('x-request-id', 'req-e2e-42');
      const res = await client.rank(base(freshUser(), { num_results: 2 }), { metadata: md });
      assert.equal(res.request_id, 'req-e2e-42');
    });

    it('logs one debug line per call with the method, request id and status (and none above debug level)', async () => {
      const lines: { method?: string; requestId?: string; code?: string; details?: string }[] = [];
      const stream = { write: (l: string) => void lines.push(JSON.parse(l)) };
      const metrics = createMetrics({ defaultMetrics: false });
      for (const level of ['debug', 'info'] as const) {
        lines.length = 0;
        const svc = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics, logger: pino({ level }, stream) });
        await svc.start();
        svc.setEngine(h.engine);
        const c = new RankingClient(`127.0.0.1:${svc.grpcPort}`);
        try {
          const md = new grpc.Metadata();
          md.set('x-request-id', `log-${level}`);
          await c.rank(base(freshUser(), { num_results: 2 }), { metadata: md });
          await expectStatus(c.rank({ ...base(freshUser()), num_results: -1 }), grpc.status.INVALID_ARGUMENT, /num_results/);
        } finally {
          c.close();
          await svc.stop(1000);
        }
        const calls = lines.filter((l) => l.method === 'Rank');
        if (level === 'info') {
          assert.equal(calls.length, 0, 'no per-call lines at info');
          continue;
        }
        assert.equal(calls.length, 2, JSON.stringify(lines));
        assert.deepEqual([calls[0].requestId, calls[0].code], ['log-debug', 'OK']);
        assert.equal(calls[1].code, 'INVALID_ARGUMENT');
        assert.match(calls[1].details ?? '', /num_results/);
      }
    });

    it('serves a cold (unknown) user from the popular items', async () => {
      const res = await rank(base('nobody-at-all', { options: PLAIN, debug: true }));
      assert.equal(res.items.length, 20);
      assert.equal(new Set(ids(res)).size, 20);
      assert.match(res.stages.find((s) => s.stage === 'user_embedding')!.note, /cold/);
    });

    it('context.category restricts every returned item to that category', async () => {
      const user = freshUser();
      const category = h.world.items.values().next().value!.category;
      const res = await rank(base(user, { context: { surface: 'SURFACE_BROWSE', category }, num_results: 15 }));
      assert.equal(res.items.length, 15);
      for (const it of res.items) assert.equal(it.category, category, it.item_id);
    });

    it('takes 20 concurrent calls (micro-batched) and answers each one fully', async () => {
      const users = Array.from({ length: 20 }, () => freshUser());
      const all = await Promise.all(users.map((u) => rank(base(u, { num_results: 10 }))));
      for (const res of all) {
        assert.equal(res.items.length, 10);
        assert.equal(new Set(ids(res)).size, 10);
      }
    });
  });

  describe('re-rank mode (candidate_ids)', () => {
    it('returns only provided ids (PROVENANCE_PROVIDED) and reports unknown ids without failing', async () => {
      const provided = [...h.world.items.keys()].filter((_, i) => i % 97 === 3).slice(0, 30);
      assert.equal(provided.length, 30);
      const unknown = ['no-such-item-1', 'no-such-item-2'];
      const res = await rank(
        base(freshUser(), {
          candidate_ids: [unknown[0], ...provided, provided[0], unknown[1]],
          num_results: 10,
          debug: true,
        }),
      );
      assert.equal(res.items.length, 10);
      assert.equal(new Set(ids(res)).size, 10);
      for (const it of res.items) {
        assert.ok(provided.includes(it.item_id), `${it.item_id} was not provided`);
        assert.equal(it.provenance, 'PROVENANCE_PROVIDED');
      }
      assert.deepEqual(res.unknown_candidate_ids, unknown);
      assert.equal(res.stages.find((s) => s.stage === 'retrieval')!.candidates_out, 30);
    });

    it('with fewer candidates than num_results returns all of them', async () => {
      const provided = [...h.world.items.keys()].slice(100, 105);
      const res = await rank(base(freshUser(), { candidate_ids: provided, num_results: 20, options: PLAIN }));
      assert.deepEqual([...ids(res)].sort(), [...provided].sort());
    });

    it('with only unknown candidate ids answers OK with no items and every id reported', async () => {
      const res = await rank(base(freshUser(), { candidate_ids: ['ghost-a', 'ghost-b'], num_results: 5 }));
      assert.deepEqual(res.items, []);
      assert.deepEqual(res.unknown_candidate_ids, ['ghost-a', 'ghost-b']);
    });
  });

  describe('objective weights, events and the policy layer', () => {
    const steer = (o: Record<string, number>): Record<string, number> => ({ click: 0, wishlist: 0, cart: 0, purchase: 0, ...o });
    const noDiversity: StageOptions = { diversity: 'DIVERSITY_METHOD_NONE', exploration: 'EXPLORATION_METHOD_NONE', brand_run_limit: 1000 };

    it('all weight on purchase sorts by P(purchase), with a higher mean P(purchase) than all weight on click', async () => {
      for (let u = 0; u < 3; u++) {
        const user = freshUser();
        const byPurchase = await rank(base(user, { objective_weights: steer({ purchase: 1 }), options: noDiversity }));
        const byClick = await rank(base(user, { objective_weights: steer({ click: 1 }), options: noDiversity }));
        assert.equal(byPurchase.items.length, 20);
        assert.equal(byClick.items.length, 20);
        const p = byPurchase.items.map((it) => prob(it, 'purchase'));
        for (let i = 1; i < p.length; i++) assert.ok(p[i] <= p[i - 1] + 1e-6, `${user}: P(purchase) rises at ${i}: ${p[i - 1]} -> ${p[i]}`);
        byPurchase.items.forEach((it) => assert.ok(Math.abs(it.score - prob(it, 'purchase')) < 1e-5));
        const c = byClick.items.map((it) => prob(it, 'click'));
        for (let i = 1; i < c.length; i++) assert.ok(c[i] <= c[i - 1] + 1e-6, `${user}: P(click) rises at ${i}`);
        const mp = mean(p);
        const mc = mean(byClick.items.map((it) => prob(it, 'purchase')));
        assert.ok(mp > mc, `${user}: mean P(purchase) ${mp} (purchase weights) vs ${mc} (click weights)`);
      }
    });

    it('a purchase recorded via RecordEvents pushes that item out of the top results', async () => {
      const user = freshUser();
      const first = await rank(base(user, { num_results: 10, options: PLAIN }));
      const top = first.items[0].item_id;
      const ack = await client.recordEvents({ events: [{ user_id: user, item_id: top, type: 'ACTION_TYPE_PURCHASE', timestamp_ms: 0 }] });
      assert.equal(ack.accepted, 1);
      const second = await rank(base(user, { num_results: 10, options: PLAIN, debug: true }));
      assert.equal(second.items.length, 10);
      assert.ok(!ids(second).includes(top), `purchased ${top} is still in ${ids(second).join(', ')}`);
    });

    it('a purchase in recent_actions (not recorded) also pushes the item out', async () => {
      const user = freshUser();
      const first = await rank(base(user, { num_results: 10, options: PLAIN }));
      const top = first.items[0].item_id;
      const second = await rank(
        base(user, { num_results: 10, options: PLAIN, recent_actions: [{ item_id: top, type: 'ACTION_TYPE_PURCHASE', timestamp_ms: 0 }] }),
      );
      assert.ok(!ids(second).includes(top));
    });

    it('impressions recorded for the top items remove them from the next ranking', async () => {
      const user = freshUser();
      const first = await rank(base(user, { num_results: 10, options: PLAIN }));
      const shown = ids(first).slice(0, 5);
      const ack = await client.recordEvents({ events: shown.map((item_id) => ({ user_id: user, item_id, type: 'ACTION_TYPE_IMPRESSION' })) });
      assert.equal(ack.accepted, 5);
      const second = await rank(base(user, { num_results: 10, options: PLAIN, debug: true }));
      assert.equal(second.items.length, 10);
      for (const id of shown) assert.ok(!ids(second).includes(id), `seen ${id} came back`);
      for (const r of second.removed.filter((x) => shown.includes(x.item_id))) assert.equal(r.stage, 'policy');
      assert.ok(
        second.removed.some((r) => shown.includes(r.item_id) && r.reason === 'seen'),
        'debug lists the seen items as removed by the policy',
      );
    });

    it('impressions in recent_actions (not recorded) filter the same way', async () => {
      const user = freshUser();
      const first = await rank(base(user, { num_results: 10, options: PLAIN }));
      const shown = ids(first).slice(0, 5);
      const second = await rank(
        base(user, { num_results: 10, options: PLAIN, recent_actions: shown.map((item_id) => ({ item_id, type: 'ACTION_TYPE_IMPRESSION' })) }),
      );
      for (const id of shown) assert.ok(!ids(second).includes(id), `seen ${id} came back`);
    });

    it('brand runs never exceed options.brand_run_limit (limits 1..3, several users, exploration NONE)', async () => {
      const users = Array.from({ length: 4 }, () => freshUser());
      const violations: string[] = [];
      for (const user of users) {
        for (const limit of [1, 2, 3]) {
          for (const diversity of ['DIVERSITY_METHOD_NONE', 'DIVERSITY_METHOD_DPP', 'DIVERSITY_METHOD_MMR'] as const) {
            const res = await rank(base(user, { num_results: 40, options: { exploration: 'EXPLORATION_METHOD_NONE', brand_run_limit: limit, diversity }, debug: true }));
            assert.equal(res.items.length, 40);
            // The policy stage had plenty of candidates of other brands to break any run with.
            assert.ok(res.stages.find((s) => s.stage === 'policy')!.candidates_in >= 100);
            const run = maxBrandRun(res.items);
            if (run > limit) violations.push(`${user} ${diversity} limit ${limit}: run of ${run} (${res.items.map((it) => it.brand).join(',')})`);
          }
        }
      }
      assert.deepEqual(violations, []);
    });

    const checkExploration = (res: RankResponse__Output, k: number, label: string): number => {
      const flagged = res.items.map((it, i) => ({ it, pos: i + 1 })).filter((x) => x.it.exploration);
      for (const { it, pos } of flagged) {
        assert.ok(pos >= k, `${label}: exploration item ${it.item_id} at position ${pos} < ${k}`);
        const w = h.world.items.get(it.item_id);
        assert.ok(h.world.isNew(it.item_id), `${label}: exploration item ${it.item_id} is not new (created ${w ? new Date(w.createdAt).toISOString() : '?'})`);
        assert.equal(it.provenance, 'PROVENANCE_FRESH');
      }
      // epsilon 1: every position from k on is an exploration pick while new items last.
      if (flagged.length > 0) assert.equal(flagged[0].pos, k, `${label}: first exploration pick`);
      return flagged.length;
    };
    /** Keeps every retrieved candidate through the pre-rank cut, so fresh (new) candidates reach the policy. */
    const wide: StageOptions = { prerank_keep: 5000 };

    it('exploration EPSILON_GREEDY / THOMPSON with epsilon 1: flagged items are new and never before exploration_start (wide pre-rank)', async () => {
      for (const [exploration, k] of [
        ['EXPLORATION_METHOD_EPSILON_GREEDY', 1],
        ['EXPLORATION_METHOD_EPSILON_GREEDY', 150],
        ['EXPLORATION_METHOD_THOMPSON', 120],
      ] as const) {
        const res = await rank(
          base(freshUser(), { num_results: 200, options: { ...wide, exploration, exploration_epsilon: 1, exploration_start: k, seed: 1234 } }),
        );
        assert.ok(res.items.length >= 190);
        const n = checkExploration(res, k, `${exploration} k=${k}`);
        assert.ok(n > 0, `${exploration} k=${k}: epsilon 1 placed no exploration item`);
      }
    });

    it('exploration EPSILON_GREEDY with epsilon 1 (default stage options) places new items from exploration_start', async () => {
      // The world has ~190 items created in the last 7 days and the retrieval
      // stage adds 50 of them (PROVENANCE_FRESH); with epsilon 1 every position
      // from k should be an exploration pick.
      const report: string[] = [];
      let picks = 0;
      for (const k of [1, 4, 8]) {
        const user = freshUser();
        const res = await rank(
          base(user, {
            num_results: 20,
            options: { exploration: 'EXPLORATION_METHOD_EPSILON_GREEDY', exploration_epsilon: 1, exploration_start: k, seed: 1234 },
            debug: true,
          }),
        );
        assert.equal(res.items.length, 20);
        const retrieval = res.stages.find((s) => s.stage === 'retrieval')!;
        assert.match(retrieval.note, /fresh [1-9]/, 'the retrieval stage added fresh candidates');
        const n = checkExploration(res, k, `k=${k}`);
        picks += n === 0 ? 0 : 1;
        const stage = (id: string) => res.stages.find((s) => s.stage === id)!.note;
        report.push(`k=${k}: ${n} exploration picks [retrieval: ${stage('retrieval')}; prerank: ${stage('prerank')}; policy: ${stage('policy')}]`);
      }
      assert.equal(picks, 3, `epsilon 1 must place new items from position k:\n${report.join('\n')}`);
    });

    it('exploration with epsilon 0 flags no item', async () => {
      for (const exploration of ['EXPLORATION_METHOD_EPSILON_GREEDY', 'EXPLORATION_METHOD_THOMPSON'] as const) {
        for (let u = 0; u < 2; u++) {
          const res = await rank(base(freshUser(), { num_results: 200, options: { ...wide, exploration, exploration_epsilon: 0, exploration_start: 1 } }));
          assert.ok(res.items.length >= 190);
          assert.deepEqual(
            res.items.filter((it) => it.exploration).map((it) => it.item_id),
            [],
            exploration,
          );
        }
      }
    });

    it('a fixed seed makes exploration reproducible', async () => {
      const user = freshUser();
      const req = base(user, { num_results: 200, options: { ...wide, exploration: 'EXPLORATION_METHOD_EPSILON_GREEDY', exploration_epsilon: 0.5, exploration_start: 2, seed: 777 } });
      const a = await rank(req);
      const b = await rank(req);
      assert.deepEqual(ids(a), ids(b));
    });

    it('MMR and DPP raise the mean number of distinct categories in the top 20 over NONE (20 users)', async () => {
      const users = Array.from({ length: 20 }, () => freshUser());
      const distinct = async (diversity: DiversityMethod) =>
        mean(
          await Promise.all(
            users.map(async (u) => {
              // Calibration off: the diversity methods alone.
              const res = await rank(base(u, { num_results: 20, options: { diversity, exploration: 'EXPLORATION_METHOD_NONE', calibration: 0 } }));
              assert.equal(res.items.length, 20);
              return new Set(res.items.map((it) => it.category)).size;
            }),
          ),
        );
      const none = await distinct('DIVERSITY_METHOD_NONE');
      const mmr = await distinct('DIVERSITY_METHOD_MMR');
      const dpp = await distinct('DIVERSITY_METHOD_DPP');
      assert.ok(mmr > none, `MMR ${mmr} vs NONE ${none}`);
      assert.ok(dpp > none, `DPP ${dpp} vs NONE ${none}`);
    });
  });

  describe('invalid input', () => {
    const user = 'user-000002';
    const invalid = (req: RankRequest, field: RegExp) => expectStatus(rank(req), grpc.status.INVALID_ARGUMENT, field);

    it('empty user_id', () => invalid(base(''), /user_id/));
    it('num_results 0', () => invalid(base(user, { num_results: 0 }), /num_results/));
    it('num_results above the limit (200)', async () => {
      await invalid(base(user, { num_results: 201 }), /num_results/);
      const res = await rank(base(user, { num_results: 200, options: PLAIN }));
      assert.ok(res.items.length > 0 && res.items.length <= 200);
    });
    // Enum numbers the proto does not define: the generated request types allow
    // only defined values, so these are asserted to the enum type.
    it('unknown surface value (the number 99)', () => invalid(base(user, { context: { surface: 99 as Surface } }), /context\.surface/));
    it('unknown device value', () => invalid(base(user, { context: { surface: 'SURFACE_HOME', device: 42 as Device } }), /context\.device/));
    it('negative objective weight', () => invalid(base(user, { objective_weights: { click: -1 } }), /objective_weights\["click"\]/));
    it('NaN objective weight', () => invalid(base(user, { objective_weights: { purchase: NaN } }), /objective_weights\["purchase"\]/));
    it('infinite objective weight', () => invalid(base(user, { objective_weights: { cart: Infinity } }), /objective_weights\["cart"\]/));
    it('unknown objective name', () => invalid(base(user, { objective_weights: { dwell_time: 1 } }), /objective_weights\["dwell_time"\]/));
    it('all objective weights zero', () => invalid(base(user, { objective_weights: { click: 0, wishlist: 0, cart: 0, purchase: 0 } }), /objective_weights/));
    it('too many candidate_ids (2001; 2000 is accepted)', async () => {
      const all = [...h.world.items.keys()];
      await invalid(base(user, { candidate_ids: all.slice(0, 2001) }), /candidate_ids/);
      const res = await rank(base(user, { candidate_ids: all.slice(0, 2000), num_results: 5 }));
      assert.equal(res.items.length, 5);
    });
    it('unknown category', () => invalid(base(user, { context: { surface: 'SURFACE_HOME', category: 'no-such-category' } }), /context\.category/));
    it('recent_actions with an unknown item', () =>
      invalid(base(user, { recent_actions: [{ item_id: 'no-such-item', type: 'ACTION_TYPE_CLICK' }] }), /recent_actions\[0\]\.item_id/));
    it('recent_actions without an action type', () =>
      invalid(base(user, { recent_actions: [{ item_id: h.world.items.keys().next().value!, type: 'ACTION_TYPE_UNSPECIFIED' }] }), /recent_actions\[0\]\.type/));
    it('options out of range (heavy_budget, exploration_epsilon, diversity_lambda, retrieval_k, diversity enum, calibration, max_interests)', async () => {
      await invalid(base(user, { options: { calibration: 1.01 } }), /options\.calibration/);
      await invalid(base(user, { options: { calibration: NaN } }), /options\.calibration/);
      await invalid(base(user, { options: { max_interests: 9 } }), /options\.max_interests/);
      await invalid(base(user, { options: { heavy_budget: 1.5 } }), /options\.heavy_budget/);
      await invalid(base(user, { options: { exploration_epsilon: -0.1 } }), /options\.exploration_epsilon/);
      await invalid(base(user, { options: { diversity_lambda: 2 } }), /options\.diversity_lambda/);
      await invalid(base(user, { options: { retrieval_k: 5001 } }), /options\.retrieval_k/);
      await invalid(base(user, { options: { diversity: 17 as DiversityMethod } }), /options\.diversity/);
    });
    it('RecordEvents with an unknown item id', () =>
      expectStatus(
        client.recordEvents({
          events: [
            { user_id: user, item_id: h.world.items.keys().next().value!, type: 'ACTION_TYPE_CLICK' },
            { user_id: user, item_id: 'no-such-item', type: 'ACTION_TYPE_CLICK' },
          ],
        }),
        grpc.status.INVALID_ARGUMENT,
        /events\[1\]\.item_id/,
      ));
    it('RecordEvents with more than 1000 events', async () => {
      const item = h.world.items.keys().next().value!;
      const events = Array.from({ length: 1001 }, () => ({ user_id: 'e2e-flood', item_id: item, type: 'ACTION_TYPE_CLICK' as const }));
      await expectStatus(client.recordEvents({ events }), grpc.status.INVALID_ARGUMENT, /events/);
    });
    it('RecordEvents with an empty user id or no action type', async () => {
      const item = h.world.items.keys().next().value!;
      await expectStatus(client.recordEvents({ events: [{ user_id: '', item_id: item, type: 'ACTION_TYPE_CLICK' }] }), grpc.status.INVALID_ARGUMENT, /events\[0\]\.user_id/);
      await expectStatus(client.recordEvents({ events: [{ user_id: user, item_id: item }] }), grpc.status.INVALID_ARGUMENT, /events\[0\]\.type/);
    });
    const item = (over: Record<string, unknown> = {}) => ({
      item_id: 'bad-item',
      brand: 'b',
      category: 'c',
      price: 10,
      embedding: Array.from({ length: h.world.config.dim }, (_, i) => (i === 0 ? 1 : 0)),
      ...over,
    });
    it('UpsertItems with the wrong embedding length', () =>
      expectStatus(client.upsertItems({ items: [item({ embedding: [1, 0, 0] })] }), grpc.status.INVALID_ARGUMENT, /items\[0\]\.embedding/));
    it('UpsertItems with a NaN in the embedding', () =>
      expectStatus(
        client.upsertItems({ items: [item({ embedding: Array.from({ length: h.world.config.dim }, (_, i) => (i === 3 ? NaN : 0.1)) })] }),
        grpc.status.INVALID_ARGUMENT,
        /items\[0\]\.embedding/,
      ));
    it('UpsertItems with a non-positive price or a repeated id', async () => {
      await expectStatus(client.upsertItems({ items: [item({ price: 0 })] }), grpc.status.INVALID_ARGUMENT, /items\[0\]\.price/);
      await expectStatus(client.upsertItems({ items: [item(), item()] }), grpc.status.INVALID_ARGUMENT, /items\[1\]\.item_id/);
      assert.ok(!h.engine.catalog.rowOf.has('bad-item'), 'a rejected upsert changes nothing');
    });
    it('DeleteItems with an empty id', () => expectStatus(client.deleteItems({ item_ids: [''] }), grpc.status.INVALID_ARGUMENT, /item_ids\[0\]/));
    it('a Rank with an already expired deadline gets DEADLINE_EXCEEDED', () =>
      // grpc-js may end this call on the client side already; either way the caller sees DEADLINE_EXCEEDED.
      expectStatus(rank(base(user), { deadline: Date.now() - 1000 }), grpc.status.DEADLINE_EXCEEDED));
    it('a latency_budget_ms the cascade cannot meet gets DEADLINE_EXCEEDED from the server', async () => {
      // A degraded cascade on this small world can finish within 1 ms on a
      // fast machine, so the budget is made impossible: the call queues behind
      // more heavy calls than the engine runs at once.
      const heavy = (budget: number) => base(user, { num_results: 200, latency_budget_ms: budget, options: { retrieval_k: 5000, prerank_keep: 5000 } });
      const ahead = Array.from({ length: 3 * h.engine.maxActive }, () => rank(heavy(0)));
      await expectStatus(rank(heavy(1)), grpc.status.DEADLINE_EXCEEDED, /deadline/);
      await Promise.all(ahead);
      const m = await httpRequest(h.httpPort, 'GET', '/metrics');
      assert.match(m.body, /^ranking_requests_total\{method="Rank",code="DEADLINE_EXCEEDED"\} [1-9]/m);
    });
  });

  describe('HTTP side', () => {
    it('POST /v1/rank with a JSON RankRequest answers 200 with items', async () => {
      const body = JSON.stringify({
        user_id: freshUser(),
        context: { surface: 'SURFACE_HOME', device: 'DEVICE_DESKTOP' },
        num_results: 7,
        objective_weights: { purchase: 2 },
        options: { diversity: 'DIVERSITY_METHOD_MMR', brand_run_limit: 2 },
        debug: true,
      });
      const res = await httpRequest(h.httpPort, 'POST', '/v1/rank', body, { 'content-type': 'application/json', 'x-request-id': 'http-1' });
      assert.equal(res.status, 200, res.body);
      const json = JSON.parse(res.body) as RankResponse__Output;
      assert.equal(json.items.length, 7);
      assert.equal(new Set(ids(json)).size, 7);
      assert.equal(json.bundle_version, h.bundle.manifest.version);
      assert.equal(json.request_id, 'http-1');
      assert.deepEqual(
        json.stages.map((s) => s.stage),
        STAGES,
      );
      for (const it of json.items) assert.ok(h.world.items.has(it.item_id));
    });

    it('POST /v1/rank with a bad field answers 400 naming the field', async () => {
      const res = await httpRequest(h.httpPort, 'POST', '/v1/rank', JSON.stringify({ user_id: 'u1', num_results: 'five' }));
      assert.equal(res.status, 400, res.body);
      const json = JSON.parse(res.body) as { error: { message: string } };
      assert.match(json.error.message, /num_results/);
      const bad = await httpRequest(h.httpPort, 'POST', '/v1/rank', JSON.stringify({ user_id: 'u1', num_results: 5, context: { surface: 'SURFACE_MARS' } }));
      assert.equal(bad.status, 400, bad.body);
      assert.match(bad.body, /context\.surface/);
      const notJson = await httpRequest(h.httpPort, 'POST', '/v1/rank', '{"user_id": ');
      assert.equal(notJson.status, 400);
    });

    it('POST /v1/rank validation errors use the gateway error shape (error.code = HTTP status, error.status = gRPC name)', async () => {
      // src/server/http.ts documents every error body as
      //   { error: { code: <http>, status: <gRPC name>, reason, message }, requestId }
      const res = await httpRequest(h.httpPort, 'POST', '/v1/rank', JSON.stringify({ user_id: 'u1', num_results: 0 }));
      assert.equal(res.status, 400);
      const json = JSON.parse(res.body) as { error: { code: number; status?: string; message: string } };
      assert.equal(json.error.status, 'INVALID_ARGUMENT', res.body);
      assert.equal(json.error.code, 400, res.body);
    });

    it('GET /metrics exposes every ranking_ metric after a few calls', async () => {
      await rank(base(freshUser(), { num_results: 3 }));
      await expectStatus(rank(base('')), grpc.status.INVALID_ARGUMENT);
      const res = await httpRequest(h.httpPort, 'GET', '/metrics');
      assert.equal(res.status, 200);
      const names = [
        'requests_total',
        'request_duration_seconds',
        'stage_duration_seconds',
        'stage_candidates_in',
        'stage_candidates_out',
        'strong_model_fraction',
        'batch_rows',
        'batch_queue_wait_seconds',
        'pool_utilization',
        'pool_queue_depth',
        'events_ingested_total',
        'catalog_items',
        'bundle_info',
      ];
      for (const n of names) assert.match(res.body, new RegExp(`^# TYPE ranking_${n} `, 'm'), `ranking_${n} missing`);
      assert.match(res.body, /^ranking_requests_total\{method="Rank",code="OK"\} [1-9]/m);
      assert.match(res.body, /^ranking_requests_total\{method="Rank",code="INVALID_ARGUMENT"\} [1-9]/m);
      assert.match(res.body, /^ranking_stage_duration_seconds_count\{stage="policy"\} [1-9]/m);
      assert.match(res.body, /^ranking_events_ingested_total\{action="purchase"\} [1-9]/m);
      assert.ok(res.body.includes(`ranking_bundle_info{name="demo-world",version="${h.bundle.manifest.version}"} 1`));
      assert.match(res.body, new RegExp(`^ranking_catalog_items ${h.engine.catalog.itemCount}$`, 'm'));
    });
  });

  // Last: these change the catalog every other test reads.
  describe('UpsertItems and DeleteItems', () => {
    const dim = () => h.world.config.dim;
    const rowEmbedding = (id: string): number[] => {
      const row = h.engine.catalog.rowOf.get(id);
      assert.ok(row !== undefined, `${id} is in the catalog`);
      return Array.from(h.engine.catalog.cols.embeddings.subarray(row * dim(), (row + 1) * dim()));
    };

    it('an upserted copy of the user top item is retrieved and ranked; once deleted it never returns', async () => {
      const user = freshUser();
      const opts: StageOptions = { exploration: 'EXPLORATION_METHOD_NONE', diversity: 'DIVERSITY_METHOD_NONE', retrieval_k: 2000 };
      const first = await rank(base(user, { num_results: 10, options: opts }));
      const top = first.items[0];
      const original = h.world.items.get(top.item_id)!;
      const row = h.engine.catalog.rowOf.get(top.item_id)!;
      const cloneId = 'e2e-clone-of-top';
      const up = await client.upsertItems({
        items: [
          {
            item_id: cloneId,
            brand: original.brand,
            category: original.category,
            price: original.price,
            created_at_ms: original.createdAt,
            embedding: rowEmbedding(top.item_id),
            bias: h.engine.catalog.cols.bias[row],
          },
        ],
      });
      assert.deepEqual(up, { inserted: 1, updated: 0 });
      assert.ok(h.engine.catalog.rowOf.has(cloneId));

      // With the original excluded (else the clone is its near-duplicate), the clone takes its place.
      const withClone = await rank(base(user, { num_results: 10, options: { ...opts, exclude_item_ids: [top.item_id] }, debug: true }));
      assert.ok(!ids(withClone).includes(top.item_id), 'excluded item returned');
      const clone = withClone.items.find((it) => it.item_id === cloneId);
      assert.ok(clone, `clone not ranked: ${ids(withClone).join(', ')}`);
      assert.equal(clone.provenance, 'PROVENANCE_RETRIEVED');
      assert.equal(clone.brand, original.brand);
      assert.equal(clone.category, original.category);
      // Re-rank mode knows it too.
      const rerank = await rank(base(user, { candidate_ids: [cloneId, ...ids(first).slice(1, 5)], num_results: 5, options: PLAIN }));
      assert.ok(ids(rerank).includes(cloneId));
      assert.deepEqual(rerank.unknown_candidate_ids, []);

      const del = await client.deleteItems({ item_ids: [cloneId, 'never-existed'] });
      assert.deepEqual(del, { deleted: 1, unknown_item_ids: ['never-existed'] });
      const after = await rank(base(user, { num_results: 10, options: { ...opts, exclude_item_ids: [top.item_id] }, debug: true }));
      assert.ok(!ids(after).includes(cloneId), 'deleted clone returned');
      assert.ok(!after.removed.some((r) => r.item_id === cloneId), 'deleted clone was retrieved');
      const large = await rank(base(user, { num_results: 200, options: { ...opts, retrieval_k: 5000, prerank_keep: 5000 } }));
      assert.ok(!ids(large).includes(cloneId), 'deleted clone returned with a large retrieval_k');
      const rerankAfter = await rank(base(user, { candidate_ids: [cloneId, ...ids(first).slice(1, 5)], num_results: 5 }));
      assert.ok(!ids(rerankAfter).includes(cloneId));
      assert.deepEqual(rerankAfter.unknown_candidate_ids, [cloneId]);
      await expectStatus(
        client.recordEvents({ events: [{ user_id: user, item_id: cloneId, type: 'ACTION_TYPE_CLICK' }] }),
        grpc.status.INVALID_ARGUMENT,
        /events\[0\]\.item_id/,
      );
      assert.deepEqual(await client.deleteItems({ item_ids: [cloneId] }), { deleted: 0, unknown_item_ids: [cloneId] });
    });

    it('a deleted bundle item never returns (retrieval, large retrieval_k, re-rank)', async () => {
      const user = freshUser();
      const first = await rank(base(user, { num_results: 10, options: PLAIN }));
      const top = first.items[0].item_id;
      assert.deepEqual(await client.deleteItems({ item_ids: [top] }), { deleted: 1, unknown_item_ids: [] });
      const again = await rank(base(user, { num_results: 10, options: PLAIN }));
      assert.equal(again.items.length, 10);
      assert.ok(!ids(again).includes(top));
      const large = await rank(base(user, { num_results: 200, options: { ...PLAIN, retrieval_k: 5000, prerank_keep: 5000, diversity: 'DIVERSITY_METHOD_NONE' } }));
      assert.ok(!ids(large).includes(top));
      const rerank = await rank(base(user, { candidate_ids: [top, ...ids(first).slice(1)], num_results: 10 }));
      assert.ok(!ids(rerank).includes(top));
      assert.deepEqual(rerank.unknown_candidate_ids, [top]);
    });

    it('an upsert of an existing id replaces it (updated) and only the new version is served', async () => {
      const user = freshUser();
      const id = 'e2e-replaced';
      const template = { brand: 'e2e-brand', category: 'e2e-new-category', price: 25, created_at_ms: 0 };
      const e = Array.from({ length: dim() }, (_, i) => (i === 1 ? 1 : 0));
      assert.deepEqual(await client.upsertItems({ items: [{ item_id: id, ...template, embedding: e }] }), { inserted: 1, updated: 0 });
      const e2 = Array.from({ length: dim() }, (_, i) => (i === 2 ? 1 : 0));
      assert.deepEqual(await client.upsertItems({ items: [{ item_id: id, ...template, brand: 'e2e-brand-2', embedding: e2 }] }), { inserted: 0, updated: 1 });
      // The new category is known now: browsing it finds exactly the one item.
      const res = await rank(base(user, { context: { surface: 'SURFACE_BROWSE', category: 'e2e-new-category' }, num_results: 5, options: PLAIN }));
      assert.deepEqual(ids(res), [id]);
      assert.equal(res.items[0].brand, 'e2e-brand-2');
      assert.deepEqual(await client.deleteItems({ item_ids: [id] }), { deleted: 1, unknown_item_ids: [] });
      const gone = await rank(base(user, { context: { surface: 'SURFACE_BROWSE', category: 'e2e-new-category' }, num_results: 5, options: PLAIN }));
      assert.deepEqual(ids(gone), []);
    });

    /** Upserts `id` again with its current fields unchanged (an update: same id, same content). */
    const reupsert = async (id: string) => {
      const w = h.world.items.get(id)!;
      const row = h.engine.catalog.rowOf.get(id)!;
      const res = await client.upsertItems({
        items: [{ item_id: id, brand: w.brand, category: w.category, price: w.price, created_at_ms: w.createdAt, embedding: rowEmbedding(id), bias: h.engine.catalog.cols.bias[row] }],
      });
      assert.deepEqual(res, { inserted: 0, updated: 1 });
    };

    it('a purchased item stays pushed out for its buyer after an UpsertItems update of that item', async () => {
      const user = freshUser();
      const first = await rank(base(user, { num_results: 10, options: PLAIN }));
      const top = first.items[0].item_id;
      await client.recordEvents({ events: [{ user_id: user, item_id: top, type: 'ACTION_TYPE_PURCHASE' }] });
      assert.ok(!ids(await rank(base(user, { num_results: 10, options: PLAIN }))).includes(top));
      await reupsert(top); // e.g. a catalog feed refresh of the same item
      const after = await rank(base(user, { num_results: 10, options: PLAIN }));
      assert.ok(!ids(after).includes(top), `purchased ${top} is back at position ${ids(after).indexOf(top) + 1} after its update`);
    });

    it('seen items stay filtered for the user after an UpsertItems update of those items', async () => {
      const user = freshUser();
      const first = await rank(base(user, { num_results: 10, options: PLAIN }));
      const shown = ids(first).slice(0, 3);
      await client.recordEvents({ events: shown.map((item_id) => ({ user_id: user, item_id, type: 'ACTION_TYPE_IMPRESSION' })) });
      for (const id of shown) await reupsert(id);
      const after = await rank(base(user, { num_results: 10, options: PLAIN }));
      for (const id of shown) assert.ok(!ids(after).includes(id), `seen ${id} is back at position ${ids(after).indexOf(id) + 1} after its update`);
    });

    it('catalog_items on /metrics follows upserts and deletes', async () => {
      const before = h.engine.catalog.itemCount;
      const e = Array.from({ length: dim() }, (_, i) => (i === 4 ? 1 : 0));
      await client.upsertItems({ items: [{ item_id: 'e2e-count', brand: 'x', category: 'y', price: 3, embedding: e }] });
      const m1 = await httpRequest(h.httpPort, 'GET', '/metrics');
      assert.match(m1.body, new RegExp(`^ranking_catalog_items ${before + 1}$`, 'm'));
      await client.deleteItems({ item_ids: ['e2e-count'] });
      const m2 = await httpRequest(h.httpPort, 'GET', '/metrics');
      assert.match(m2.body, new RegExp(`^ranking_catalog_items ${before}$`, 'm'));
    });

    it('UpsertItems beyond the catalog headroom gets RESOURCE_EXHAUSTED and changes nothing', async () => {
      const free = h.engine.catalog.capacity - h.engine.catalog.size;
      assert.ok(free < 1000, `headroom left: ${free}`);
      const items = Array.from({ length: 1000 }, (_, i) => ({
        item_id: `e2e-cap-${i}`,
        brand: 'cap',
        category: 'cap',
        price: 5,
        embedding: Array.from({ length: dim() }, (_, j) => (j === i % dim() ? 1 : 0)),
      }));
      const count = h.engine.catalog.itemCount;
      await expectStatus(client.upsertItems({ items }), grpc.status.RESOURCE_EXHAUSTED, /capacity/);
      assert.equal(h.engine.catalog.itemCount, count);
      assert.ok(!h.engine.catalog.rowOf.has('e2e-cap-0'));
      await expectStatus(rank(base('user-000003', { context: { surface: 'SURFACE_HOME', category: 'cap' } })), grpc.status.INVALID_ARGUMENT, /context\.category/);
    });
  });
});
