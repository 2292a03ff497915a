// Loads a model bundle into memory and validates it. Large arrays (embeddings,
// per-item columns) live in SharedArrayBuffers so worker threads share them
// without copies. Every failure is one BundleError naming the file.
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { onnx } from 'onnx-proto';

import { checkShape, DcnModel, DcnShape, DcnWeights, VectorIndex } from '../native';
import { featureLayout, LAYOUT_NAME } from '../models/layout';
import { tensorNames } from './tensors';
import { buildIndex } from './index-builder';
import { firstOutOfBounds, MAX_FEATURE_MAGNITUDE, MAX_PRICE } from './limits';
import { BundleError, fileEntry, INDEX_FILE, Manifest, MANIFEST, readManifest, sha256File, writeManifest } from './manifest';
import { jsonProblem } from './json-error';
import { NpyError, readNpyFloat32 } from './npy';
import type { EnsembleModel } from '../models/ensemble';
import { readEnsemble } from './ensemble';
import { readBundleTensors } from './safetensors';

export const BIAS_FILE = 'item_bias.npy';
const DAY_MS = 86_400_000;

export interface BundleItems {
  n: number;
  ids: string[];
  rowOf: Map<string, number>;
  /** Dictionary-encoded columns: codes index the *Names arrays. */
  brand: Int32Array;
  brandNames: string[];
  category: Int32Array;
  categoryNames: string[];
  contentHash: Int32Array;
  createdAt: Float64Array;
  price: Float32Array;
  /** (ln(price) - logPriceMean) / logPriceStd, from the manifest. */
  logPrice: Float32Array;
}

export interface BundleModel {
  shape: DcnShape;
  weights: DcnWeights;
  /** Extra keys of the config JSON (e.g. the feature layout). */
  config: Record<string, unknown>;
}

export interface Bundle {
  dir: string;
  manifest: Manifest;
  items: BundleItems;
  /** n x embeddingDim, unit rows expected for inner-product indexes. */
  embeddings: Float32Array;
  /** Popularity bias per item, or zeros when the bundle has none. */
  bias: Float32Array;
  index: VectorIndex;
  userTower: Uint8Array;
  preranker: BundleModel;
  ranker: BundleModel;
  /** The learned ensemble, when the bundle has one. */
  ensemble?: EnsembleModel;
}

export interface LoadOptions {
  /** Verify sha256 of every file (default true). */
  verifyChecksums?: boolean;
  /** When index.faiss is absent: build it and write it back (default true); false: fail. */
  buildIndex?: boolean;
  progress?: boolean;
}

function shared<T extends Float32Array | Int32Array | Float64Array | Uint8Array>(
  ctor: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  n: number,
): T {
  return new ctor(new SharedArrayBuffer(Math.max(1, n) * ctor.BYTES_PER_ELEMENT)).subarray(0, n) as T;
}

function checkFiniteArray(file: string, what: string, a: Float32Array): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new BundleError(file, `${what} has a NaN or Inf at position ${i}`);
  }
}

/** Every item feature within MAX_FEATURE_MAGNITUDE (see ./limits), else a BundleError naming the item and field. */
function checkFeatureBounds(file: string, field: string, data: Float32Array, cols: number, ids: string[]): void {
  const bad = firstOutOfBounds(data, cols);
  if (!bad) return;
  const at = cols > 1 ? `${field}[${bad.col}]` : field;
  throw new BundleError(file, `item "${ids[bad.row]}" (row ${bad.row}): ${at} = ${data[bad.row * cols + bad.col]} exceeds the magnitude bound ${MAX_FEATURE_MAGNITUDE}`);
}

