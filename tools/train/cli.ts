// npm run train: a bundle whose models are trained from the logs.
//
//   npm run train -- --logs DIR --out BUNDLE [--bundle SRC] [--epochs 3] [--seed 1]
//        [--until ISO] [--no-two-tower] [--two-tower-ablation] [--preranker hap|plain|source]
//        [--no-position] [--ensemble 16,8] [--python PATH]
//
// --logs is what `npm run simulate` (or a deployment with --impression-log
// and its events) wrote: impressions/ and events.jsonl. First the two-tower
// model (two-tower.ts, train/two_tower.py): the user tower (ONNX) and the
// item embeddings, from which the index is rebuilt. Then the DCN-v2
// multi-task ranker with position debiasing (train/ranker.py) on the served
// items' inputs (export.ts), the user part recomputed with the new tower and
// the item part with the new embeddings, as the new bundle serves them.
// Then the strong pre-ranker with the trained ranker as its teacher on
// candidate lists rebuilt from the logged pages (train/preranker.py): the
// HAP way (the hard band near the keep cut on a pairwise path of its own)
// and a plain one, compared offline; --preranker picks the one the bundle
// gets (hap, the default; plain; source keeps the source's). With
// --ensemble also the learned ensemble (models.ensemble, trained on the new
// ranker's outputs; requests choose it with options.ensemble). The new
// bundle is the source bundle with these: every other file copied, the
// manifest rewritten (name, version, createdAt now, checksums), then loaded
// and validated like any bundle; the native DCN-v2s, the engine's ensemble
// and the ONNX user tower are each checked against PyTorch's outputs (within
// 1e-5). --until learns only from what was logged before that time; the
// engagements after it measure the towers' Recall@K (and with
// --two-tower-ablation, against frozen item embeddings). Still from the
// source bundle: the items, their popularity bias, the light model's weight.
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { rebuildBundleIndex } from '../../src/bundle/index-builder';
import { Bundle, loadBundle } from '../../src/bundle/loader';
import { fileEntry, INDEX_FILE, Manifest, writeManifest } from '../../src/bundle/manifest';
import { readNpyFloat32, writeNpyFloat32 } from '../../src/bundle/npy';
import { DcnModel } from '../../src/native/dcn';
import { EnsembleModel, ensembleScores } from '../../src/models/ensemble';
import { exportRankerData, ExportSummary, rankerLines } from './export';
import { trainTwoTower, TwoTowerModel } from './two-tower';

const ROOT = path.join(__dirname, '..', '..', '..');

const USAGE = 'npm run train -- --logs DIR --out BUNDLE [--bundle SRC] [--epochs 3] [--seed 1] [--until ISO] [--no-two-tower] [--two-tower-ablation] [--preranker hap|plain|source] [--no-position] [--ensemble 16,8] [--python PATH]';

export interface TrainOptions {
  logs: string;
  bundle: string;
  out: string;
  epochs: number;
  seed: number;
  position: boolean;
  /** Hidden widths of the learned ensemble (empty: none). */
  ensemble?: number[];
  /** Train the two-tower model (user tower, item embeddings, index); false: keep the source bundle's. */
  twoTower: boolean;
  /** With twoTower: also train it with frozen item embeddings and compare their Recall@K. */
  ablation?: boolean;
  /** Learn only from what was logged before this time (ms); later engagements are held out. */
  until?: number;
  /** Train the strong pre-ranker and put this one in the bundle (both are trained and checked); absent: keep the source's. */
  preranker?: 'hap' | 'plain';
  python: string;
  log?: (m: string) => void;
}

export interface TrainResult {
  data: ExportSummary;
  trainSeconds: number;
  loss: number[];
  /** Largest |native - PyTorch| over the parity rows (ranker, and ensemble when trained). */
  parityMaxError: number;
  ensembleParityMaxError?: number;
  twoTower?: Pick<TwoTowerModel, 'data' | 'loss' | 'seconds' | 'parityMaxError' | 'recall'>;
  /** Held-out pages' share of the teacher's top 50 among the kept M: light score only, plain and HAP pre-ranker on the hard band. */
  preranker?: { pages: { train: number; heldOut: number }; teacherTop50Kept: { light: number; plain: number; hap: number; teacher: number }; budget: number };
  version: string;
}

