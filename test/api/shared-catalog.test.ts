// The ordering rules of catalog changes shared through a stream
// (shared-catalog.ts), on a stream whose reader the test drives: a call is
// answered only when its own entry is applied (in stream order, after the
// entries before it), and a Rank on a replica behind the stream's head waits
// for its reader, or answers UNAVAILABLE at its deadline.
import { strict as assert } from 'node:assert';

import { CatalogChanges } from '../../src/api/catalog-changes';
import { ServiceError } from '../../src/api/errors';
import { SharedCatalog, STREAM_UNAVAILABLE } from '../../src/api/shared-catalog';
import type { CatalogChange } from '../../src/catalog/catalog-log';
import type { RedisCatalogStream, StreamEntry } from '../../src/catalog/redis-catalog-stream';
import { createMetrics } from '../../src/metrics/metrics';
import type { Engine } from '../../src/pipeline/engine';
import { silentLogger } from './harness';

/** A stream in memory: append() stores, the test delivers entries to the reader when it wants. */
class FakeStream {
  entries: StreamEntry[] = [];
  headFails = false;
  private reader: ((e: StreamEntry) => Promise<void>) | null = null;
  private delivered = 0;
  async append(origin: string, call: number, changes: readonly CatalogChange[]): Promise<string> {
    const id = `${this.entries.length + 1}-0`;
    this.entries.push({ id, origin, call, changes: [...changes], skipped: 0 });
    return id;
  }
  async head(): Promise<string> {
    if (this.headFails) throw new Error('connection lost');
    return this.entries.length > 0 ? this.entries[this.entries.length - 1].id : '0-0';
  }
  async readFrom(): Promise<StreamEntry[]> {
    return [];
  }
  follow(_after: string, onEntry: (e: StreamEntry) => Promise<void>): void {
    this.reader = onEntry;
  }
  /** Delivers the entries not yet read, in order. */
  async deliver(): Promise<void> {
    while (this.delivered < this.entries.length) await this.reader!(this.entries[this.delivered++]);
  }
  async close(): Promise<void> {}
}

/** An engine with a catalog of ids only: deletes remove them, the log of calls says in which order. */
function fakeEngine(ids: string[]): { engine: Engine; calls: string[] } {
  const rowOf = new Map(ids.map((id, i) => [id, i]));
  const calls: string[] = [];
  const engine = {
    version: 'v1',
    bundle: { manifest: { createdAt: '2020-01-01T00:00:00Z' } },
    catalog: { rowOf, size: ids.length, capacity: ids.length + 10, dim: 2 },
    async deleteItems(del: string[]) {
      calls.push(`delete ${del.join(',')}`);
      const unknown = del.filter((id) => !rowOf.has(id));
      for (const id of del) rowOf.delete(id);
      return { deleted: del.length - unknown.length, unknown };
    },
    async upsertItems(items: { id: string }[]) {
      calls.push(`upsert ${items.map((i) => i.id).join(',')}`);
      return { inserted: items.length, updated: 0 };
    },
  };
  return { engine: engine as unknown as Engine, calls };
}

async function shared(stream: FakeStream, engine: Engine, applyTimeoutMs = 10_000): Promise<SharedCatalog> {
  const s = new SharedCatalog({
    stream: stream as unknown as RedisCatalogStream,
    changes: new CatalogChanges(),
    current: () => engine,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: silentLogger,
    applyTimeoutMs,
  });
  await s.catchUp(engine);
  return s;
}

