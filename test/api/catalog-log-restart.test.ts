// Acknowledged catalog changes survive a crash: the real server process
// (dist/src/main.js) with --catalog-log, killed with SIGKILL after
// DeleteItems and UpsertItems were acknowledged, restarted on the same log.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';

import { RankedItem__Output, RankingClient, RankRequest, StageOptions } from '../../src/client';
import { bearer } from './harness';
import { kill, serverProcesses } from './server-process';

const PLAIN: StageOptions = { exploration: 'EXPLORATION_METHOD_NONE', diversity: 'DIVERSITY_METHOD_NONE' };
const TOKEN = 'catalog-admin-token';

async function rank(c: RankingClient, req: RankRequest): Promise<{ items: RankedItem__Output[]; unknown: string[] }> {
  const res = await c.rank({ ...req, options: PLAIN });
  return { items: res.items, unknown: [...res.unknown_candidate_ids].sort() };
}

describe('catalog log: acknowledged catalog changes survive a crash of the server process', function () {
  this.timeout(180_000);
  const servers = serverProcesses();
  const start = (logDir: string) => servers.start(['--catalog-log', logDir, '--admin-token', TOKEN]);

  it('deletes and upserts acknowledged before SIGKILL hold after the restart; an empty log serves the bundle as built', async () => {
    const { world, tmp } = servers;
    const logDir = path.join(tmp, 'catalog');
    const user = 'user-000011';
    const a = await start(logDir);
    const top = (await rank(a.client, { user_id: user, num_results: 10 })).items;
    const doomed = top.slice(0, 5).map((it) => it.item_id).sort();
    const updated = top[5];
    const dim = world.config.dim;
    const category = world.items.get(updated.item_id)!.category;
    // Different vectors: the policy drops near-duplicates from a page.
    const item = (id: string, brand: string, k: number) => ({ item_id: id, brand, category, price: 4, embedding: Array.from({ length: dim }, (_, i) => Math.cos(k * i)) });
    // Concurrent calls, so they go through shared group commits.
    await Promise.all([
      ...doomed.map((id) => a.client.deleteItems({ item_ids: [id] }, bearer(TOKEN))),
      a.client.upsertItems({ items: [item('crash-new', 'brand-new', 1), item(updated.item_id, 'brand-updated', 2)] }, bearer(TOKEN)),
    ]);
    const probe = { user_id: user, candidate_ids: [...doomed, 'crash-new', updated.item_id], num_results: 10 };
    assert.deepEqual((await rank(a.client, probe)).unknown, doomed, 'the changes apply before the crash');
    await kill(a);

    const b = await start(logDir);
    const after = await rank(b.client, probe);
    assert.deepEqual(after.unknown, doomed, 'deleted items are unknown after the restart');
    const brands = new Map(after.items.map((it) => [it.item_id, it.brand]));
    assert.equal(brands.get('crash-new'), 'brand-new', 'the new item is there after the restart');
    assert.equal(brands.get(updated.item_id), 'brand-updated', 'the update holds after the restart');
    const page = (await rank(b.client, { user_id: user, num_results: 50 })).items.map((it) => it.item_id);
    assert.deepEqual(page.filter((id) => doomed.includes(id)), [], 'no deleted item on the user\'s page');
    await kill(b);

    // Control: the same bundle with an empty log knows the deleted items and not the new one.
    const c = await start(path.join(tmp, 'empty'));
    const control = await rank(c.client, probe);
    assert.deepEqual(control.unknown, ['crash-new']);
    assert.equal(new Map(control.items.map((it) => [it.item_id, it.brand])).get(updated.item_id), updated.brand);
    await kill(c);
  });
});
