// Catalog changes (UpsertItems, DeleteItems) hold across ReloadBundle: they
// are re-applied to a bundle built before them, and a bundle built after them
// supersedes them. In process, through gRPC, with and without a catalog log.
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadBundle } from '../../src/bundle/loader';
import { MANIFEST } from '../../src/bundle/manifest';
import { Engine } from '../../src/pipeline/engine';
import { CatalogChange, CatalogLog, openCatalogLog } from '../../src/catalog/catalog-log';
import { CatalogChanges, supersedes } from '../../src/api/catalog-changes';
import { createMetrics } from '../../src/metrics/metrics';
import { RankingService } from '../../src/api/service';
import * as grpc from '@grpc/grpc-js';

import { Item, RankingClient, StageOptions } from '../../src/client';
import { ENGINE_OPTIONS, expectStatus, makeWorld, silentLogger, World } from './harness';

const PLAIN: StageOptions = { exploration: 'EXPLORATION_METHOD_NONE', diversity: 'DIVERSITY_METHOD_NONE' };
const BUNDLE = 'bundle'; // the world's bundle, relative to the bundle root (the world's directory)

interface Served {
  service: RankingService;
  client: RankingClient;
  close(): Promise<void>;
}

/**
 * A service that can reload bundles under the world's directory, serving the
 * world's bundle after re-applying `restored` (as main.ts does at startup).
 */
async function serve(world: World, catalogLog?: CatalogLog, restored: CatalogChange[] = [], onLoad?: (engine: Engine) => void): Promise<Served> {
  const metrics = createMetrics({ defaultMetrics: false });
  const loadEngine = async (dir: string) => {
    const engine = await Engine.create(await loadBundle(dir, { progress: false }), { ...ENGINE_OPTIONS, seedEvents: world.paths.events, metrics });
    onLoad?.(engine);
    return engine;
  };
  const service = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics, logger: silentLogger, bundleRoot: world.root, loadEngine, catalogLog });
  await service.start();
  const engine = await loadEngine(world.paths.bundle);
  if (restored.length > 0) await service.restoreCatalog(engine, restored);
  service.setEngine(engine);
  const client = new RankingClient(`127.0.0.1:${service.grpcPort}`);
  return {
    service,
    client,
    async close() {
      client.close();
      await service.stop(1000);
      await service.current()?.close();
    },
  };
}

/** A copy of the world's bundle whose manifest says it was created at `createdAt`; its path under the root. */
async function bundleCreatedAt(world: World, name: string, createdAt: string): Promise<string> {
  const dir = path.join(world.root, name);
  await fs.cp(world.paths.bundle, dir, { recursive: true });
  const file = path.join(dir, MANIFEST);
  const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  manifest.createdAt = createdAt;
  await fs.writeFile(file, JSON.stringify(manifest, null, 2));
  return name;
}

async function page(client: RankingClient, user: string, n: number): Promise<string[]> {
  return (await client.rank({ user_id: user, num_results: n, options: PLAIN })).items.map((it) => it.item_id);
}

/** Re-rank mode: which of `ids` the server knows (ranked) and which it reports unknown. */
async function lookup(client: RankingClient, ids: string[]): Promise<{ ranked: Map<string, { brand: string }>; unknown: string[] }> {
  const res = await client.rank({ user_id: 'catalog-probe-user', candidate_ids: ids, num_results: ids.length, options: PLAIN });
  return { ranked: new Map(res.items.map((it) => [it.item_id, it])), unknown: [...res.unknown_candidate_ids].sort() };
}

const embedding = (seed: number): number[] => Array.from({ length: 16 }, (_, i) => Math.sin(seed * 7.3 + i));

