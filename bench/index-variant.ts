// A world's bundle with its index rebuilt under another FAISS factory (e.g.
// IVF4096,SQ8 for the 1M world): every other file hard-linked from the
// world's bundle, the index and manifest written fresh. Cached next to the
// world and rebuilt when the world's embeddings change.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { rebuildBundleIndex } from '../src/bundle/index-builder';
import { readManifest } from '../src/bundle/manifest';

const EMBEDDINGS = 'item_embeddings.npy';

/** "IVF4096,SQ8" -> "ivf4096-sq8". */
export function factorySlug(factory: string): string {
  return factory.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/**
 * The bundle directory of `worldBundle` with its index built as `factory`
 * and the manifest's nprobe set to `nprobe`. `worldDir` is the world's
 * directory (the variant goes to `<worldDir>-<factory slug>/bundle`).
 */
export async function ensureIndexVariant(
  worldDir: string,
  worldBundle: string,
  factory: string,
  nprobe: number | undefined,
  log: (m: string) => void,
  refine?: number,
): Promise<string> {
  const dir = path.join(`${worldDir}-${factorySlug(factory)}`, 'bundle');
  const base = await readManifest(worldBundle);
  try {
    const m = await readManifest(dir);
    if (m.index.factory === factory && m.files[EMBEDDINGS]?.sha256 === base.files[EMBEDDINGS]?.sha256) {
      await setSearch(dir, nprobe, refine);
      return dir;
    }
  } catch {
    // no variant yet
  }
  log(`building the ${factory} index of ${worldBundle} into ${dir}...`);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  for (const f of await fs.readdir(worldBundle)) {
    const from = path.join(worldBundle, f);
    if (!(await fs.stat(from)).isFile()) continue;
    // The manifest and the index are rewritten (by rename, so a link would
    // be safe too); everything else is shared with the world's bundle.
    if (f === 'manifest.json') await fs.copyFile(from, path.join(dir, f));
    else await fs.link(from, path.join(dir, f));
  }
  await rebuildBundleIndex(dir, { factory, nprobe, threads: 2, progress: false });
  await setSearch(dir, nprobe, refine);
  return dir;
}

/** The variant's manifest search settings (nprobe, refine) as given; written only when they differ. */
async function setSearch(dir: string, nprobe: number | undefined, refine: number | undefined): Promise<void> {
  const m = await readManifest(dir);
  const index = { ...m.index, ...(nprobe !== undefined ? { nprobe } : {}), ...(refine !== undefined ? { refine } : {}) };
  if (index.nprobe === m.index.nprobe && index.refine === m.index.refine) return;
  await fs.writeFile(path.join(dir, 'manifest.json.tmp'), JSON.stringify({ ...m, index }, null, 2) + '\n');
  await fs.rename(path.join(dir, 'manifest.json.tmp'), path.join(dir, 'manifest.json'));
}