/**
 * The first Python that has PyTorch and NumPy: $PYTHON, python3 on the PATH,
 * then Debian's /usr/bin/python3 (python3-torch installs there, and a PATH
 * may put another python3 first). Null when none has them.
 */
export function findPython(): string | null {
  for (const py of [process.env.PYTHON, 'python3', '/usr/bin/python3']) {
    if (py && spawnSync(py, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

/** The bundle's native DCN-v2 (`which`) on the parity rows against PyTorch's outputs: the largest difference. */
async function parity(b: Bundle, modelDir: string, which: 'ranker' | 'preranker-hap' | 'preranker-plain' = 'ranker'): Promise<number> {
  const m = which === 'ranker' ? b.ranker : b.preranker;
  const model = new DcnModel(m.shape, m.weights, { precision: 'fp32' });
  const files = which === 'ranker' ? ['parity_x', 'parity_p'] : ['prerank_parity_x', which === 'preranker-hap' ? 'preranker_parity_p' : 'preranker-plain_parity_p'];
  const x = await readNpyFloat32(path.join(modelDir, `${files[0]}.npy`));
  const p = await readNpyFloat32(path.join(modelDir, `${files[1]}.npy`));
  const [n, d] = x.shape;
  const du = m.shape.userDim;
  const users = new Float32Array(n * du);
  const items = new Float32Array(n * (d - du));
  for (let i = 0; i < n; i++) {
    users.set(x.data.subarray(i * d, i * d + du), i * du);
    items.set(x.data.subarray(i * d + du, (i + 1) * d), i * (d - du));
  }
  const got = model.forwardSegments(users, Int32Array.from({ length: n + 1 }, (_, i) => i), items);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - p.data[i]));
  return worst;
}

/** The engine's ensemble on the trainer's parity rows against PyTorch's scores: the largest difference. */
async function ensembleParity(model: EnsembleModel, modelDir: string): Promise<number> {
  const [p, w, s] = await Promise.all(['p', 'w', 's'].map((k) => readNpyFloat32(path.join(modelDir, `ens_parity_${k}.npy`))));
  const n = s.shape[0];
  const H = model.objectives;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const got = ensembleScores(model, p.data.subarray(i * H, (i + 1) * H), w.data.subarray(i * H, (i + 1) * H), 1)[0];
    worst = Math.max(worst, Math.abs(got - s.data[i]));
  }
  return worst;
}

/** The new bundle: the source's files, the trained models in their place, a new manifest and, with new embeddings, a new index. */
async function writeBundle(o: TrainOptions, src: Bundle, modelDir: string, tt: TwoTowerModel | null): Promise<string> {
  await fs.rm(o.out, { recursive: true, force: true });
  await fs.mkdir(o.out, { recursive: true });
  const m = src.manifest;
  const { weights, config } = m.models.ranker;
  const pre = m.models.preranker;
  const replaced = new Set([weights, config, ...(o.preranker ? [pre.weights, pre.config] : []), ...(tt ? ['item_embeddings.npy', m.models.userTower.file, INDEX_FILE] : [])]);
  const names = new Set(Object.keys(m.files).filter((f) => !replaced.has(f)));
  for (const f of names) await fs.copyFile(path.join(o.bundle, f), path.join(o.out, f));
  await fs.copyFile(path.join(modelDir, 'ranker.safetensors'), path.join(o.out, weights));
  await fs.copyFile(path.join(modelDir, 'ranker.json'), path.join(o.out, config));
  names.add(weights).add(config);
  if (o.preranker) {
    const from = o.preranker === 'hap' ? 'preranker' : 'preranker-plain';
    await fs.copyFile(path.join(modelDir, `${from}.safetensors`), path.join(o.out, pre.weights));
    await fs.copyFile(path.join(modelDir, `${from}.json`), path.join(o.out, pre.config));
    names.add(pre.weights).add(pre.config);
  }
  if (tt) {
    await fs.writeFile(path.join(o.out, m.models.userTower.file), tt.tower);
    await writeNpyFloat32(path.join(o.out, 'item_embeddings.npy'), [src.items.n, m.embeddingDim], tt.embeddings);
    names.add(m.models.userTower.file).add('item_embeddings.npy');
  }
  const models: Manifest['models'] = { ...m.models };
  if (o.ensemble?.length) {
    for (const f of ['ensemble.safetensors', 'ensemble.json']) {
      await fs.copyFile(path.join(modelDir, f), path.join(o.out, f));
      names.add(f);
    }
    models.ensemble = { format: 'mlp-v1', weights: 'ensemble.safetensors', config: 'ensemble.json' };
  }
  const files: Manifest['files'] = {};
  for (const f of [...names].sort()) files[f] = await fileEntry(path.join(o.out, f));
  const created = new Date();
  const version = `${m.version}+trained.${created.toISOString().replace(/[-:.]/g, '').slice(0, 15)}`;
  await writeManifest(o.out, { ...m, name: `${m.name}-trained`, version, createdAt: created.toISOString(), models, files });
  if (tt) await rebuildBundleIndex(o.out, { progress: false });
  return version;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const log = o.log ?? (() => undefined);
  const src = await loadBundle(o.bundle, { progress: false });
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'train-'));
  try {
    const until = o.until ?? Infinity;
    const lines = await rankerLines(o.logs, src, until);
    let tt: TwoTowerModel | null = null;
    if (o.twoTower) {
      tt = await trainTwoTower({ python: o.python, run, epochs: o.epochs, seed: o.seed, until, ablation: o.ablation ?? false, root: ROOT }, o.logs, src, lines, work);
      log(`train: two-tower model on ${tt.data.train} engagements in ${tt.seconds.toFixed(0)} s, loss ${tt.loss.map((l) => l.toFixed(3)).join(' -> ')}`);
    }
    const data = await exportRankerData(o.logs, src, lines, path.join(work, 'data'), tt ?? undefined);
    log(`train: ${data.rows} served items of ${data.pages} logged pages (${Object.entries(data.positives).map(([k, v]) => `${v} ${k}`).join(', ')})`);
    const modelDir = path.join(work, 'model');
    const args = [path.join(ROOT, 'train', 'ranker.py'), '--data', path.join(work, 'data'), '--config', path.join(o.bundle, src.manifest.models.ranker.config), '--out', modelDir];
    args.push('--epochs', String(o.epochs), '--seed', String(o.seed), ...(o.position ? [] : ['--no-position']));
    if (o.ensemble?.length) args.push('--ensemble', o.ensemble.join(','));
    if (o.preranker) args.push('--preranker', path.join(o.bundle, src.manifest.models.preranker.config));
    const t0 = Date.now();
    const summary = JSON.parse((await run(o.python, args)).trim().split('\n').pop()!) as { loss: number[] };
    const trainSeconds = (Date.now() - t0) / 1000;
    const version = await writeBundle(o, src, modelDir, tt);
    const trained = await loadBundle(o.out, { progress: false, verifyChecksums: true });
    const parityMaxError = Math.max(await parity(trained, modelDir), ...(o.preranker ? [await parity(trained, modelDir, `preranker-${o.preranker}`)] : []));
    if (!(parityMaxError <= 1e-5)) throw new Error(`the native ranker or pre-ranker differs from PyTorch's by ${parityMaxError} on the parity rows`);
    const ensembleParityMaxError = trained.ensemble ? await ensembleParity(trained.ensemble, modelDir) : undefined;
    if (ensembleParityMaxError !== undefined && !(ensembleParityMaxError <= 1e-5)) throw new Error(`the engine's ensemble differs from PyTorch's by ${ensembleParityMaxError}`);
    const trainSummary = JSON.parse(await fs.readFile(path.join(modelDir, 'train-summary.json'), 'utf8')) as Record<string, unknown>;
    const twoTower = tt ? { data: tt.data, loss: tt.loss, seconds: tt.seconds, parityMaxError: tt.parityMaxError, ...(tt.recall ? { recall: tt.recall } : {}) } : undefined;
    await fs.writeFile(path.join(o.out, '..', `${path.basename(o.out)}.train-summary.json`), JSON.stringify({ ...trainSummary, ...(twoTower ? { twoTower } : {}) }, null, 2));
    const pre = trainSummary.preranker as TrainResult['preranker'] | undefined;
    return { data, trainSeconds, loss: summary.loss, parityMaxError, ...(pre ? { preranker: { pages: pre.pages, teacherTop50Kept: pre.teacherTop50Kept, budget: pre.budget } } : {}), ...(ensembleParityMaxError !== undefined ? { ensembleParityMaxError } : {}), ...(twoTower ? { twoTower } : {}), version };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

function describe(r: TrainResult): string {
  const parts = [`ranker trained on ${r.data.rows} served items in ${r.trainSeconds.toFixed(0)} s, loss ${r.loss.map((l) => l.toFixed(4)).join(' -> ')}, native vs PyTorch max |diff| ${r.parityMaxError.toExponential(1)}${r.ensembleParityMaxError !== undefined ? ` (ensemble ${r.ensembleParityMaxError.toExponential(1)})` : ''}`];
  if (r.preranker) {
    const k = r.preranker.teacherTop50Kept;
    parts.push(`pre-ranker at budget ${r.preranker.budget} on ${r.preranker.pages.heldOut} held-out pages, the teacher's top 50 kept: light only ${k.light.toFixed(3)}, plain ${k.plain.toFixed(3)}, HAP ${k.hap.toFixed(3)}, the teacher itself ${k.teacher.toFixed(3)}`);
  }
  const tt = r.twoTower;
  if (tt) {
    parts.push(`two-tower model on ${tt.data.train} engagements in ${tt.seconds.toFixed(0)} s, ONNX vs PyTorch max |diff| ${tt.parityMaxError.toExponential(1)}`);
    const rc = tt.recall;
    if (rc) {
      const show = (x: Record<number, { mean: number }>) => Object.entries(x).map(([k, v]) => `@${k} ${v.mean.toFixed(3)}`).join(' ');
      parts.push(`Recall on ${rc.n} held-out engagements: trained ${show(rc.trained)}; source bundle ${show(rc.source)}${rc.frozen ? `; frozen item embeddings ${show(rc.frozen)}` : ''}`);
    }
  }
  return parts.join('; ');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      logs: { type: 'string' },
      bundle: { type: 'string', default: path.join('.data', 'demo-world', 'bundle') },
      out: { type: 'string' },
      epochs: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      'no-position': { type: 'boolean', default: false },
      'no-two-tower': { type: 'boolean', default: false },
      'two-tower-ablation': { type: 'boolean', default: false },
      preranker: { type: 'string', default: 'hap' },
      until: { type: 'string' },
      ensemble: { type: 'string', default: '' },
      python: { type: 'string' },
    },
  });
  if (!values.logs || !values.out) throw new Error(`usage: ${USAGE}`);
  const epochs = Number(values.epochs);
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error('--epochs must be a positive integer');
  const until = values.until === undefined ? undefined : Date.parse(values.until);
  if (until !== undefined && !Number.isFinite(until)) throw new Error(`--until must be a date and time (ISO 8601), got ${values.until}`);
  const preranker = values.preranker!;
  if (preranker !== 'hap' && preranker !== 'plain' && preranker !== 'source') throw new Error(`--preranker must be hap, plain or source, got ${preranker}`);
  const python = values.python ?? findPython();
  if (!python) throw new Error('no python3 with PyTorch and NumPy found (Debian: python3-torch; scripts/install-system-deps.sh installs it), or name one with --python');
  const t0 = Date.now();
  const r = await train({
    logs: path.resolve(values.logs), bundle: path.resolve(values.bundle!), out: path.resolve(values.out), epochs, seed: Number(values.seed),
    position: !values['no-position'], twoTower: !values['no-two-tower'], ablation: values['two-tower-ablation'], until,
    ...(preranker !== 'source' ? { preranker } : {}),
    ensemble: values.ensemble!.split(',').filter(Boolean).map(Number), python, log: (m) => process.stderr.write(m + '\n'),
  });
  console.log(`wrote ${path.resolve(values.out)} (${r.version}): ${describe(r)}; ${((Date.now() - t0) / 1000).toFixed(0)} s in all`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