/** Files on disk vs the manifest: missing, extra, wrong size or checksum. */
async function checkFiles(dir: string, m: Manifest, verify: boolean): Promise<void> {
  const present = new Set((await fs.readdir(dir)).filter((f) => f !== MANIFEST && !f.endsWith('.tmp')));
  for (const name of Object.keys(m.files)) {
    if (!present.has(name)) throw new BundleError(name, 'is listed in manifest.json but missing');
  }
  for (const name of present) {
    if (!(name in m.files)) throw new BundleError(name, 'is not listed in manifest.json (extra file)');
  }
  await Promise.all(
    Object.entries(m.files).map(async ([name, e]) => {
      const file = path.join(dir, name);
      const st = await fs.stat(file);
      if (st.size !== e.bytes) throw new BundleError(name, `has ${st.size} bytes, manifest.json says ${e.bytes}`);
      if (verify && (await sha256File(file)) !== e.sha256) throw new BundleError(name, 'checksum mismatch (sha256 differs from manifest.json)');
    }),
  );
}

async function readItems(dir: string, m: Manifest): Promise<BundleItems> {
  const name = 'items.jsonl';
  const n = m.itemCount;
  const ids: string[] = new Array(n);
  const rowOf = new Map<string, number>();
  const dict = () => {
    const names: string[] = [];
    const code = new Map<string, number>();
    return {
      names,
      get(v: string): number {
        let c = code.get(v);
        if (c === undefined) {
          c = names.length;
          names.push(v);
          code.set(v, c);
        }
        return c;
      },
    };
  };
  const brands = dict();
  const cats = dict();
  const hashes = dict();
  const items: BundleItems = {
    n,
    ids,
    rowOf,
    brand: shared(Int32Array, n),
    brandNames: brands.names,
    category: shared(Int32Array, n),
    categoryNames: cats.names,
    contentHash: shared(Int32Array, n),
    createdAt: shared(Float64Array, n),
    price: shared(Float32Array, n),
    logPrice: shared(Float32Array, n),
  };
  const { logPriceMean, logPriceStd } = m.features;
  const rl = readline.createInterface({ input: createReadStream(path.join(dir, name)), crlfDelay: Infinity });
  let row = 0;
  for await (const line of rl) {
    if (line.trim() === '') continue;
    const where = `line ${row + 1}`;
    if (row >= n) throw new BundleError(name, `has more than itemCount = ${n} items`);
    let it: Record<string, unknown>;
    try {
      it = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new BundleError(name, `${where} is not valid JSON`);
    }
    const id = it.id;
    if (typeof id !== 'string' || id.length === 0) throw new BundleError(name, `${where}: "id" must be a non-empty string`);
    if (rowOf.has(id)) throw new BundleError(name, `${where}: duplicate item id "${id}" (first on line ${rowOf.get(id)! + 1})`);
    for (const k of ['brand', 'category', 'content_hash']) {
      if (typeof it[k] !== 'string') throw new BundleError(name, `${where}: "${k}" must be a string`);
    }
    const created = Date.parse(String(it.created_at));
    if (Number.isNaN(created)) throw new BundleError(name, `${where}: "created_at" must be an ISO time`);
    const price = it.price;
    if (typeof price !== 'number' || !(price > 0) || !(price <= MAX_PRICE)) throw new BundleError(name, `${where} (item "${id}"): "price" must be a positive number of at most ${MAX_PRICE}`);
    ids[row] = id;
    rowOf.set(id, row);
    items.brand[row] = brands.get(it.brand as string);
    items.category[row] = cats.get(it.category as string);
    items.contentHash[row] = hashes.get(it.content_hash as string);
    items.createdAt[row] = created;
    items.price[row] = price;
    items.logPrice[row] = (Math.log(price) - logPriceMean) / logPriceStd;
    row++;
  }
  if (row !== n) throw new BundleError(name, `has ${row} items, manifest.json says itemCount = ${n}`);
  return items;
}

