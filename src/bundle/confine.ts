// A bundle served from a bundle root (ReloadBundle) must be made of files in
// that root: every entry of its directory must resolve, links followed,
// inside the root. A link inside the root is fine (bundle versions may share
// unchanged files that way); one that leads elsewhere (manifest.json ->
// /etc/passwd) is refused before anything is read through it.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { BundleError } from './manifest';

/**
 * Throws a BundleError naming the first entry of bundle directory `dir`
 * that resolves outside `root` or nowhere (a broken link). The loader reads
 * only entries of `dir` (the manifest's files are names in it), so this
 * covers every file it opens.
 */
export async function checkConfined(dir: string, root: string): Promise<void> {
  const realRoot = await fs.realpath(root);
  const inside = (p: string) => p === realRoot || p.startsWith(realRoot + path.sep);
  const realDir = await fs.realpath(dir);
  if (!inside(realDir)) throw new BundleError(path.basename(dir), 'the bundle directory resolves outside the bundle root');
  for (const name of (await fs.readdir(realDir)).sort()) {
    let real: string;
    try {
      real = await fs.realpath(path.join(realDir, name));
    } catch {
      throw new BundleError(name, 'is a link to nothing (its target does not exist)');
    }
    if (!inside(real)) throw new BundleError(name, 'resolves outside the bundle root (it is a link to a file elsewhere)');
  }
}
