// Writes a demo world: the bundle the engine serves, the interaction log that
// seeds user state, and the ground truth beside them (never inside the bundle).
//
//   <root>/world.json         the configuration that made it
//   <root>/bundle/            manifest.json, items.jsonl, item_embeddings.npy,
//                             item_bias.npy, index.faiss, user_tower.onnx,
//                             preranker.{safetensors,json}, ranker.{safetensors,json}
//   <root>/events.jsonl       {user, item, action, ts} sorted by time
//   <root>/truth/             truth.json, item_latent.npy, user_pref.npy, users.jsonl
//
// Same configuration (seed included), same bytes.
import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';

import { fileEntry, FORMAT_VERSION, Manifest, writeManifest } from '../../src/bundle/manifest';
import { buildIndex } from '../../src/bundle/index-builder';
import { writeNpyFloat32 } from '../../src/bundle/npy';
import { Tensor, writeSafetensors } from '../../src/bundle/safetensors';
import type { DcnShape, DcnWeights } from '../../src/native';
import { flattenWeights } from '../../src/native';
import { featureLayout } from '../../src/models/layout';
import { Rng } from '../../src/util/random';
import { Catalog, contentHash, generateCatalog, itemId } from './catalog';
import { LogEvent, sampleLogs } from './logs';
import { tensorNames } from '../../src/bundle/tensors';
import { prerankerShape, prerankerWeights, rankerShape, rankerWeights } from './models';
import { OBJECTIVES, WorldConfig } from './schema';
import { DEVICES } from '../../src/models/schema';
import { DEFAULT_TRUTH, TruthCoefficients } from './truth';
import { buildUserTower, DEFAULT_TOWER } from './user-tower';
import { generateUsers, userId, Users } from './users';

export const GENERATOR_VERSION = 1;

export const DEFAULT_WEIGHTS: Record<string, Record<string, number>> = {
  home: { click: 1, wishlist: 2, cart: 4, purchase: 8 },
  browse: { click: 1, wishlist: 2, cart: 4, purchase: 8 },
  search: { click: 1, wishlist: 1, cart: 4, purchase: 10 },
  pdp: { click: 1, wishlist: 3, cart: 3, purchase: 6 },
};

export interface WorldPaths {
  root: string;
  bundle: string;
  truth: string;
  events: string;
}

export function worldPaths(root: string): WorldPaths {
  return { root, bundle: path.join(root, 'bundle'), truth: path.join(root, 'truth'), events: path.join(root, 'events.jsonl') };
}

export interface GenerateOptions {
  /** FAISS factory for the prebuilt index (default: by catalog size). */
  indexFactory?: string;
  /** Write index.faiss (default true); without it the loader builds it. */
  prebuiltIndex?: boolean;
  progress?: boolean;
  log?: (msg: string) => void;
}

/** IVF with about 4 sqrt(n) lists, Flat for small catalogs. */
export function defaultIndex(n: number): { factory: string; nprobe?: number } {
  if (n < 20_000) return { factory: 'Flat' };
  const nlist = 2 ** Math.round(Math.log2(4 * Math.sqrt(n)));
  return { factory: `IVF${nlist},Flat`, nprobe: Math.max(8, nlist / 8) };
}

