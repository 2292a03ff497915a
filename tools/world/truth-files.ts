// Reads a world's ground truth back (truth/ beside the bundle), in the shape
// trueProbabilities() takes, so an evaluator can score any ranking.
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';

import type { Bundle } from '../../src/bundle/loader';
import { readNpyFloat32 } from '../../src/bundle/npy';
import { WorldPaths } from './generate';
import { DAY_MS } from './schema';
import { Device, DEVICES } from '../../src/models/schema';
import { TruthCoefficients, TruthItems, TruthUsers } from './truth';

export interface TruthUserInfo {
  id: string;
  device: Device;
  segment: 'new' | 'returning';
  categories: string[];
  /** The categories' weights in the user's taste (sum 1). */
  weights: number[];
}

export interface WorldTruth {
  coefficients: TruthCoefficients;
  items: TruthItems;
  users: TruthUsers & { n: number; info: TruthUserInfo[]; rowOf: Map<string, number> };
}

export async function loadTruth(paths: WorldPaths, bundle: Bundle): Promise<WorldTruth> {
  const meta = JSON.parse(await fs.readFile(path.join(paths.truth, 'truth.json'), 'utf8')) as {
    coefficients: TruthCoefficients;
    config: { referenceTime: string };
  };
  const latent = await readNpyFloat32(path.join(paths.truth, 'item_latent.npy'));
  const pref = await readNpyFloat32(path.join(paths.truth, 'user_pref.npy'));
  const ref = Date.parse(meta.config.referenceTime);
  const n = bundle.items.n;
  const isNew = new Uint8Array(n);
  for (let i = 0; i < n; i++) isNew[i] = bundle.items.createdAt[i] > ref - 7 * DAY_MS ? 1 : 0;

  const info: TruthUserInfo[] = [];
  const pricePref: number[] = [];
  const rowOf = new Map<string, number>();
  const rl = readline.createInterface({ input: createReadStream(path.join(paths.truth, 'users.jsonl')), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.length === 0) continue;
    const u = JSON.parse(line) as { id: string; device: Device; segment: 'new' | 'returning'; price_pref: number; categories: string[]; weights: number[] };
    if (!DEVICES.includes(u.device)) throw new Error(`users.jsonl: unknown device ${u.device}`);
    rowOf.set(u.id, info.length);
    info.push({ id: u.id, device: u.device, segment: u.segment, categories: u.categories, weights: u.weights });
    pricePref.push(u.price_pref);
  }
  return {
    coefficients: meta.coefficients,
    items: { dim: latent.shape[1], latent: latent.data, logPrice: bundle.items.logPrice, isNew, popularity: bundle.bias },
    users: { n: info.length, pref: pref.data, pricePref: Float32Array.from(pricePref), info, rowOf },
  };
}
