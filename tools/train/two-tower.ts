// The two-tower step of `npm run train`: the sequences out of the logs
// (sequences.ts), PyTorch's training (train/two_tower.py), the ONNX user
// tower checked against PyTorch, and Recall@K on the held-out engagements
// (after --until) of the trained model, of the source bundle's, and with
// --ablation of the same model trained with frozen item embeddings.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { Bundle } from '../../src/bundle/loader';
import { readNpyFloat32 } from '../../src/bundle/npy';
import type { LoggedImpression } from '../../src/state/impression-log';
import type { Interval } from '../eval/metrics';
import { readHeldOut, recallDifference, RecallResult, towerParity, towerRecall } from './recall';
import { exportSequences, SequenceSummary } from './sequences';

export interface TwoTowerOptions {
  python: string;
  run: (cmd: string, args: string[]) => Promise<string>;
  epochs: number;
  seed: number;
  until: number;
  /** Also train with frozen item embeddings and compare. */
  ablation: boolean;
  root: string;
}

export interface TwoTowerModel {
  dir: string;
  tower: Uint8Array;
  embeddings: Float32Array;
  /** Per logged page: the trained tower's user_emb (d) and price_pref (1). */
  pageUser: Float32Array;
  parityMaxError: number;
  data: SequenceSummary;
  loss: number[];
  seconds: number;
  /** Recall@K on the held-out engagements (absent without any). */
  recall?: { n: number; trained: Record<number, Interval>; source: Record<number, Interval>; frozen?: Record<number, Interval>; trainedMinusFrozen?: Record<number, Interval> };
}

async function fit(o: TwoTowerOptions, data: string, out: string, frozen: boolean): Promise<{ loss: number[]; seconds: number }> {
  const args = [path.join(o.root, 'train', 'two_tower.py'), '--data', data, '--out', out, '--epochs', String(o.epochs), '--seed', String(o.seed), ...(frozen ? ['--frozen'] : [])];
  return JSON.parse((await o.run(o.python, args)).trim().split('\n').pop()!) as { loss: number[]; seconds: number };
}

export async function trainTwoTower(o: TwoTowerOptions, logs: string, src: Bundle, lines: LoggedImpression[], work: string): Promise<TwoTowerModel> {
  const data = path.join(work, 'tt-data');
  const summary = await exportSequences(path.join(logs, 'events.jsonl'), lines, src, data, o.until);
  const dir = path.join(work, 'two-tower');
  const { loss, seconds } = await fit(o, data, dir, false);
  const tower = await fs.readFile(path.join(dir, 'user_tower.onnx'));
  const embeddings = (await readNpyFloat32(path.join(dir, 'item_embeddings.npy'))).data;
  const pageUser = (await readNpyFloat32(path.join(dir, 'page_user.npy'))).data;
  const parityMaxError = await towerParity(tower, dir);
  if (!(parityMaxError <= 1e-5)) throw new Error(`the ONNX user tower differs from PyTorch's by ${parityMaxError} on the parity inputs`);
  const model: TwoTowerModel = { dir, tower, embeddings, pageUser, parityMaxError, data: summary, loss, seconds };
  if (summary.heldOut === 0) return model;
  const held = await readHeldOut(data);
  const d = src.manifest.embeddingDim;
  const lp = src.items.logPrice;
  const trained = await towerRecall(held, tower, embeddings, lp, d);
  const source = await towerRecall(held, src.userTower, src.embeddings, lp, d);
  model.recall = { n: held.n, trained: trained.recall, source: source.recall };
  if (o.ablation) {
    const frozenDir = path.join(work, 'two-tower-frozen');
    await fit(o, data, frozenDir, true);
    const frozenEmbeddings = (await readNpyFloat32(path.join(frozenDir, 'item_embeddings.npy'))).data;
    const frozen: RecallResult = await towerRecall(held, await fs.readFile(path.join(frozenDir, 'user_tower.onnx')), frozenEmbeddings, lp, d);
    model.recall.frozen = frozen.recall;
    model.recall.trainedMinusFrozen = recallDifference(trained, frozen);
  }
  return model;
}