describe('catalog changes across ReloadBundle (in memory, no catalog log)', function () {
  this.timeout(180_000);
  let world: World;
  let s: Served;
  let onLoad: ((engine: Engine) => void) | undefined;

  before(async () => {
    world = await makeWorld();
    s = await serve(world, undefined, [], (engine) => onLoad?.(engine));
  });
  after(async () => {
    await s?.close();
    await fs.rm(world.root, { recursive: true, force: true });
  });

  it('40 items deleted before a ReloadBundle of the same bundle are never returned after it', async () => {
    const users = world.users.slice(0, 30).map((u) => u.id);
    const seen = new Map<string, number>();
    for (const u of users) for (const id of await page(s.client, u, 20)) seen.set(id, (seen.get(id) ?? 0) + 1);
    const doomed = [...seen.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40).map(([id]) => id);
    assert.equal(doomed.length, 40, 'the pages name at least 40 distinct items');
    const gone = new Set(doomed);
    assert.equal((await s.client.deleteItems({ item_ids: doomed })).deleted, 40);

    const r = await s.client.reloadBundle({ path: BUNDLE });
    const keep = [...world.items.keys()].find((id) => !gone.has(id))!;
    const { ranked, unknown } = await lookup(s.client, [...doomed, keep]);
    assert.deepEqual(unknown, [...doomed].sort(), 'every deleted id is unknown to the reloaded bundle');
    assert.deepEqual([...ranked.keys()], [keep]);
    for (const u of users) {
      const back = (await page(s.client, u, 50)).filter((id) => gone.has(id));
      assert.deepEqual(back, [], `deleted items on ${u}'s page after the reload`);
    }
    assert.equal(r.replayed_catalog_changes, 40);
    assert.equal(r.superseded_catalog_changes, 0);
  });

  it('an item upserted before a ReloadBundle (new, or an update of a bundle item) is still there after it', async () => {
    const existing = [...world.items.values()][123];
    const fresh: Item = { item_id: 'catalog-new-1', brand: 'brand-upserted', category: existing.category, price: 12.5, embedding: embedding(1) };
    const update: Item = { item_id: existing.id, brand: 'brand-updated', category: existing.category, price: existing.price, embedding: embedding(2) };
    assert.deepEqual(await s.client.upsertItems({ items: [fresh, update] }), { inserted: 1, updated: 1 });

    await s.client.reloadBundle({ path: BUNDLE });
    const { ranked, unknown } = await lookup(s.client, ['catalog-new-1', existing.id]);
    assert.deepEqual(unknown, [], 'the upserted item is known to the reloaded bundle');
    assert.equal(ranked.get('catalog-new-1')?.brand, 'brand-upserted');
    assert.equal(ranked.get(existing.id)?.brand, 'brand-updated', 'the update holds over the bundle\'s version of the item');
  });

  it('a bundle created after the changes supersedes them: not re-applied to it, and forgotten once it serves', async () => {
    const victim = [...world.items.keys()][200];
    const added: Item = { item_id: 'catalog-new-2', brand: 'b', category: world.items.get(victim)!.category, price: 3, embedding: embedding(3) };
    await s.client.deleteItems({ item_ids: [victim] });
    await s.client.upsertItems({ items: [added] });
    // The same bundle again: it predates the changes, which are re-applied.
    await s.client.reloadBundle({ path: BUNDLE });
    assert.deepEqual((await lookup(s.client, [victim, 'catalog-new-2'])).unknown, [victim]);

    // A bundle built after the changes (its builder saw them): it is the catalog.
    await new Promise((r) => setTimeout(r, 5));
    const later = await bundleCreatedAt(world, 'bundle-later', new Date().toISOString());
    const r = await s.client.reloadBundle({ path: later });
    assert.equal(r.replayed_catalog_changes, 0);
    assert.equal(r.superseded_catalog_changes, 40 + 2 + 2, 'the changes of all three tests, one per item');
    const now = await lookup(s.client, [victim, 'catalog-new-2']);
    assert.deepEqual(now.unknown, ['catalog-new-2'], 'the superseding bundle serves its own catalog');
    assert.ok(now.ranked.has(victim));

    // Forgotten: going back to the older bundle does not re-apply them.
    const back = await s.client.reloadBundle({ path: BUNDLE });
    assert.equal(back.replayed_catalog_changes, 0);
    assert.deepEqual((await lookup(s.client, [victim, 'catalog-new-2'])).unknown, ['catalog-new-2']);
  });

  it('changes acknowledged while a ReloadBundle re-applies earlier ones to the new bundle hold in it', async () => {
    const ids = [...world.items.keys()].slice(400, 411);
    const category = world.items.get(ids[0])!.category;
    await s.client.deleteItems({ item_ids: [ids[0]] });
    // Hold the new engine's re-application of that delete until the other changes are acknowledged.
    let entered!: () => void;
    const reapplying = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    onLoad = (engine) => {
      onLoad = undefined;
      const deleteItems = engine.deleteItems.bind(engine);
      engine.deleteItems = async (batch: string[]) => {
        entered();
        await gate;
        return deleteItems(batch);
      };
    };
    const reload = s.client.reloadBundle({ path: BUNDLE });
    const first = await Promise.race([reapplying.then(() => 're-applying'), reload.then(() => 'swapped')]);
    assert.equal(first, 're-applying', 'the reload re-applies the delete made before it');
    await Promise.all([
      ...ids.slice(1).map((id) => s.client.deleteItems({ item_ids: [id] })),
      s.client.upsertItems({ items: [{ item_id: 'during-reload', brand: 'b', category, price: 5, embedding: embedding(5) }] }),
    ]);
    release();
    const r = await reload;
    const { unknown } = await lookup(s.client, [...ids, 'during-reload']);
    assert.deepEqual(unknown, [...ids].sort());
    assert.equal(r.replayed_catalog_changes, ids.length + 1);
  });
});

