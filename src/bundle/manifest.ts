// manifest.json of a model bundle: what the bundle holds and how to use it.
// See docs/bundle-format.md.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';

import { jsonProblem } from './json-error';
import { DcnPrecisionSetting, isPrecisionSetting, PRECISION_SETTINGS } from '../native/dcn-precision';

export const FORMAT_VERSION = 1;
export const MANIFEST = 'manifest.json';
/** The FAISS index file of a bundle (optional: without it the loader builds the index). */
export const INDEX_FILE = 'index.faiss';

export type DcnModelEntry = {
  format: 'dcn-v2';
  /** safetensors file with the tensors named as in docs/bundle-format.md. */
  weights: string;
  /** JSON file with the network shape. */
  config: string;
  /** Arithmetic to serve it in (default 'auto': by CPU); the engine's --ranker-precision overrides it. */
  precision?: DcnPrecisionSetting;
};

export interface FileEntry {
  sha256: string;
  bytes: number;
}

export interface Manifest {
  formatVersion: number;
  name: string;
  version: string;
  createdAt: string;
  embeddingDim: number;
  itemCount: number;
  /** Objective names, in the order of the ranker's heads. */
  objectives: string[];
  /** Default objective weights per surface; its keys are the bundle's surfaces. */
  defaultWeights: Record<string, Record<string, number>>;
  /** The time the catalog was made at (created_at of new items is relative to it). */
  referenceTime?: string;
  /** refine: IVF SQfp16 two-pass search (SearchOptions.refine); absent or 0: one pass. */
  index: { factory: string; metric: 'ip' | 'l2'; nprobe?: number; efSearch?: number; refine?: number };
  features: {
    layout: string;
    /** Standardisation of ln(price): (ln(price) - mean) / std. */
    logPriceMean: number;
    logPriceStd: number;
    /** Items younger than this are "new" (exploration candidates). */
    newItemDays: number;
  };
  /** The light (two-tower) score: <user_emb, item_emb> + biasWeight * item_bias. */
  lightModel?: { biasWeight: number };
  models: {
    userTower: { format: 'onnx'; file: string };
    preranker: DcnModelEntry;
    ranker: DcnModelEntry;
    /** The learned ensemble (models/ensemble.ts), optional. */
    ensemble?: { format: 'mlp-v1'; weights: string; config: string };
  };
  /** Every file of the bundle except manifest.json, with its checksum. */
  files: Record<string, FileEntry>;
}