/** Writes lines through a stream, respecting back-pressure. */
async function writeLines(file: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(file);
  for (const line of lines) {
    if (!out.write(line + '\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

function* itemLines(cfg: WorldConfig, cat: Catalog): Generator<string> {
  for (let i = 0; i < cat.n; i++) {
    yield JSON.stringify({
      id: itemId(i),
      brand: cat.brandNames[cat.brand[i]],
      category: cat.categoryNames[cat.category[i]],
      created_at: new Date(Math.floor(cat.createdAt[i])).toISOString(),
      price: cat.price[i],
      content_hash: contentHash(cfg.seed, cat.contentId[i]),
    });
  }
}

async function writeModel(dir: string, base: string, shape: DcnShape, weights: DcnWeights, about: string): Promise<void> {
  const flat = flattenWeights(shape, weights);
  const names = tensorNames(shape);
  const tensors = new Map<string, Tensor>();
  names.forEach((n, i) => tensors.set(n, { shape: [flat[i].length], data: flat[i] }));
  // Give matrices their 2-d shapes ([out, in]) as PyTorch would.
  for (const [n, t] of tensors) {
    if (n.endsWith('.bias')) continue;
    const rows = n === 'heads.weight' ? shape.heads : n.startsWith('mlp.') ? shape.mlp[Number(n.split('.')[1])] : n.endsWith('.v') ? shape.crossRank : shape.inputDim;
    t.shape = [rows, t.data.length / rows];
  }
  await writeSafetensors(path.join(dir, `${base}.safetensors`), tensors, { format: 'pt' });
  const config = { format: 'dcn-v2', layout: 'user-item-v1', shape, about };
  await fs.writeFile(path.join(dir, `${base}.json`), JSON.stringify(config, null, 2) + '\n');
}

async function writeTruth(paths: WorldPaths, cfg: WorldConfig, t: TruthCoefficients, cat: Catalog, users: Users): Promise<void> {
  await fs.mkdir(paths.truth, { recursive: true });
  await fs.writeFile(
    path.join(paths.truth, 'truth.json'),
    JSON.stringify({ generatorVersion: GENERATOR_VERSION, config: cfg, coefficients: t, tower: DEFAULT_TOWER, objectives: OBJECTIVES }, null, 2) + '\n',
  );
  await writeNpyFloat32(path.join(paths.truth, 'item_latent.npy'), [cat.n, cat.dim], cat.latent);
  await writeNpyFloat32(path.join(paths.truth, 'user_pref.npy'), [users.n, users.dim], users.pref);
  await writeLines(
    path.join(paths.truth, 'users.jsonl'),
    (function* () {
      for (let u = 0; u < users.n; u++) {
        yield JSON.stringify({
          id: userId(u),
          device: DEVICES[users.device[u]],
          segment: users.isNewUser[u] ? 'new' : 'returning',
          price_pref: Number(users.pricePref[u].toFixed(6)),
          categories: Array.from(users.categories[u], (c) => cat.categoryNames[c]),
          weights: Array.from(users.weights[u], (w) => Number(w.toFixed(6))),
        });
      }
    })(),
  );
}

export interface WorldSummary {
  items: number;
  users: number;
  events: Record<string, number>;
  newItems: number;
  seconds: number;
}

export async function generateWorld(cfg: WorldConfig, root: string, opts: GenerateOptions = {}): Promise<WorldSummary> {
  const t0 = process.hrtime.bigint();
  const log = opts.log ?? (() => undefined);
  const paths = worldPaths(root);
  await fs.rm(root, { recursive: true, force: true });
  await fs.mkdir(paths.bundle, { recursive: true });

  const rng = new Rng(cfg.seed);
  const truth = DEFAULT_TRUTH;
  log(`catalog: ${cfg.items} items x ${cfg.dim} dims`);
  const cat = generateCatalog(cfg, rng);
  log(`users: ${cfg.users}`);
  const users = generateUsers(cfg, cat, rng);
  log('interaction log');
  const events: LogEvent[] = sampleLogs(cfg, truth, cat, users, rng);

  const b = paths.bundle;
  await writeLines(path.join(b, 'items.jsonl'), itemLines(cfg, cat));
  await writeNpyFloat32(path.join(b, 'item_embeddings.npy'), [cat.n, cat.dim], cat.embeddings);
  await writeNpyFloat32(path.join(b, 'item_bias.npy'), [cat.n], cat.popularity);
  await fs.writeFile(path.join(b, 'user_tower.onnx'), buildUserTower(cfg.dim));
  const layout = featureLayout(cfg.dim);
  await writeModel(b, 'preranker', prerankerShape(layout), prerankerWeights(truth, layout), 'strong pre-rank model: P(click) written down from the demo truth');
  await writeModel(b, 'ranker', rankerShape(layout), rankerWeights(truth, layout), 'multi-task ranker written down from the demo truth');
  const idx = defaultIndex(cat.n);
  const factory = opts.indexFactory ?? idx.factory;
  if (opts.prebuiltIndex !== false) {
    log(`index: ${factory}`);
    const index = await buildIndex(cat.embeddings, cat.dim, { factory, metric: 'ip', progress: opts.progress });
    await index.write(path.join(b, 'index.faiss'));
  }

  const files: Manifest['files'] = {};
  for (const f of (await fs.readdir(b)).sort()) files[f] = await fileEntry(path.join(b, f));
  const manifest: Manifest = {
    formatVersion: FORMAT_VERSION,
    name: 'demo-world',
    version: `${GENERATOR_VERSION}.0.0+seed${cfg.seed}.items${cfg.items}`,
    createdAt: cfg.referenceTime,
    embeddingDim: cfg.dim,
    itemCount: cat.n,
    objectives: [...OBJECTIVES],
    defaultWeights: DEFAULT_WEIGHTS,
    referenceTime: cfg.referenceTime,
    index: { factory, metric: 'ip', ...(idx.nprobe && factory === idx.factory ? { nprobe: idx.nprobe } : {}) },
    lightModel: { biasWeight: truth.popularity / truth.affinity },
    features: { layout: layout.name, logPriceMean: cat.logPriceMean, logPriceStd: cat.logPriceStd, newItemDays: 7 },
    models: {
      userTower: { format: 'onnx', file: 'user_tower.onnx' },
      preranker: { format: 'dcn-v2', weights: 'preranker.safetensors', config: 'preranker.json' },
      ranker: { format: 'dcn-v2', weights: 'ranker.safetensors', config: 'ranker.json' },
    },
    files,
  };
  await writeManifest(b, manifest);

  await writeLines(
    paths.events,
    (function* () {
      for (const e of events) yield JSON.stringify({ user: userId(e.user), item: itemId(e.item), action: e.action, ts: e.ts });
    })(),
  );
  await writeTruth(paths, cfg, truth, cat, users);
  await fs.writeFile(path.join(root, 'world.json'), JSON.stringify({ generatorVersion: GENERATOR_VERSION, config: cfg }, null, 2) + '\n');

  const counts: Record<string, number> = {};
  for (const e of events) counts[e.action] = (counts[e.action] ?? 0) + 1;
  let newItems = 0;
  for (let i = 0; i < cat.n; i++) newItems += cat.isNew[i];
  return { items: cat.n, users: users.n, events: counts, newItems, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}
