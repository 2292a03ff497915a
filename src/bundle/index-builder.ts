// Builds a bundle's FAISS index from its embeddings, with a progress bar:
// train on a sample, then add in chunks (each chunk runs off the event loop).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';

import { Metric, VectorIndex } from '../native';
import { fileEntry, INDEX_FILE, readManifest, writeManifest } from './manifest';
import { readNpyFloat32 } from './npy';

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

export interface RebuildOptions {
  /** FAISS factory string (default: the manifest's). */
  factory?: string;
  metric?: Metric;
  /** The manifest's default IVF nprobe (default: kept as it is). */
  nprobe?: number;
  threads?: number;
  progress?: boolean;
}

/**
 * Rebuilds a bundle's index from its item_embeddings.npy and records it in
 * the manifest (factory, metric, nprobe, checksum). The new file replaces the
 * old one by rename, so a hard-linked copy of a bundle keeps its original.
 */
export async function rebuildBundleIndex(dir: string, opts: RebuildOptions = {}): Promise<{ file: string; factory: string; metric: Metric; ntotal: number }> {
  const m = await readManifest(dir);
  const factory = opts.factory ?? m.index.factory;
  const metric = opts.metric ?? m.index.metric;
  const emb = await readNpyFloat32(path.join(dir, 'item_embeddings.npy'));
  if (emb.shape[0] !== m.itemCount || emb.shape[1] !== m.embeddingDim) {
    throw new Error(`item_embeddings.npy has shape (${emb.shape.join(', ')}), manifest says (${m.itemCount}, ${m.embeddingDim})`);
  }
  const index = await buildIndex(emb.data, m.embeddingDim, { factory, metric, progress: opts.progress, threads: opts.threads ?? 2 });
  const file = path.join(dir, INDEX_FILE);
  await index.write(`${file}.tmp`);
  await fs.rename(`${file}.tmp`, file);
  m.files[INDEX_FILE] = await fileEntry(file);
  m.index = { ...m.index, factory, metric, ...(opts.nprobe !== undefined ? { nprobe: opts.nprobe } : {}) };
  await writeManifest(dir, m);
  return { file, factory, metric, ntotal: index.ntotal };
}
