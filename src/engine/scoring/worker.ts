// Scoring worker: builds the DCN-v2 models once from the weights it was given,
// reads item features straight from the shared catalog, and scores
// micro-batches of candidates from several requests in one forward pass.
import { workerData } from 'node:worker_threads';
import Piscina from 'piscina';

import type { ScoreTask, WorkerInit } from './protocol';
import { Scorer } from './scorer';

const scorer = new Scorer(workerData as WorkerInit);

export default function score(task: ScoreTask): Float32Array {
  const out = scorer.score(task.model, task.users, task.offsets, task.rows, task.now);
  return Piscina.move(out) as unknown as Float32Array;
}
