// The bundle's optional learned ensemble (models.ensemble: { format:
// "mlp-v1", weights, config }): config { hidden: [widths] }, weights in
// safetensors (models/ensemble.ts names them). Absent: requests use the
// weighted sum only.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { EnsembleModel, ensembleTensorShapes } from '../models/ensemble';
import { BundleError, Manifest } from './manifest';
import { readBundleTensors } from './safetensors';

export async function readEnsemble(dir: string, m: Manifest): Promise<EnsembleModel | undefined> {
  const entry = m.models.ensemble;
  if (!entry) return undefined;
  let config: { hidden?: unknown };
  try {
    config = JSON.parse(await fs.readFile(path.join(dir, entry.config), 'utf8')) as { hidden?: unknown };
  } catch (err) {
    throw new BundleError(entry.config, `is not JSON (${(err as Error).message})`);
  }
  const hidden = config.hidden;
  if (!Array.isArray(hidden) || hidden.some((h) => !Number.isInteger(h) || h < 1 || h > 4096)) throw new BundleError(entry.config, '"hidden" must be a list of layer widths in [1, 4096]');
  const tensors = await readBundleTensors(dir, entry.weights);
  const H = m.objectives.length;
  const shapes = ensembleTensorShapes(H, hidden as number[]);
  for (const [name, shape] of shapes) {
    const t = tensors.get(name);
    if (!t) throw new BundleError(entry.weights, `tensor "${name}" is missing`);
    if (t.shape.join('x') !== shape.join('x')) throw new BundleError(entry.weights, `tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    if (!t.data.every(Number.isFinite)) throw new BundleError(entry.weights, `tensor "${name}" has a value that is not finite`);
  }
  for (const name of tensors.keys()) if (!shapes.has(name)) throw new BundleError(entry.weights, `unexpected tensor "${name}"`);
  const layers = Array.from({ length: (hidden as number[]).length + 1 }, (_, j) => {
    const [out, inn] = shapes.get(`layer.${j}.weight`)!;
    return { weight: tensors.get(`layer.${j}.weight`)!.data, bias: tensors.get(`layer.${j}.bias`)!.data, in: inn, out };
  });
  return { objectives: H, hidden: hidden as number[], layers };
}
