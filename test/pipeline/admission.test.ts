import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';

import { CallLimit, ConcurrencyLimitError, DeadlineError, QueueWaitError, SlotQueue } from '../../src/pipeline/admission';
import { toStatus } from '../../src/api/errors';

/** A SlotQueue on a fake clock, and helpers that record what happened to each request. */
function setup(maxActive: number, maxQueueWaitMs: number) {
  let t = 1_000_000;
  const q = new SlotQueue({ maxActive, maxQueueWaitMs, now: () => t });
  const started: { id: string; at: number }[] = [];
  const refused = new Map<string, unknown>();
  const request = (id: string, deadline: number, signal?: AbortSignal) =>
    q.acquire(deadline, signal).then(
      () => void started.push({ id, at: t }),
      (err: unknown) => void refused.set(id, err),
    );
  /** Lets the promise callbacks run. */
  const settle = () => new Promise<void>((r) => setImmediate(r));
  return {
    q,
    started,
    refused,
    request,
    settle,
    advance: (ms: number) => (t += ms),
    now: () => t,
  };
}

/**
 * Teaches the queue a service time: `n` requests each holding their slot
 * `holdMs`, with requests waiting (so the departure interval is measured
 * too: holdMs / maxActive). Leaves the queue idle.
 */
async function train(s: ReturnType<typeof setup>, n: number, holdMs: number): Promise<void> {
  const maxActive = s.q.maxActive;
  const ids = Array.from({ length: n + maxActive }, (_, i) => `train${i}`);
  const done = ids.map((id) => s.request(id, s.now() + 1e9));
  await s.settle();
  for (let i = 0; i < n + maxActive; i++) {
    s.advance(holdMs / maxActive);
    s.q.release(holdMs);
    await s.settle();
  }
  await Promise.all(done);
  assert.equal(s.q.activeCount, 0);
  assert.equal(s.q.waitingCount, 0);
  s.started.length = 0;
}

