// A user store that does not answer in time (a remote store that hangs):
// Rank waits for it only as long as the call's deadline leaves the rest of
// the cascade, then serves the user as a new one and says so; without a
// deadline it waits for the answer.
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { loadBundle } from '../../src/bundle/loader';
import type { Bundle } from '../../src/bundle/loader';
import { Engine } from '../../src/pipeline/engine';
import { ENGINE_DEFAULTS } from '../../src/pipeline/options';
import { InMemoryUserStore } from '../../src/state/user-store';
import type { ApplyResult, EngineEvent, UserStore } from '../../src/state/user-store';
import type { UserSnapshot } from '../../src/state/snapshot';
import { plainRankInput } from './rank-input';
import { makeWorld, smallConfig, tmpDir } from '../tools/world/helpers';

/** The in-memory store answering reads after `delayMs` (what a remote store's round trip would take). */
class SlowStore implements UserStore {
  delayMs = 0;
  private readonly inner = new InMemoryUserStore();
  apply(events: readonly EngineEvent[], now: number): ApplyResult {
    return this.inner.apply(events, now);
  }
  snapshot(userId: string, now: number): Promise<UserSnapshot> {
    const snap = this.inner.snapshot(userId, now);
    return new Promise((resolve) => setTimeout(() => resolve(snap), this.delayMs));
  }
  size(): number {
    return this.inner.size();
  }
}

describe('engine: a user store slower than the call\'s deadline', function () {
  this.timeout(120_000);
  let root: string;
  let bundle: Bundle;
  let engine: Engine;
  const store = new SlowStore();

  before(async () => {
    root = await tmpDir('rank-slow-store-');
    await makeWorld(smallConfig({ items: 2000, users: 50, dim: 16 }), root);
    bundle = await loadBundle(path.join(root, 'bundle'));
    engine = await Engine.create(bundle, { ...ENGINE_DEFAULTS, clock: 'bundle', store, seedEvents: path.join(root, 'events.jsonl') });
  });
  after(async () => {
    await engine.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('is waited for when the deadline allows: the user\'s own page, not degraded', async () => {
    store.delayMs = 20;
    const out = await engine.rank({ ...plainRankInput(bundle, 'user-000003'), deadline: Date.now() + 2000 });
    assert.deepEqual(out.degradations, []);
    assert.equal(out.items.length, 20);
  });

  it('is not waited for past the deadline: the page of a new user, in time, with user_state_unavailable', async () => {
    store.delayMs = 5000;
    const t0 = Date.now();
    const out = await engine.rank({ ...plainRankInput(bundle, 'user-000003'), deadline: t0 + 300 });
    const took = Date.now() - t0;
    assert.ok(took < 300, `answered after ${took} ms, past the 300 ms deadline`);
    assert.ok(out.degradations.includes('user_state_unavailable'), JSON.stringify(out.degradations));
    assert.equal(out.items.length, 20);
    store.delayMs = 0;
    const asNew = await engine.rank({ ...plainRankInput(bundle, 'never-seen-user') });
    assert.deepEqual(out.items.map((it) => it.row), asNew.items.map((it) => it.row), 'served as a new user');
  });
});
