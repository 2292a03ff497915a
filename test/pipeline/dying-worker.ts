// A scoring worker that exits mid-batch on purpose, for the pool's fault
// tests: before each task it claims one token file from the directory named
// by RANKING_TEST_WORKER_EXITS (deleting it), and if it got one, the worker
// thread exits with code 1 instead of answering. N tokens: the next N
// batches, on whichever workers run them, are lost to an exiting worker.
import { readdirSync, unlinkSync } from 'node:fs';
import * as path from 'node:path';

import score from '../../src/scoring/worker';
import type { ScoreTask } from '../../src/scoring/protocol';

function claimToken(): boolean {
  const dir = process.env.RANKING_TEST_WORKER_EXITS;
  if (!dir) return false;
  for (const name of readdirSync(dir)) {
    try {
      unlinkSync(path.join(dir, name));
      return true;
    } catch {
      // another worker took this one
    }
  }
  return false;
}

export default async function dyingScore(task: ScoreTask): Promise<Float32Array> {
  if (claimToken()) process.exit(1);
  return score(task);
}