describe('engine: admission to the cascade (SlotQueue)', () => {
  it('under a burst admits the requests that can start before their deadline, refuses the rest at once with RESOURCE_EXHAUSTED and a retry-after, and serves the admitted in arrival order', async () => {
    const s = setup(2, 1000);
    await train(s, 40, 10); // 10 ms per request, 2 slots: one departure every 5 ms
    assert.equal(s.q.predictedHoldMs, 10);
    const t0 = s.now();
    const deadline = t0 + 200; // latest start: 190 ms from now
    const burst = Array.from({ length: 100 }, (_, i) => s.request(`b${i}`, deadline));
    await s.settle();
    // Two take the free slots; the k-th waiting one is predicted to start after k x 5 ms: k <= 38.
    assert.deepEqual(
      s.started.map((x) => x.id),
      ['b0', 'b1'],
    );
    assert.equal(s.q.waitingCount, 38);
    assert.equal(s.refused.size, 60, 'the excess was refused on arrival, before any work');
    for (let i = 40; i < 100; i++) {
      const err = s.refused.get(`b${i}`);
      assert.ok(err instanceof QueueWaitError && err.expectedMs !== undefined, `b${i} refused on arrival`);
      const st = toStatus(err);
      assert.equal(st.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.ok(Number(st.metadata.get('retry-after-ms')[0]) >= 190, `retry-after-ms ${String(st.metadata.get('retry-after-ms')[0])}: after the queue ahead drains`);
    }
    assert.equal(s.q.shedOnArrival, 60);
    // The engine serves at the predicted rate: every admitted request starts in time, in arrival order.
    while (s.q.activeCount > 0) {
      s.advance(5);
      s.q.release(10);
      await s.settle();
    }
    await Promise.all(burst);
    assert.deepEqual(
      s.started.map((x) => x.id),
      Array.from({ length: 40 }, (_, i) => `b${i}`),
    );
    for (const x of s.started) assert.ok(x.at + 10 <= deadline, `${x.id} started at +${x.at - t0} ms and can finish by its deadline`);
    assert.equal(s.refused.size, 60, 'no admitted request was refused');
  });

  it('refuses a waiting request that can no longer start in time (the engine slowed down) instead of running it late', async () => {
    const s = setup(1, 1000);
    await train(s, 20, 10);
    const t0 = s.now();
    const burst = Array.from({ length: 12 }, (_, i) => s.request(`r${i}`, t0 + 100)); // latest start +90 ms
    await s.settle();
    assert.equal(s.q.waitingCount, 9, 'nine fit at 10 ms each');
    // Each takes 30 ms instead of 10.
    while (s.q.activeCount > 0) {
      s.advance(30);
      s.q.release(30);
      await s.settle();
    }
    await Promise.all(burst);
    for (const x of s.started) assert.ok(x.at <= t0 + 100 - 10, `${x.id} started at +${x.at - t0} ms`);
    const late = [...s.refused].filter(([, e]) => e instanceof QueueWaitError && e.expectedMs === undefined).map(([id]) => id);
    assert.ok(late.length > 0, 'some admitted requests were refused while waiting');
    assert.equal(s.started.length + s.refused.size, 12, 'every request was answered');
    for (const id of late) assert.equal(toStatus(s.refused.get(id)).code, grpc.status.RESOURCE_EXHAUSTED);
  });

  it('serves the newest first once the oldest has waited longer than maxQueueWaitMs, and refuses the oldest when they can no longer start in time', async () => {
    const s = setup(1, 50);
    await train(s, 20, 10);
    const t0 = s.now();
    // A standing queue: 20 requests, each with 1 s; one departure every 10 ms.
    const reqs = Array.from({ length: 20 }, (_, i) => s.request(`s${i}`, t0 + 1000));
    await s.settle();
    assert.deepEqual(
      s.started.map((x) => x.id),
      ['s0'],
    );
    // Under 50 ms of waiting: arrival order.
    for (let k = 0; k < 3; k++) {
      s.advance(10);
      s.q.release(10);
      await s.settle();
    }
    assert.deepEqual(
      s.started.map((x) => x.id),
      ['s0', 's1', 's2', 's3'],
    );
    // The oldest (s4) has now waited 60 ms: newest first.
    s.advance(30);
    for (let k = 0; k < 3; k++) {
      s.q.release(10);
      await s.settle();
    }
    assert.deepEqual(
      s.started.slice(4).map((x) => x.id),
      ['s19', 's18', 's17'],
    );
    // Past s4's latest start (+990 ms), the ones still waiting are refused when the slot frees, not run late.
    s.advance(1000);
    s.q.release(10);
    await Promise.all(reqs);
    assert.equal(s.q.activeCount, 0);
    assert.equal(s.started.length, 7);
    assert.equal(s.refused.size, 13);
    for (const e of s.refused.values()) assert.equal(toStatus(e).code, grpc.status.RESOURCE_EXHAUSTED);
  });

  it('under a standing queue a new arrival takes the place of the oldest, which is refused at once', async () => {
    const s = setup(1, 50);
    await train(s, 20, 10);
    const t0 = s.now();
    // Full for a 100 ms deadline: one running, nine waiting (latest start +90 ms).
    const first = Array.from({ length: 10 }, (_, i) => s.request(`f${i}`, t0 + 100));
    await s.settle();
    assert.equal(s.q.waitingCount, 9);
    // Not yet standing (the oldest has waited 0 ms): refused on arrival.
    const early = s.request('early', t0 + 100);
    await s.settle();
    assert.ok(s.refused.get('early') instanceof QueueWaitError);
    // 60 ms later, nothing served meanwhile: standing. A new arrival with a later deadline displaces f1.
    s.advance(60);
    const late = s.request('late', s.now() + 100);
    await s.settle();
    const displaced = s.refused.get('f1');
    assert.ok(displaced instanceof QueueWaitError && displaced.expectedMs === undefined && displaced.waitedMs === 60, String(displaced));
    assert.equal(toStatus(displaced).code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(s.q.waitingCount, 9, 'the queue did not grow');
    s.advance(5);
    s.q.release(10);
    await s.settle();
    assert.equal(s.started.at(-1)?.id, 'late', 'the newest is served first');
    while (s.q.activeCount > 0) {
      s.advance(100);
      s.q.release(10);
      await s.settle();
    }
    await Promise.all([...first, early, late]);
  });

  it('a request without a deadline waits at most maxQueueWaitMs', async () => {
    const s = setup(1, 25);
    await train(s, 20, 10);
    const reqs = Array.from({ length: 6 }, (_, i) => s.request(`n${i}`, Infinity));
    await s.settle();
    // Predicted waits 10, 20 ms fit in 25; 30 ms does not.
    assert.equal(s.q.waitingCount, 2);
    assert.equal(s.refused.size, 3);
    while (s.q.activeCount > 0) {
      s.advance(10);
      s.q.release(10);
      await s.settle();
    }
    await Promise.all(reqs);
    assert.deepEqual(
      s.started.map((x) => x.id),
      ['n0', 'n1', 'n2'],
    );
  });

  it('a deadline closer than one cascade, with no slot free, is the caller\'s: DEADLINE_EXCEEDED, not an overload', async () => {
    const s = setup(1, 1000);
    await train(s, 20, 10);
    const first = s.request('d0', Infinity);
    const tooShort = s.request('d1', s.now() + 5);
    await s.settle();
    const err = s.refused.get('d1');
    assert.ok(err instanceof DeadlineError, String(err));
    assert.equal(toStatus(err).code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(s.q.shedOnArrival, 0);
    s.q.release(10);
    await Promise.all([first, tooShort]);
  });

  it('drops a waiting request whose caller went away, without giving it the slot', async () => {
    const s = setup(1, 1000);
    await train(s, 20, 10);
    const ac = new AbortController();
    const reqs = [s.request('c0', Infinity), s.request('c1', s.now() + 500, ac.signal), s.request('c2', s.now() + 500)];
    await s.settle();
    ac.abort(new Error('gone'));
    s.advance(10);
    s.q.release(10);
    await s.settle();
    s.q.release(10);
    await Promise.all(reqs);
    assert.deepEqual(
      s.started.map((x) => x.id),
      ['c0', 'c2'],
    );
    assert.equal((s.refused.get('c1') as Error).message, 'gone');
    assert.equal(s.q.activeCount, 0);
  });
});

describe('admission: the limit on calls in progress (CallLimit)', () => {
  it('admits up to the limit, refuses the next with RESOURCE_EXHAUSTED and a retry hint, admits again after a call leaves', () => {
    const calls = new CallLimit(2);
    calls.enter();
    calls.enter();
    assert.equal(calls.inProgress, 2);
    let refused: unknown;
    try {
      calls.enter();
    } catch (err) {
      refused = err;
    }
    assert.ok(refused instanceof ConcurrencyLimitError);
    assert.equal(calls.inProgress, 2, 'a refused call is not counted');
    const s = toStatus(refused);
    assert.equal(s.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(s.details, '2 Rank calls in progress (limit 2); retry later');
    assert.equal(s.metadata.get('retry-after-ms')[0], '20');
    calls.leave();
    calls.enter();
    assert.equal(calls.inProgress, 2);
  });
});
