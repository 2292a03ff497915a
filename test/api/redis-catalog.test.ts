// Catalog changes shared through the Redis catalog stream (--catalog-stream):
// real server processes on a redis-server of the test's own. A delete
// acknowledged by replica A is never served by replica B afterwards, also
// after B restarts; a replica started later serves the same catalog; changes
// made on two replicas at once end the same on every replica; a Rank on a
// replica that Redis cannot answer says so.
import { strict as assert } from 'node:assert';

import { RankingClient, StageOptions } from '../../src/client';
import { bearer } from './harness';
import { redisForSuite } from '../state/redis-server';
import { kill, serverProcesses } from './server-process';
import type { Running } from './server-process';

const PLAIN: StageOptions = { exploration: 'EXPLORATION_METHOD_NONE', diversity: 'DIVERSITY_METHOD_NONE' };
const TOKEN = 'stream-admin-token';

/** The ids of a plain page of `n`, and the candidates the replica does not know. */
async function page(c: RankingClient, user: string, n = 50, candidates: string[] = []): Promise<{ ids: string[]; unknown: string[]; brands: Map<string, string>; degradations: string[] }> {
  const res = await c.rank({ user_id: user, num_results: n, candidate_ids: candidates, options: PLAIN });
  return {
    ids: res.items.map((it) => it.item_id),
    unknown: [...res.unknown_candidate_ids].sort(),
    brands: new Map(res.items.map((it) => [it.item_id, it.brand])),
    degradations: res.degradations,
  };
}

describe('catalog changes through the Redis catalog stream, shared by server processes', function () {
  this.timeout(180_000);
  const servers = serverProcesses();
  const redis = redisForSuite();
  // fp32: 'auto' picks the rankers' precision by a timing probe, so replicas started under different load could rank ties apart.
  const start = (): Promise<Running> => servers.start(['--catalog-stream', redis().url, '--user-store', redis().url, '--admin-token', TOKEN, '--ranker-precision', 'fp32']);

  it('a delete acknowledged on replica A is never served by replica B afterwards, nor after B restarts, nor by a replica started later', async () => {
    const [a, b] = [await start(), await start()];
    const user = 'user-000021';
    const before = await page(b.client, user);
    const doomed = before.ids.slice(0, 5);
    // B ranks all the time; every call that starts after the acknowledgement must be clean.
    let ackedAt = Infinity;
    const seen: { at: number; ids: string[] }[] = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const at = Date.now();
        seen.push({ at, ids: (await page(b.client, user)).ids });
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const res = await a.client.deleteItems({ item_ids: doomed }, bearer(TOKEN));
    ackedAt = Date.now();
    assert.equal(Number(res.deleted), 5);
    for (let i = 0; i < 20; i++) {
      const p = await page(b.client, user);
      assert.deepEqual(p.ids.filter((id) => doomed.includes(id)), [], `call ${i} on B serves a deleted item`);
    }
    stop = true;
    await load;
    const late = seen.filter((s) => s.at > ackedAt);
    assert.ok(late.every((s) => !s.ids.some((id) => doomed.includes(id))), 'no call on B started after the acknowledgement serves a deleted item');
    assert.deepEqual((await page(a.client, user, 10, doomed)).unknown, [...doomed].sort(), 'A knows them no more');

    await kill(b);
    const b2 = await start();
    assert.deepEqual((await page(b2.client, user, 10, doomed)).unknown, [...doomed].sort(), 'B, restarted, catches up before it serves');
    const c = await start();
    const pc = await page(c.client, user);
    assert.deepEqual(pc.ids, (await page(a.client, user)).ids, 'a replica started later serves the same catalog as A');
    assert.deepEqual(pc.ids.filter((id) => doomed.includes(id)), []);
    await Promise.all([kill(a), kill(b2), kill(c)]);
  });

  it('upserts and deletes of the same items made on two replicas at once end the same on both (one order: the stream\'s)', async () => {
    const [a, b] = [await start(), await start()];
    const { world } = servers;
    const user = 'user-000022';
    const ids = (await page(a.client, user, 6)).ids;
    const dim = world.config.dim;
    const item = (id: string, brand: string, k: number) => ({
      item_id: id,
      brand,
      category: world.items.get(ids[0])?.category ?? 'c0',
      price: 3,
      embedding: Array.from({ length: dim }, (_, i) => Math.cos(k * (i + 1))),
    });
    const calls: Promise<unknown>[] = [];
    for (let round = 0; round < 8; round++) {
      for (const [r, via] of [a, b].entries()) {
        const id = ids[round % 3];
        calls.push(
          round % 4 === 3 && r === 0
            ? via.client.deleteItems({ item_ids: [id] }, bearer(TOKEN))
            : via.client.upsertItems({ items: [item(id, `brand-${r}-${round}`, round * 2 + r + 1), item(`stream-new-${round}`, `brand-${r}`, 40 + round)] }, bearer(TOKEN)),
        );
      }
    }
    await Promise.all(calls);
    const probe = [...ids.slice(0, 3), ...Array.from({ length: 8 }, (_, i) => `stream-new-${i}`)];
    const [pa, pb] = [await page(a.client, user, 20, probe), await page(b.client, user, 20, probe)];
    assert.deepEqual(pa.unknown, pb.unknown, 'the same items deleted on both');
    for (const id of probe) assert.equal(pa.brands.get(id), pb.brands.get(id), `${id}: the same latest version on both`);
    await Promise.all([kill(a), kill(b)]);
  });

  it('Redis unreachable while serving: Rank answers from the catalog it has and says so; changes are UNAVAILABLE', async () => {
    const a = await start();
    const user = 'user-000023';
    await redis().stop();
    const p = await page(a.client, user, 10);
    assert.equal(p.ids.length, 10);
    assert.ok(p.degradations.includes('catalog_stream_unavailable'), p.degradations.join(', '));
    await assert.rejects(a.client.deleteItems({ item_ids: [p.ids[0]] }, bearer(TOKEN)), (err: { code?: number; details?: string }) => err.code === 14 && /catalog stream/.test(err.details ?? ''));
    await kill(a);
  });
});