export class BundleError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'BundleError';
  }
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function fileEntry(file: string): Promise<FileEntry> {
  const [sha256, st] = await Promise.all([sha256File(file), fs.stat(file)]);
  return { sha256, bytes: st.size };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The "models" section: the user tower, the two DCN-v2 models, the optional learned ensemble; returns the files it names. */
function checkModels(raw: unknown, fail: (problem: string) => never): string[] {
  const models = raw as Obj;
  if (!isObj(models)) fail('"models" must be an object');
  const tower = models.userTower as Obj;
  if (!isObj(tower) || tower.format !== 'onnx' || typeof tower.file !== 'string') fail('"models.userTower" must be { format: "onnx", file }');
  for (const k of ['preranker', 'ranker']) {
    const e = models[k] as Obj;
    if (!isObj(e) || e.format !== 'dcn-v2' || typeof e.weights !== 'string' || typeof e.config !== 'string') {
      fail(`"models.${k}" must be { format: "dcn-v2", weights, config }`);
    }
    if (e.precision !== undefined && !isPrecisionSetting(e.precision)) {
      fail(`"models.${k}.precision" must be one of ${PRECISION_SETTINGS.map((p) => `"${p}"`).join(', ')}, got ${JSON.stringify(e.precision)}`);
    }
  }
  const ens = models.ensemble as Obj | undefined;
  if (ens !== undefined && (!isObj(ens) || ens.format !== 'mlp-v1' || typeof ens.weights !== 'string' || typeof ens.config !== 'string')) {
    fail('"models.ensemble" must be { format: "mlp-v1", weights, config }');
  }
  const named = [(tower as { file: string }).file, ...['preranker', 'ranker'].flatMap((k) => [(models[k] as DcnModelEntry).weights, (models[k] as DcnModelEntry).config])];
  return ens ? [...named, ens.weights as string, ens.config as string] : named;
}

/** Checks the manifest's structure and internal consistency (not the files). */
export function checkManifest(raw: unknown): Manifest {
  const fail = (problem: string): never => {
    throw new BundleError(MANIFEST, problem);
  };
  if (!isObj(raw)) fail('must be a JSON object');
  const m = raw as Obj;
  const str = (k: string) => (typeof m[k] === 'string' && (m[k] as string).length > 0 ? (m[k] as string) : fail(`"${k}" must be a non-empty string`));
  const int = (k: string, min: number) =>
    Number.isSafeInteger(m[k]) && (m[k] as number) >= min ? (m[k] as number) : fail(`"${k}" must be an integer >= ${min}`);
  if (m.formatVersion !== FORMAT_VERSION) fail(`"formatVersion" must be ${FORMAT_VERSION}, got ${JSON.stringify(m.formatVersion)}`);
  str('name');
  str('version');
  str('createdAt');
  int('embeddingDim', 1);
  int('itemCount', 0);
  if (!Array.isArray(m.objectives) || m.objectives.length === 0 || !m.objectives.every((o) => typeof o === 'string' && o.length > 0)) {
    fail('"objectives" must be a non-empty array of names');
  }
  const objectives = m.objectives as string[];
  if (new Set(objectives).size !== objectives.length) fail('"objectives" has duplicate names');
  if (!isObj(m.defaultWeights) || Object.keys(m.defaultWeights).length === 0) fail('"defaultWeights" must map each surface to objective weights');
  for (const [surface, w] of Object.entries(m.defaultWeights as Obj)) {
    if (!isObj(w)) fail(`defaultWeights.${surface} must be an object of objective weights`);
    for (const [o, v] of Object.entries(w as Obj)) {
      if (!objectives.includes(o)) fail(`defaultWeights.${surface} names unknown objective "${o}" (objectives: ${objectives.join(', ')})`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`defaultWeights.${surface}.${o} must be a finite number >= 0`);
    }
  }
  if (m.referenceTime !== undefined && Number.isNaN(Date.parse(String(m.referenceTime)))) fail('"referenceTime" must be an ISO time');
  const idx = m.index as Obj;
  if (!isObj(idx) || typeof idx.factory !== 'string' || (idx.metric !== 'ip' && idx.metric !== 'l2')) {
    fail('"index" must be { factory: string, metric: "ip" | "l2" }');
  }
  if (idx.refine !== undefined && !(idx.refine === 0 || (typeof idx.refine === 'number' && idx.refine >= 1 && idx.refine <= 64))) {
    fail('"index.refine" must be 0 or a number in [1, 64]');
  }
  const f = m.features as Obj;
  if (!isObj(f) || typeof f.layout !== 'string') fail('"features.layout" must be a string');
  for (const k of ['logPriceMean', 'logPriceStd', 'newItemDays']) {
    if (typeof f[k] !== 'number' || !Number.isFinite(f[k] as number)) fail(`"features.${k}" must be a finite number`);
  }
  if ((f.logPriceStd as number) <= 0) fail('"features.logPriceStd" must be > 0');
  if (m.lightModel !== undefined) {
    const lm = m.lightModel as Obj;
    if (!isObj(lm) || typeof lm.biasWeight !== 'number' || !Number.isFinite(lm.biasWeight)) fail('"lightModel.biasWeight" must be a finite number');
  }
  const modelFiles = checkModels(m.models, fail);
  if (!isObj(m.files)) fail('"files" must map file names to { sha256, bytes }');
  for (const [name, e] of Object.entries(m.files as Obj)) {
    if (name.includes('/') || name.includes('\\') || name === '..' || name === MANIFEST) fail(`"files" has an invalid name "${name}"`);
    const fe = e as Obj;
    if (!isObj(fe) || typeof fe.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(fe.sha256) || !Number.isSafeInteger(fe.bytes)) {
      fail(`files["${name}"] must be { sha256: 64 hex digits, bytes: integer }`);
    }
  }
  const files = m.files as Record<string, FileEntry>;
  const referenced = ['items.jsonl', 'item_embeddings.npy', ...modelFiles];
  for (const r of referenced) if (!(r in files)) fail(`"files" does not list "${r}"`);
  return m as unknown as Manifest;
}

export async function readManifest(dir: string): Promise<Manifest> {
  const file = path.join(dir, MANIFEST);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new BundleError(MANIFEST, `missing (is ${dir} a bundle directory?)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BundleError(MANIFEST, `is not valid JSON (${jsonProblem(err, text)})`);
  }
  return checkManifest(raw);
}

export async function writeManifest(dir: string, m: Manifest): Promise<void> {
  const tmp = path.join(dir, `${MANIFEST}.tmp`);
  await fs.writeFile(tmp, JSON.stringify(m, null, 2) + '\n');
  await fs.rename(tmp, path.join(dir, MANIFEST));
}