describe('supersedes(): which bundles already reflect a change', () => {
  const change = (ts: string, baseCreatedAt: string): CatalogChange => ({ op: 'delete', ts: Date.parse(ts), bundle: { version: 'v1', createdAt: baseCreatedAt }, id: 'x' });
  const c = change('2026-12-01T12:00:00Z', '2026-11-01T00:00:00Z');

  it('a bundle created after the change does', () => {
    assert.equal(supersedes('2026-12-01T12:00:01Z', c), true);
  });
  it('the bundle the change was made on, or one created before the change, does not', () => {
    assert.equal(supersedes('2026-11-01T00:00:00Z', c), false);
    assert.equal(supersedes('2026-12-01T11:59:59Z', c), false);
    assert.equal(supersedes('2026-12-01T12:00:00Z', c), false);
  });
  it('a bundle not newer than the change\'s own bundle does not, whatever the server clock said', () => {
    // The server clock was behind: the change's time is before its bundle was built.
    const skewed = change('2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z');
    assert.equal(supersedes('2026-11-01T00:00:00Z', skewed), false);
    assert.equal(supersedes('2026-10-15T00:00:00Z', skewed), false);
    assert.equal(supersedes('2026-11-02T00:00:00Z', skewed), true);
  });
  it('a bundle whose createdAt is not a date never does', () => {
    assert.equal(supersedes('nightly', c), false);
    assert.equal(supersedes('', c), false);
  });
});

