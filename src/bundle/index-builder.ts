// Builds a bundle's FAISS index from its embeddings, with a progress bar:
// train on a sample, then add in chunks (each chunk runs off the event loop).
import { SingleBar, Presets } from 'cli-progress';

import { Metric, VectorIndex } from '../native';

export interface BuildIndexOptions {
  factory: string;
  metric: Metric;
  /** Show a progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** OpenMP threads for training and adding (default 1: deterministic output). */
  threads?: number;
  /** Vectors per add() call. */
  chunk?: number;
}

/** Rows used to train: all of them up to 64 per IVF list (FAISS's own guidance is 30-256), else a strided sample. */
function trainingSample(embeddings: Float32Array, dim: number, factory: string): Float32Array {
  const n = embeddings.length / dim;
  const ivf = /IVF(\d+)/.exec(factory);
  const want = ivf ? Math.min(n, Math.max(64 * Number(ivf[1]), 10_000)) : Math.min(n, 100_000);
  if (want >= n) return embeddings;
  const out = new Float32Array(want * dim);
  const step = n / want;
  for (let i = 0; i < want; i++) {
    const r = Math.floor(i * step);
    out.set(embeddings.subarray(r * dim, (r + 1) * dim), i * dim);
  }
  return out;
}

/** Builds an index whose ids are the embedding rows (0..n-1). */
export async function buildIndex(embeddings: Float32Array, dim: number, opts: BuildIndexOptions): Promise<VectorIndex> {
  const n = embeddings.length / dim;
  const threads = opts.threads ?? 1;
  const chunk = opts.chunk ?? 20_000;
  const show = opts.progress ?? process.stderr.isTTY === true;
  const bar = show
    ? new SingleBar(
        { format: `index ${opts.factory} |{bar}| {percentage}% {value}/{total} vectors, eta {eta}s`, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 10_000 },
        Presets.shades_classic,
      )
    : null;
  const index = VectorIndex.create(dim, opts.factory, opts.metric);
  if (!index.isTrained) {
    if (show) process.stderr.write(`training ${opts.factory} on a sample of the ${n} vectors...\n`);
    await index.train(trainingSample(embeddings, dim, opts.factory), threads);
  }
  bar?.start(n, 0);
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    const ids = new BigInt64Array(end - start);
    for (let i = 0; i < ids.length; i++) ids[i] = BigInt(start + i);
    await index.add(embeddings.subarray(start * dim, end * dim), ids, threads);
    bar?.update(end);
  }
  bar?.stop();
  return index;
}
