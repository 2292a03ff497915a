// Shared helpers for the demo-world and bundle tests: small worlds in fresh
// temporary directories, JSONL reading, the regenerated truth.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Rng } from '../../../src/util/random';
import { Catalog, generateCatalog } from '../../../tools/world/catalog';
import { generateWorld, WorldSummary } from '../../../tools/world/generate';
import { DEFAULT_WORLD, WorldConfig } from '../../../tools/world/schema';
import { generateUsers, Users } from '../../../tools/world/users';

/** A small world: fast to generate, large enough for the statistics the tests check. */
export function smallConfig(over: Partial<WorldConfig> = {}): WorldConfig {
  return { ...DEFAULT_WORLD, items: 3000, users: 300, dim: 32, ...over };
}

export async function tmpDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `rank-${prefix}-`));
}

/** Generates a world into `root` quietly (no progress bar, no log). */
export async function makeWorld(cfg: WorldConfig, root: string, factory?: string): Promise<WorldSummary> {
  return generateWorld(cfg, root, { progress: false, ...(factory ? { indexFactory: factory } : {}) });
}

/** The catalog and users exactly as generate.ts builds them (same Rng stream order). */
export function regenerate(cfg: WorldConfig): { cat: Catalog; users: Users } {
  const rng = new Rng(cfg.seed);
  const cat = generateCatalog(cfg, rng);
  const users = generateUsers(cfg, cat, rng);
  return { cat, users };
}

export async function readJsonl<T>(file: string): Promise<T[]> {
  const text = await fs.readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

export interface EventLine {
  user: string;
  item: string;
  action: string;
  ts: number;
}

export interface ItemLine {
  id: string;
  brand: string;
  category: string;
  created_at: string;
  price: number;
  content_hash: string;
}

export async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await fs.readFile(file)).digest('hex');
}

/** Relative path -> sha256 of every file under `root`. */
export async function hashTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(path.relative(root, p), await sha256(p));
    }
  };
  await walk(root);
  return out;
}

export function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += a[ao + j] * b[bo + j];
  return s;
}

export function cosine(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  const na = Math.sqrt(dot(a, ao, a, ao, d));
  const nb = Math.sqrt(dot(b, bo, b, bo, d));
  return na === 0 || nb === 0 ? 0 : dot(a, ao, b, bo, d) / (na * nb);
}

export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}
