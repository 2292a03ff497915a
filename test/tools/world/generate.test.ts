import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { readNpyFloat32 } from '../../../src/bundle/npy';
import { Rng } from '../../../src/util/random';
import { generateCatalog, itemId } from '../../../tools/world/catalog';
import { sampleLogs } from '../../../tools/world/logs';
import { ACTIONS, DAY_MS } from '../../../tools/world/schema';
import { DEFAULT_TRUTH } from '../../../tools/world/truth';
import { generateUsers, userId } from '../../../tools/world/users';
import { cosine, EventLine, hashTree, ItemLine, makeWorld, readJsonl, regenerate, smallConfig, tmpDir } from './helpers';

describe('world/generate', function () {
  this.timeout(60_000);
  const cfg = smallConfig({ seed: 11 });
  let dir: string;
  let a: string;
  let b: string;
  let other: string;
  let items: ItemLine[];
  let events: EventLine[];

  before(async () => {
    dir = await tmpDir('generate');
    a = path.join(dir, 'a');
    b = path.join(dir, 'b');
    other = path.join(dir, 'other');
    await makeWorld(cfg, a);
    await makeWorld(cfg, b);
    await makeWorld({ ...cfg, seed: cfg.seed + 1 }, other);
    items = await readJsonl<ItemLine>(path.join(a, 'bundle', 'items.jsonl'));
    events = await readJsonl<EventLine>(path.join(a, 'events.jsonl'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe('determinism', () => {
    it('writes the layout of generate.ts', async () => {
      const files = [...(await hashTree(a)).keys()].sort();
      assert.deepEqual(files, [
        'bundle/index.faiss',
        'bundle/item_bias.npy',
        'bundle/item_embeddings.npy',
        'bundle/items.jsonl',
        'bundle/manifest.json',
        'bundle/preranker.json',
        'bundle/preranker.safetensors',
        'bundle/ranker.json',
        'bundle/ranker.safetensors',
        'bundle/user_tower.onnx',
        'events.jsonl',
        'truth/item_latent.npy',
        'truth/truth.json',
        'truth/user_pref.npy',
        'truth/users.jsonl',
        'world.json',
      ]);
    });

    it('the same config (seed included) gives byte-identical files', async () => {
      const ha = await hashTree(a);
      const hb = await hashTree(b);
      assert.deepEqual([...hb.keys()].sort(), [...ha.keys()].sort());
      for (const [f, h] of ha) assert.equal(hb.get(f), h, `${f} differs between two generations with the same config`);
    });

    it('an IVF index is deterministic too (same bytes from two generations)', async () => {
      const c = smallConfig({ seed: 12, items: 2000, users: 50 });
      const x = path.join(dir, 'ivf-x');
      const y = path.join(dir, 'ivf-y');
      await makeWorld(c, x, 'IVF16,Flat');
      await makeWorld(c, y, 'IVF16,Flat');
      const hx = await hashTree(x);
      const hy = await hashTree(y);
      assert.ok(hx.has('bundle/index.faiss'));
      for (const [f, h] of hx) assert.equal(hy.get(f), h, `${f} differs between two generations with the same config`);
    });

    it('a different seed gives different embeddings', async () => {
      const ea = await readNpyFloat32(path.join(a, 'bundle', 'item_embeddings.npy'));
      const eo = await readNpyFloat32(path.join(other, 'bundle', 'item_embeddings.npy'));
      assert.deepEqual(eo.shape, ea.shape);
      let same = 0;
      for (let i = 0; i < ea.data.length; i++) if (ea.data[i] === eo.data[i]) same++;
      assert.ok(same < ea.data.length / 100, `${same} of ${ea.data.length} embedding values equal across seeds`);
      const ha = await hashTree(a);
      const ho = await hashTree(other);
      for (const f of ['bundle/item_embeddings.npy', 'bundle/items.jsonl', 'events.jsonl', 'truth/user_pref.npy']) {
        assert.notEqual(ho.get(f), ha.get(f), `${f} is the same for two seeds`);
      }
    });

    it('world.json records the configuration', async () => {
      const w = JSON.parse(await fs.readFile(path.join(a, 'world.json'), 'utf8')) as { config: unknown };
      assert.deepEqual(w.config, cfg);
    });
  });

  describe('catalog', () => {
    it('has itemCount items with sequential ids', () => {
      assert.equal(items.length, cfg.items);
      items.forEach((it, i) => assert.equal(it.id, itemId(i)));
    });

    it('has about newItemRate (5%) items created in the 7 days before referenceTime', () => {
      const ref = Date.parse(cfg.referenceTime);
      let fresh = 0;
      let gap = 0;
      for (const it of items) {
        const t = Date.parse(it.created_at);
        assert.ok(t <= ref, `${it.id} created after referenceTime (${it.created_at})`);
        if (t >= ref - 7 * DAY_MS) fresh++;
        else if (t > ref - 8 * DAY_MS) gap++;
      }
      const share = fresh / items.length;
      assert.ok(Math.abs(share - cfg.newItemRate) < 0.015, `new-item share ${share}, expected ~${cfg.newItemRate}`);
      assert.equal(gap, 0, 'old items are at least 8 days old');
    });

    it('has duplicates: items that share a content_hash, with the same category, brand and price and close embeddings', async () => {
      const emb = await readNpyFloat32(path.join(a, 'bundle', 'item_embeddings.npy'));
      const d = cfg.dim;
      const byHash = new Map<string, number[]>();
      items.forEach((it, i) => byHash.set(it.content_hash, [...(byHash.get(it.content_hash) ?? []), i]));
      const groups = [...byHash.values()].filter((g) => g.length > 1);
      const dupItems = groups.reduce((s, g) => s + g.length - 1, 0);
      // duplicateRate 1% of 3000 items: ~30 copies.
      assert.ok(dupItems >= 10 && dupItems <= 80, `${dupItems} duplicate items`);
      for (const g of groups) {
        const [f, ...rest] = g;
        for (const i of rest) {
          assert.equal(items[i].category, items[f].category);
          assert.equal(items[i].brand, items[f].brand);
          assert.equal(items[i].price, items[f].price);
          const c = cosine(emb.data, i * d, emb.data, f * d, d);
          assert.ok(c > 0.6, `duplicates ${items[f].id} and ${items[i].id} have embedding cosine ${c}`);
        }
      }
    });

    it('content hashes are distinct for distinct content (no hash collisions)', () => {
      const { cat } = regenerate(cfg);
      const idOfHash = new Map<string, number>();
      items.forEach((it, i) => {
        const prev = idOfHash.get(it.content_hash);
        if (prev === undefined) idOfHash.set(it.content_hash, cat.contentId[i]);
        else assert.equal(cat.contentId[i], prev, `content ${cat.contentId[i]} and ${prev} share hash ${it.content_hash}`);
      });
    });

    it('categories have a long tail: the most frequent has several times the items of the median one', () => {
      const counts = new Map<string, number>();
      for (const it of items) counts.set(it.category, (counts.get(it.category) ?? 0) + 1);
      const sorted = [...counts.values()].sort((x, y) => y - x);
      assert.ok(sorted.length >= cfg.categories - 2, `only ${sorted.length} categories in use`);
      const median = sorted[Math.floor(sorted.length / 2)];
      assert.ok(sorted[0] >= 4 * median, `largest category ${sorted[0]} items, median ${median}`);
    });

    it('prices are positive with two decimals', () => {
      for (const it of items) {
        assert.ok(it.price > 0 && Number.isFinite(it.price), `${it.id} price ${it.price}`);
        assert.ok(Math.abs(it.price * 100 - Math.round(it.price * 100)) < 1e-6, `${it.id} price ${it.price}`);
      }
    });
  });

  describe('interaction log', () => {
    it('event counts are ordered click > wishlist > cart > purchase', () => {
      const n: Record<string, number> = {};
      for (const e of events) n[e.action] = (n[e.action] ?? 0) + 1;
      assert.ok(n.purchase > 0, 'some purchases');
      assert.ok(n.click > n.wishlist && n.wishlist > n.cart && n.cart > n.purchase, JSON.stringify(n));
    });

    it('events are sorted by time', () => {
      for (let k = 1; k < events.length; k++) {
        assert.ok(events[k].ts >= events[k - 1].ts, `event ${k} (${events[k].ts}) before event ${k - 1} (${events[k - 1].ts})`);
      }
    });

    it('every event references an existing user and item, with a known action and an integer time', async () => {
      const users = new Set((await readJsonl<{ id: string }>(path.join(a, 'truth', 'users.jsonl'))).map((u) => u.id));
      assert.equal(users.size, cfg.users);
      for (let u = 0; u < cfg.users; u++) assert.ok(users.has(userId(u)));
      const ids = new Set(items.map((it) => it.id));
      for (const e of events) {
        assert.ok(users.has(e.user), `unknown user ${e.user}`);
        assert.ok(ids.has(e.item), `unknown item ${e.item}`);
        assert.ok((ACTIONS as readonly string[]).includes(e.action), `unknown action ${e.action}`);
        assert.ok(Number.isSafeInteger(e.ts), `ts ${e.ts}`);
      }
    });

    it('wishlist and cart follow a click on the same item, purchase follows a cart', () => {
      const first = new Map<string, number>();
      for (const e of events) {
        const key = `${e.user} ${e.item}`;
        if (e.action === 'click') first.set(`${key} click`, e.ts);
        if (e.action === 'cart') first.set(`${key} cart`, e.ts);
        if (e.action === 'wishlist' || e.action === 'cart') {
          const c = first.get(`${key} click`);
          assert.ok(c !== undefined && c < e.ts, `${e.action} of ${key} without an earlier click`);
        }
        if (e.action === 'purchase') {
          const c = first.get(`${key} cart`);
          assert.ok(c !== undefined && c < e.ts, `purchase of ${key} without an earlier cart`);
        }
      }
    });

    it('every user has at least one event', () => {
      const seen = new Set(events.map((e) => e.user));
      assert.equal(seen.size, cfg.users);
    });

    it('events fall in the 60 days before referenceTime', () => {
      const ref = Date.parse(cfg.referenceTime);
      for (const e of events) {
        assert.ok(e.ts > ref - 60 * DAY_MS - 1 && e.ts <= ref, `${e.action} of ${e.user} at ${new Date(e.ts).toISOString()}, referenceTime ${cfg.referenceTime}`);
      }
    });

    // logs.ts adds the wishlist/cart/purchase follow-ups up to ~1.5 h after
    // their click, and clicks are drawn up to referenceTime itself, so a
    // follow-up of a click in the last ~1.5 h lands after referenceTime (a
    // negative age for the user tower). Rare: needs enough users to show.
    it('no event is later than referenceTime, even with 1500 users', () => {
      const c = smallConfig({ seed: 7, items: 1000, users: 1500 });
      const rng = new Rng(c.seed);
      const cat = generateCatalog(c, rng);
      const us = generateUsers(c, cat, rng);
      const ev = sampleLogs(c, DEFAULT_TRUTH, cat, us, rng);
      const ref = Date.parse(c.referenceTime);
      const late = ev.filter((e) => e.ts > ref);
      assert.deepEqual(
        late.map((e) => `${e.action} of user ${e.user} on item ${e.item} at +${((e.ts - ref) / 60_000).toFixed(1)} min`),
        [],
        'events after referenceTime',
      );
    });

    // schema.ts: maxActions is the "most actions kept per user in the log";
    // logs.ts caps only the clicks at maxActions and adds follow-ups on top.
    it('no user has more than maxActions events', () => {
      const per = new Map<string, number>();
      for (const e of events) per.set(e.user, (per.get(e.user) ?? 0) + 1);
      const over = [...per].filter(([, n]) => n > cfg.maxActions).map(([u, n]) => `${u}: ${n}`);
      assert.equal(over.length, 0, `users with more than maxActions = ${cfg.maxActions} events: ${over.join(', ')}`);
    });
  });
});