describe('shared catalog: changes in stream order, Ranks behind the head wait', () => {
  it('a call is answered once its entry is applied, after the entries appended before it (other replicas\' too)', async () => {
    const stream = new FakeStream();
    const { engine, calls } = fakeEngine(['a', 'b', 'c']);
    const s = await shared(stream, engine);
    // Another replica's delete of b is in the stream first.
    await stream.append('other-replica', 1, [{ op: 'delete', ts: Date.now(), bundle: { version: 'v1', createdAt: '' }, id: 'b' }]);
    let answered = false;
    const mine = s.delete(engine, ['a', 'b']).then((r) => ((answered = true), r));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(answered, false, 'not answered before the reader reached the entry');
    assert.deepEqual(calls, [], 'nothing applied before the reader reached it');
    await stream.deliver();
    const r = await mine;
    assert.deepEqual(calls, ['delete b', 'delete a,b']);
    assert.deepEqual(r, { deleted: 1, unknown: ['b'] }, 'the answer is the apply of its own entry, after the other replica\'s');
    assert.equal(s.appliedId, '2-0');
  });

  it('a Rank behind the head waits for the reader; at its deadline it is UNAVAILABLE (CATALOG_BEHIND)', async () => {
    const stream = new FakeStream();
    const { engine } = fakeEngine(['a', 'b']);
    const s = await shared(stream, engine);
    assert.deepEqual(await s.barrier(Date.now() + 1000), { waited: false, degradation: null }, 'nothing to wait for');
    await stream.append('other-replica', 1, [{ op: 'delete', ts: Date.now(), bundle: { version: 'v1', createdAt: '' }, id: 'a' }]);
    let passed = false;
    const rank = s.barrier(Date.now() + 5000).then((d) => ((passed = true), d));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(passed, false, 'the Rank waits while the replica is behind');
    await stream.deliver();
    assert.deepEqual(await rank, { waited: true, degradation: null });
    assert.equal(engine.catalog.rowOf.has('a'), false, 'the delete is applied before the Rank goes on');

    await stream.append('other-replica', 2, [{ op: 'delete', ts: Date.now(), bundle: { version: 'v1', createdAt: '' }, id: 'b' }]);
    await assert.rejects(s.barrier(Date.now() + 30), (err: ServiceError) => err.code === 'CATALOG_BEHIND' && /not applied on this replica/.test(err.message));
  });

  it('when the head cannot be read, the Rank goes on and says so', async () => {
    const stream = new FakeStream();
    const { engine } = fakeEngine(['a']);
    const s = await shared(stream, engine);
    stream.headFails = true;
    assert.deepEqual(await s.barrier(Date.now() + 1000), { waited: false, degradation: STREAM_UNAVAILABLE });
  });

  it('a call whose entry is not applied here in time is UNAVAILABLE, and says the change is in the stream', async () => {
    const stream = new FakeStream();
    const { engine } = fakeEngine(['a']);
    const s = await shared(stream, engine, 30);
    await assert.rejects(s.delete(engine, ['a']), (err: ServiceError) => err.code === 'CATALOG_BEHIND' && /in the catalog stream/.test(err.message));
    await stream.deliver();
    assert.equal(engine.catalog.rowOf.has('a'), false, 'applied when the reader reaches it');
  });
});

describe('shared catalog in the service: a Rank behind the stream', function () {
  this.timeout(120_000);

  it('waits for the reader, then resolves its item ids against the catalog as changed (a deleted candidate is unknown, never served)', async () => {
    const { startHarness } = await import('./harness');
    const h = await startHarness();
    try {
      const stream = new FakeStream();
      h.service.shareCatalog(stream as unknown as RedisCatalogStream);
      await h.service.restoreCatalog(h.engine, []);
      const user = 'user-000009';
      const top = (await h.client.rank({ user_id: user, num_results: 3, options: { exploration: 'EXPLORATION_METHOD_NONE', diversity: 'DIVERSITY_METHOD_NONE' } })).items.map((it) => it.item_id);
      // Another replica deleted the first: the entry is in the stream, not yet read here.
      await stream.append('other-replica', 1, [{ op: 'delete', ts: Date.now(), bundle: { version: h.engine.version, createdAt: '' }, id: top[0] }]);
      const pending = h.client.rank({ user_id: user, num_results: 3, candidate_ids: top, options: { exploration: 'EXPLORATION_METHOD_NONE', diversity: 'DIVERSITY_METHOD_NONE' } });
      await new Promise((r) => setTimeout(r, 50));
      await stream.deliver();
      const res = await pending;
      assert.deepEqual([...res.unknown_candidate_ids], [top[0]], 'the deleted candidate is unknown');
      assert.ok(!res.items.some((it) => it.item_id === top[0]), 'and not served');
    } finally {
      await h.close();
    }
  });
});
