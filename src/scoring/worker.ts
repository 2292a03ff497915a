// Scoring worker: builds the DCN-v2 models once from the weights it was given,
// reads item features straight from the shared catalog, and scores one
// request's candidates per task.
import { workerData } from 'node:worker_threads';
import Piscina from 'piscina';

import type { ScoreTask, WorkerInit } from './protocol';
import { Scorer } from './scorer';

const ready = Scorer.create(workerData as WorkerInit);

export default async function score(task: ScoreTask): Promise<Float32Array> {
  const scorer = await ready;
  const out = await scorer.score(task.model, task.users, task.offsets, task.rows, task.now);
  return Piscina.move(out) as unknown as Float32Array;
}