async function readModel(dir: string, m: Manifest, which: 'preranker' | 'ranker'): Promise<BundleModel> {
  const entry = m.models[which];
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, entry.config), 'utf8');
  } catch (err) {
    throw new BundleError(entry.config, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'I/O error'})`);
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new BundleError(entry.config, `is not valid JSON (${jsonProblem(err, text)})`);
  }
  const shape = config.shape as DcnShape;
  if (typeof shape !== 'object' || shape === null) throw new BundleError(entry.config, '"shape" is missing');
  try {
    checkShape(shape);
  } catch (err) {
    throw new BundleError(entry.config, (err as Error).message);
  }
  const layout = config.layout ?? m.features.layout;
  if (layout !== m.features.layout) throw new BundleError(entry.config, `layout "${String(layout)}" differs from manifest features.layout "${m.features.layout}"`);
  if (layout === LAYOUT_NAME) {
    const l = featureLayout(m.embeddingDim);
    if (shape.inputDim !== l.userDim + l.itemDim || shape.userDim !== l.userDim) {
      throw new BundleError(entry.config, `shape inputDim/userDim ${shape.inputDim}/${shape.userDim} do not fit layout ${LAYOUT_NAME} at dim ${m.embeddingDim} (${l.userDim + l.itemDim}/${l.userDim})`);
    }
  }
  if (which === 'ranker' && shape.heads !== m.objectives.length) {
    throw new BundleError(entry.config, `ranker has ${shape.heads} heads, manifest.json has ${m.objectives.length} objectives`);
  }
  const tensors = await readBundleTensors(dir, entry.weights);
  const names = tensorNames(shape);
  for (const nm of names) {
    const t = tensors.get(nm);
    if (!t) throw new BundleError(entry.weights, `tensor "${nm}" is missing`);
    checkFiniteArray(entry.weights, `tensor "${nm}"`, t.data);
  }
  for (const nm of tensors.keys()) if (!names.includes(nm)) throw new BundleError(entry.weights, `unexpected tensor "${nm}"`);
  const get = (nm: string) => tensors.get(nm)!.data;
  const weights: DcnWeights = {
    cross: Array.from({ length: shape.crossLayers }, (_, l) =>
      shape.crossRank === 0
        ? { weight: get(`cross.${l}.weight`), bias: get(`cross.${l}.bias`) }
        : { u: get(`cross.${l}.u`), v: get(`cross.${l}.v`), bias: get(`cross.${l}.bias`) },
    ),
    mlp: shape.mlp.map((_, j) => ({ weight: get(`mlp.${j}.weight`), bias: get(`mlp.${j}.bias`) })),
    heads: { weight: get('heads.weight'), bias: get('heads.bias') },
  };
  try {
    new DcnModel(shape, weights); // checks every size against the shape
  } catch (err) {
    throw new BundleError(entry.weights, (err as Error).message);
  }
  return { shape, weights, config };
}

const TOWER_INPUTS = ['items', 'log_price', 'action', 'age_days'];

async function readUserTower(dir: string, m: Manifest): Promise<Uint8Array> {
  const name = m.models.userTower.file;
  const bytes = new Uint8Array(await fs.readFile(path.join(dir, name)));
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new BundleError(name, `is not an ONNX model (${(err as Error).message})`);
  }
  const inputs = (model.graph?.input ?? []).map((i) => i.name);
  for (const want of TOWER_INPUTS) if (!inputs.includes(want)) throw new BundleError(name, `has no input "${want}" (inputs: ${inputs.join(', ')})`);
  const out = (model.graph?.output ?? []).find((o) => o.name === 'user_emb');
  if (!out) throw new BundleError(name, 'has no output "user_emb"');
  const dims = out.type?.tensorType?.shape?.dim ?? [];
  const last = dims[dims.length - 1];
  if (last && last.dimValue != null && Number(last.dimValue) !== m.embeddingDim) {
    throw new BundleError(name, `user_emb has dimension ${String(last.dimValue)}, manifest.json says embeddingDim = ${m.embeddingDim}`);
  }
  return bytes;
}

async function readMatrix(dir: string, name: string, rows: number, cols: number | null): Promise<Float32Array> {
  let mat;
  try {
    mat = await readNpyFloat32(path.join(dir, name));
  } catch (err) {
    if (err instanceof NpyError) throw new BundleError(name, err.message.replace(/^[^:]*: /, ''));
    throw err;
  }
  const ok = cols === null ? (mat.shape.length === 1 && mat.shape[0] === rows) || (mat.shape.length === 2 && mat.shape[0] === rows && mat.shape[1] === 1) : mat.shape.length === 2 && mat.shape[0] === rows && mat.shape[1] === cols;
  if (!ok) throw new BundleError(name, `has shape (${mat.shape.join(', ')}), expected (${rows}${cols === null ? '' : `, ${cols}`})`);
  checkFiniteArray(name, 'data', mat.data);
  return mat.data;
}

async function openIndex(dir: string, m: Manifest, embeddings: Float32Array, opts: LoadOptions): Promise<VectorIndex> {
  const file = path.join(dir, INDEX_FILE);
  if (INDEX_FILE in m.files) {
    let index: VectorIndex;
    try {
      index = await VectorIndex.read(file);
    } catch (err) {
      throw new BundleError(INDEX_FILE, `cannot be read (${(err as Error).message})`);
    }
    if (index.dim !== m.embeddingDim) throw new BundleError(INDEX_FILE, `has dim ${index.dim}, manifest.json says ${m.embeddingDim}`);
    if (index.ntotal !== m.itemCount) throw new BundleError(INDEX_FILE, `holds ${index.ntotal} vectors, manifest.json says itemCount = ${m.itemCount}`);
    if (index.metric !== m.index.metric) throw new BundleError(INDEX_FILE, `uses metric ${index.metric}, manifest.json says ${m.index.metric}`);
    return index;
  }
  if (opts.buildIndex === false) throw new BundleError(INDEX_FILE, 'is absent and building it was not allowed');
  const index = await buildIndex(embeddings, m.embeddingDim, { factory: m.index.factory, metric: m.index.metric, progress: opts.progress });
  await index.write(file);
  m.files[INDEX_FILE] = await fileEntry(file);
  await writeManifest(dir, m);
  return index;
}

/** Loads and validates a bundle directory. */
export async function loadBundle(dir: string, opts: LoadOptions = {}): Promise<Bundle> {
  const m = await readManifest(dir);
  await checkFiles(dir, m, opts.verifyChecksums !== false);
  const items = await readItems(dir, m);
  const emb = await readMatrix(dir, 'item_embeddings.npy', m.itemCount, m.embeddingDim);
  const bias = BIAS_FILE in m.files ? await readMatrix(dir, BIAS_FILE, m.itemCount, null) : shared(Float32Array, m.itemCount);
  checkFeatureBounds('item_embeddings.npy', 'embedding', emb, m.embeddingDim, items.ids);
  checkFeatureBounds(BIAS_FILE, 'bias', bias, 1, items.ids);
  const [userTower, preranker, ranker, ensemble] = await Promise.all([readUserTower(dir, m), readModel(dir, m, 'preranker'), readModel(dir, m, 'ranker'), readEnsemble(dir, m)]);
  const index = await openIndex(dir, m, emb, opts);
  return { dir, manifest: m, items, embeddings: emb, bias, index, userTower, preranker, ranker, ...(ensemble ? { ensemble } : {}) };
}

/** Items created within the manifest's newItemDays before `now`. */
export function newItemMask(b: Bundle, now: number): Uint8Array {
  const out = shared(Uint8Array, b.items.n);
  const horizon = now - b.manifest.features.newItemDays * DAY_MS;
  for (let i = 0; i < b.items.n; i++) out[i] = b.items.createdAt[i] >= horizon && b.items.createdAt[i] <= now ? 1 : 0;
  return out;
}
