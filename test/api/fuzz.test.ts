import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';

import { mulberry32 } from '../../src/util/random';
import { Harness, healthCheck, httpRequest, startHarness } from './harness';

// Random and malformed requests: every answer must be OK or a clear client
// error, and the server must stay healthy.
const CLIENT_ERRORS = new Set(['OK', 'INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED', 'NOT_FOUND']);

describe('server fuzzing: random and malformed requests', function () {
  this.timeout(180_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  const r = mulberry32(2024);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const junkStrings = ['', ' ', 'user-000001', 'item-0000001', 'ü🙂\u0000\uffff', 'x'.repeat(300), 'SURFACE_HOME', '../../etc/passwd', 'item-9999999'];
  const junkNumbers = [0, -1, 1, 3, 200, 201, 1e9, 2 ** 31, NaN, Infinity, -Infinity, 0.5, -0.0];
  const junkString = () => (r() < 0.7 ? pick(junkStrings) : String.fromCharCode(...Array.from({ length: Math.floor(r() * 20) }, () => Math.floor(r() * 0xd7ff))));
  const junkNumber = () => pick(junkNumbers);
  const maybe = <T>(f: () => T): T | undefined => (r() < 0.5 ? f() : undefined);
  const many = <T>(f: () => T, big = 3000): T[] => Array.from({ length: r() < 0.1 ? big : Math.floor(r() * 5) }, f);

  function randomRank(): Record<string, unknown> {
    return {
      user_id: maybe(junkString),
      context: maybe(() => ({ surface: pick(['SURFACE_HOME', 'SURFACE_PDP', 'SURFACE_UNSPECIFIED', 7]), device: pick(['DEVICE_APP', 0, 9]), category: maybe(junkString), query: maybe(junkString) })),
      recent_actions: many(() => ({ item_id: junkString(), type: pick(['ACTION_TYPE_CLICK', 'ACTION_TYPE_UNSPECIFIED', 42]), timestamp_ms: pick([0, -5, 1e13]) }), 500),
      candidate_ids: many(junkString),
      num_results: maybe(junkNumber),
      objective_weights: maybe(() => ({ [pick(['click', 'purchase', 'nope', ''])]: junkNumber() })),
      options: maybe(() => ({
        retrieval_k: maybe(junkNumber),
        prerank_keep: maybe(junkNumber),
        heavy_budget: maybe(junkNumber),
        diversity: pick(['DIVERSITY_METHOD_MMR', 'DIVERSITY_METHOD_DPP', 5]),
        diversity_lambda: maybe(junkNumber),
        brand_run_limit: maybe(junkNumber),
        max_interests: maybe(junkNumber),
        calibration: maybe(junkNumber),
        exploration: pick(['EXPLORATION_METHOD_THOMPSON', 'EXPLORATION_METHOD_NONE', 3]),
        exploration_epsilon: maybe(junkNumber),
        exploration_start: maybe(junkNumber),
        exclude_item_ids: many(junkString),
        seed: maybe(() => Math.floor(r() * 1e6)),
      })),
      debug: r() < 0.3,
      latency_budget_ms: maybe(() => pick([0, 1, 5000])),
    };
  }

  async function code(p: Promise<unknown>): Promise<string> {
    try {
      await p;
      return 'OK';
    } catch (err) {
      const e = err as grpc.ServiceError;
      return e.code === undefined ? `client-side: ${e.message}` : grpc.status[e.code];
    }
  }

  it('answers 600 random Rank and RecordEvents calls with OK or a client error, and stays healthy', async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 600; i++) {
      const p =
        i % 3 === 2
          ? h.client.recordEvents({ events: many(() => ({ user_id: junkString(), item_id: pick([junkString(), 'item-0000001']), type: pick(['ACTION_TYPE_CLICK', 'ACTION_TYPE_PURCHASE', 0, 77]), timestamp_ms: pick([0, -1, 1e12]) }), 2000) as never })
          : h.client.rank(randomRank() as never, { deadline: Date.now() + 10_000 });
      const c = await code(p);
      seen.set(c, (seen.get(c) ?? 0) + 1);
      // protobufjs refusing to encode a value on the client is not a server answer.
      if (c.startsWith('client-side')) continue;
      assert.ok(CLIENT_ERRORS.has(c), `call ${i}: ${c}`);
    }
    const answered = [...seen].filter(([k]) => !k.startsWith('client-side')).reduce((a, [, v]) => a + v, 0);
    assert.ok(answered >= 400, `the server answered ${answered} of 600: ${JSON.stringify([...seen])}`);
    assert.ok((seen.get('INVALID_ARGUMENT') ?? 0) > 50 && (seen.get('OK') ?? 0) > 0, `both outcomes occur: ${JSON.stringify([...seen])}`);
    assert.equal(await healthCheck(h.address, ''), 'SERVING');
    const ok = await h.client.rank({ user_id: 'user-000001', num_results: 5 });
    assert.equal(ok.items.length, 5);
  });

  it('answers random raw bytes on the wire with an error and keeps serving', async () => {
    const raw = new grpc.Client(h.address, grpc.credentials.createInsecure());
    try {
      for (let i = 0; i < 50; i++) {
        const bytes = Buffer.from(Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)));
        const c = await new Promise<string>((resolve) =>
          raw.makeUnaryRequest('/ranking.v1.RankingService/Rank', (b: Buffer) => b, (b: Buffer) => b, bytes, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err) =>
            resolve(err ? grpc.status[err.code] : 'OK'),
          ),
        );
        assert.notEqual(c, 'UNAVAILABLE', 'the server is still up');
      }
    } finally {
      raw.close();
    }
    assert.equal(await healthCheck(h.address, ''), 'SERVING');
  });

  it('answers random JSON on the HTTP gateway with 200 or a 4xx, never a 5xx', async () => {
    const bodies = ['', '{', 'null', '[]', '42', '"x"', '{"user_id": 5}', '{"num_results": "ten", "user_id": "u"}', JSON.stringify(randomRank()), '{"user_id":"user-1","num_results":3,"candidate_ids":{"a":1}}'];
    for (let i = 0; i < 60; i++) {
      const body = i < bodies.length ? bodies[i] : JSON.stringify(randomRank());
      const res = await httpRequest(h.httpPort, 'POST', '/v1/rank', body, { 'content-type': 'application/json' });
      // A valid request whose own latency_budget_ms (1) runs out is 504, as DEADLINE_EXCEEDED over gRPC.
      const ownBudget = res.status === 504 && /"latency_budget_ms":1[,}]/.test(body);
      assert.ok(res.status === 200 || (res.status >= 400 && res.status < 500) || ownBudget, `body ${body.slice(0, 80)} -> ${res.status}`);
    }
  });
});