describe('catalog changes with a catalog log', function () {
  this.timeout(180_000);
  let world: World;

  before(async () => {
    world = await makeWorld();
  });
  after(async () => {
    await fs.rm(world.root, { recursive: true, force: true });
  });

  it('acknowledges concurrent changes after a shared write, and a new service on the log re-applies them', async () => {
    const dir = path.join(world.root, 'catalog-log-a');
    const { journal } = await openCatalogLog({ dir });
    const s = await serve(world, journal);
    const ids = [...world.items.keys()].slice(0, 30);
    const acks = await Promise.all(ids.map((id) => s.client.deleteItems({ item_ids: [id] })));
    assert.ok(acks.every((a) => a.deleted === 1));
    await s.client.upsertItems({ items: [{ item_id: 'logged-new', brand: 'b', category: world.items.get(ids[0])!.category, price: 2, embedding: embedding(4) }] });
    assert.ok(journal.writes < 31, `${journal.writes} writes for 31 changes (30 of them concurrent)`);
    await s.close();
    await journal.close();

    // A restarted server: the same log, the bundle as built.
    const again = await openCatalogLog({ dir });
    assert.equal(again.recovered.records.length, 31);
    const t = await serve(world, again.journal, again.recovered.records);
    try {
      const { unknown } = await lookup(t.client, [...ids, 'logged-new']);
      assert.deepEqual(unknown, [...ids].sort());
    } finally {
      await t.close();
      await again.journal.close();
    }
  });

  it('a change the log did not take is refused, not applied, and not re-applied by a reload', async () => {
    const { journal } = await openCatalogLog({ dir: path.join(world.root, 'catalog-log-c') });
    const s = await serve(world, journal);
    try {
      const id = [...world.items.keys()][300];
      await journal.close(); // every append fails from now on
      await expectStatus(s.client.deleteItems({ item_ids: [id] }), grpc.status.UNAVAILABLE, 'catalog log');
      assert.deepEqual((await lookup(s.client, [id])).unknown, [], 'not applied');
      const r = await s.client.reloadBundle({ path: BUNDLE });
      assert.equal(r.replayed_catalog_changes, 0);
      assert.deepEqual((await lookup(s.client, [id])).unknown, [], 'not re-applied');
    } finally {
      await s.close();
    }
  });

  it('compacts: many changes of one item leave a log of about the live changes, holding the latest', async () => {
    const dir = path.join(world.root, 'catalog-log-b');
    const { journal } = await openCatalogLog({ dir, sync: 'none' });
    const s = await serve(world, journal);
    const category = [...world.items.values()][0].category;
    for (let i = 1; i <= 1200; i++) await s.client.upsertItems({ items: [{ item_id: 'churn', brand: 'b', category, price: i, embedding: embedding(i) }] });
    await s.client.deleteItems({ item_ids: ['churn-never-existed'] });
    await s.close();
    await journal.close();
    assert.ok(journal.size <= 2 * 2 + 1000, `${journal.size} records for 2 live changes`);
    const again = await openCatalogLog({ dir });
    await again.journal.close();
    assert.ok(again.recovered.records.length <= 2 * 2 + 1000, `${again.recovered.records.length} records read back`);
    const last = again.recovered.records.filter((c) => c.op === 'upsert' && c.item.id === 'churn').at(-1);
    assert.ok(last?.op === 'upsert' && last.item.price === 1200, 'the latest upsert is the last record of the item');
    assert.deepEqual(
      again.recovered.records.filter((c) => c.op === 'delete').map((c) => (c.op === 'delete' ? c.id : '')),
      ['churn-never-existed'],
    );
  });
});

describe('CatalogChanges: a logged change that fails to apply', () => {
  /** Just enough of an Engine for deletes, failing those of ids starting with "bad". */
  const engine = {
    version: 'v1',
    bundle: { manifest: { createdAt: '2026-11-01T00:00:00.000Z' } },
    catalog: { rowOf: new Map(), size: 0, capacity: 0, dim: 16 },
    async deleteItems(ids: string[]) {
      if (ids.some((id) => id.startsWith('bad'))) throw new Error('the index refused');
      return { deleted: ids.length, unknown: [] };
    },
  } as unknown as Engine;

  it('is taken back: the item keeps its previous change, and the log is rewritten without it', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'catalog-changes-'));
    try {
      const { journal } = await openCatalogLog({ dir });
      const changes = new CatalogChanges({ log: journal });
      await changes.delete(engine, ['good-1'], () => engine);
      await assert.rejects(changes.delete(engine, ['bad-1'], () => engine), /the index refused/);
      assert.deepEqual(changes.changes().map((c) => (c.op === 'delete' ? c.id : '')), ['good-1']);
      await journal.close(); // waits for the queued rewrite
      const again = await openCatalogLog({ dir });
      await again.journal.close();
      assert.deepEqual(again.recovered.records.map((c) => (c.op === 'delete' ? c.id : '')), ['good-1']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
