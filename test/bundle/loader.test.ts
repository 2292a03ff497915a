import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';

import { buildIndex } from '../../src/bundle/index-builder';
import { Bundle, loadBundle, LoadOptions } from '../../src/bundle/loader';
import { INDEX_FILE } from '../../src/bundle/manifest';
import { BundleError, fileEntry, Manifest } from '../../src/bundle/manifest';
import { readNpyFloat32, writeNpyFloat32 } from '../../src/bundle/npy';
import { readSafetensors, writeSafetensors } from '../../src/bundle/safetensors';
import { itemId } from '../../tools/world/catalog';
import { OBJECTIVES } from '../../tools/world/schema';
import { hashTree, makeWorld, smallConfig, tmpDir } from '../tools/world/helpers';

const CLI = path.resolve(__dirname, '../../src/bundle/cli.js');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as T;
}

async function writeJson(file: string, v: unknown): Promise<void> {
  await fs.writeFile(file, JSON.stringify(v, null, 2) + '\n');
}

async function editManifest(dir: string, edit: (m: Manifest) => void): Promise<void> {
  const file = path.join(dir, 'manifest.json');
  const m = await readJson<Manifest>(file);
  edit(m);
  await writeJson(file, m);
}

/** Records a changed file's new sha256 and size in manifest.json. */
async function refresh(dir: string, name: string): Promise<void> {
  const e = await fileEntry(path.join(dir, name));
  await editManifest(dir, (m) => {
    m.files[name] = e;
  });
}

async function editLines(dir: string, name: string, edit: (lines: string[]) => void): Promise<void> {
  const file = path.join(dir, name);
  const lines = (await fs.readFile(file, 'utf8')).split('\n');
  edit(lines);
  await fs.writeFile(file, lines.join('\n'));
}

describe('bundle/loader', function () {
  this.timeout(60_000);
  const cfg = smallConfig({ seed: 13, items: 3000, users: 300, dim: 32 });
  const d = cfg.dim;
  const FACTORY = 'IVF16,Flat';
  let dir: string;
  let good: string;
  let goodHashes: Map<string, string>;
  let caseNo = 0;

  before(async () => {
    dir = await tmpDir('loader');
    await makeWorld(cfg, path.join(dir, 'world'), FACTORY);
    good = path.join(dir, 'world', 'bundle');
    goodHashes = await hashTree(good);
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** A fresh copy of the good bundle, changed by `mutate`. */
  async function brokenCopy(mutate: (b: string) => Promise<void>): Promise<string> {
    const b = path.join(dir, 'cases', `case-${++caseNo}`);
    await fs.cp(good, b, { recursive: true });
    await mutate(b);
    return b;
  }

  /** loadBundle rejects with a BundleError for `file` whose message names it and matches `problem`. */
  async function rejects(b: string, file: string, problem: RegExp, opts?: LoadOptions): Promise<void> {
    await assert.rejects(loadBundle(b, opts), (err: unknown) => {
      assert.ok(err instanceof BundleError, `expected a BundleError, got ${String(err)}`);
      assert.equal(err.file, file, `BundleError for ${err.file}, expected ${file}: ${err.message}`);
      assert.ok(err.message.includes(file), `message does not name ${file}: ${err.message}`);
      assert.match(err.message, problem);
      return true;
    });
  }

  describe('a valid bundle', () => {
    let b: Bundle;
    let manifest: Manifest;
    before(async () => {
      b = await loadBundle(good, { buildIndex: false });
      manifest = await readJson<Manifest>(path.join(good, 'manifest.json'));
    });

    it('loads the items: count, ids -> rows, dictionary columns', () => {
      assert.equal(b.items.n, cfg.items);
      assert.equal(b.manifest.itemCount, cfg.items);
      assert.equal(b.items.ids.length, cfg.items);
      for (let i = 0; i < cfg.items; i++) {
        assert.equal(b.items.ids[i], itemId(i));
        assert.equal(b.items.rowOf.get(itemId(i)), i);
      }
      assert.equal(b.items.rowOf.size, cfg.items);
      assert.ok(b.items.categoryNames.length > 1 && b.items.categoryNames.length <= cfg.categories);
      for (let i = 0; i < cfg.items; i++) {
        assert.ok(b.items.category[i] >= 0 && b.items.category[i] < b.items.categoryNames.length);
        assert.ok(b.items.price[i] > 0 && Number.isFinite(b.items.logPrice[i]));
      }
    });

    it('keeps embeddings in a SharedArrayBuffer, equal to item_embeddings.npy', async () => {
      assert.ok(b.embeddings.buffer instanceof SharedArrayBuffer);
      assert.equal(b.embeddings.length, cfg.items * d);
      const npy = await readNpyFloat32(path.join(good, 'item_embeddings.npy'));
      assert.deepEqual(Array.from(b.embeddings), Array.from(npy.data));
      assert.equal(b.bias.length, cfg.items);
      assert.ok(b.items.createdAt.buffer instanceof SharedArrayBuffer);
    });

    it('opens the index: kind and ntotal', () => {
      assert.equal(b.manifest.index.factory, FACTORY);
      assert.match(b.index.kind, /^ivf/);
      assert.equal(b.index.ntotal, cfg.items);
      assert.equal(b.index.dim, d);
      assert.equal(b.index.metric, 'ip');
    });

    it('loads the models: the ranker has a head per manifest objective', async () => {
      assert.deepEqual(b.manifest.objectives, [...OBJECTIVES]);
      assert.equal(b.ranker.shape.heads, manifest.objectives.length);
      assert.equal(b.ranker.weights.heads.bias.length, manifest.objectives.length);
      assert.equal(b.preranker.shape.heads, 1);
      assert.equal(b.ranker.config.layout, 'user-item-v1');
      assert.deepEqual(Buffer.from(b.userTower), await fs.readFile(path.join(good, 'user_tower.onnx')));
    });

    it('loading leaves the bundle unchanged', async () => {
      assert.deepEqual(await hashTree(good), goodHashes);
    });

    it('loads with verifyChecksums: false', async () => {
      const again = await loadBundle(good, { verifyChecksums: false, buildIndex: false });
      assert.equal(again.items.n, cfg.items);
    });
  });

  describe('rejects a broken bundle with a BundleError naming the file and the problem', () => {
    it('manifest.json missing', async () => {
      const b = await brokenCopy((x) => fs.rm(path.join(x, 'manifest.json')));
      await rejects(b, 'manifest.json', /missing/);
    });

    it('manifest.json not JSON', async () => {
      const b = await brokenCopy((x) => fs.writeFile(path.join(x, 'manifest.json'), '{"formatVersion": 1,'));
      await rejects(b, 'manifest.json', /not valid JSON/);
    });

    it('a listed file missing', async () => {
      const b = await brokenCopy((x) => fs.rm(path.join(x, 'item_bias.npy')));
      await rejects(b, 'item_bias.npy', /listed in manifest\.json but missing/);
    });

    it('a required file missing from disk and manifest', async () => {
      const b = await brokenCopy(async (x) => {
        await fs.rm(path.join(x, 'ranker.json'));
        await editManifest(x, (m) => delete m.files['ranker.json']);
      });
      await assert.rejects(loadBundle(b), (err: unknown) => {
        assert.ok(err instanceof BundleError);
        assert.match(err.message, /ranker\.json/);
        return true;
      });
    });

    it('an index refine that is not 0 or a number in [1, 64]', async () => {
      for (const bad of [-1, 0.5, 65, '2']) {
        const b = await brokenCopy((x) => editManifest(x, (m) => ((m.index as { refine?: unknown }).refine = bad)));
        await rejects(b, 'manifest.json', /"index\.refine" must be 0 or a number in \[1, 64\]/);
      }
      const ok = await brokenCopy((x) => editManifest(x, (m) => (m.index.refine = 1.5)));
      assert.equal((await loadBundle(ok, { buildIndex: false })).manifest.index.refine, 1.5);
    });

    it('a model precision that is not a precision setting', async () => {
      const b = await brokenCopy((x) => editManifest(x, (m) => ((m.models.ranker as { precision?: string }).precision = 'fp16')));
      await rejects(b, 'manifest.json', /"models\.ranker\.precision" must be one of "auto", "fp32", "bf16", "int8", got "fp16"/);
      const ok = await brokenCopy((x) => editManifest(x, (m) => (m.models.preranker.precision = 'int8')));
      assert.equal((await loadBundle(ok, { buildIndex: false })).manifest.models.preranker.precision, 'int8');
    });

    it('an extra file', async () => {
      const b = await brokenCopy((x) => fs.writeFile(path.join(x, 'notes.txt'), 'hello\n'));
      await rejects(b, 'notes.txt', /not listed in manifest\.json/);
    });

    it('a checksum mismatch (same size)', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'item_embeddings.npy');
        const buf = await fs.readFile(f);
        buf[buf.length - 4] ^= 1; // lowest mantissa bit of the last value
        await fs.writeFile(f, buf);
      });
      await rejects(b, 'item_embeddings.npy', /checksum/);
      // Without checksum verification the (still valid) file loads.
      const loaded = await loadBundle(b, { verifyChecksums: false, buildIndex: false });
      assert.equal(loaded.items.n, cfg.items);
    });

    it('a size mismatch', async () => {
      const b = await brokenCopy((x) => fs.appendFile(path.join(x, 'items.jsonl'), '\n'));
      const bytes = (await fs.stat(path.join(good, 'items.jsonl'))).size;
      await rejects(b, 'items.jsonl', new RegExp(`has ${bytes + 1} bytes, manifest\\.json says ${bytes}`));
    });

    it('embeddings with the wrong dim', async () => {
      const b = await brokenCopy(async (x) => {
        await writeNpyFloat32(path.join(x, 'item_embeddings.npy'), [cfg.items, d / 2], new Float32Array((cfg.items * d) / 2).fill(0.25));
        await refresh(x, 'item_embeddings.npy');
      });
      await rejects(b, 'item_embeddings.npy', new RegExp(`shape \\(${cfg.items}, ${d / 2}\\), expected \\(${cfg.items}, ${d}\\)`));
    });

    it('embeddings with the wrong row count', async () => {
      const b = await brokenCopy(async (x) => {
        const m = await readNpyFloat32(path.join(x, 'item_embeddings.npy'));
        await writeNpyFloat32(path.join(x, 'item_embeddings.npy'), [cfg.items - 1, d], m.data.subarray(0, (cfg.items - 1) * d));
        await refresh(x, 'item_embeddings.npy');
      });
      await rejects(b, 'item_embeddings.npy', /shape/);
    });

    it('a NaN in the embeddings', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'item_embeddings.npy');
        const m = await readNpyFloat32(f);
        m.data[7 * d + 3] = NaN;
        await writeNpyFloat32(f, m.shape, m.data);
        await refresh(x, 'item_embeddings.npy');
      });
      await rejects(b, 'item_embeddings.npy', new RegExp(`NaN or Inf at position ${7 * d + 3}`));
    });

    it('an Inf in the popularity bias', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'item_bias.npy');
        const m = await readNpyFloat32(f);
        m.data[11] = Infinity;
        await writeNpyFloat32(f, m.shape, m.data);
        await refresh(x, 'item_bias.npy');
      });
      await rejects(b, 'item_bias.npy', /NaN or Inf/);
    });

    it('a NaN in a ranker weight tensor', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'ranker.safetensors');
        const { tensors, metadata } = await readSafetensors(f);
        tensors.get('mlp.1.weight')!.data[5] = NaN;
        await writeSafetensors(f, tensors, metadata);
        await refresh(x, 'ranker.safetensors');
      });
      await rejects(b, 'ranker.safetensors', /tensor "mlp\.1\.weight" has a NaN/);
    });

    it('a missing tensor', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'preranker.safetensors');
        const { tensors, metadata } = await readSafetensors(f);
        tensors.delete('heads.bias');
        await writeSafetensors(f, tensors, metadata);
        await refresh(x, 'preranker.safetensors');
      });
      await rejects(b, 'preranker.safetensors', /tensor "heads\.bias" is missing/);
    });

    it('a tensor of the wrong size', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'ranker.safetensors');
        const { tensors, metadata } = await readSafetensors(f);
        const t = tensors.get('cross.1.bias')!;
        tensors.set('cross.1.bias', { shape: [t.data.length - 1], data: t.data.subarray(0, t.data.length - 1) });
        await writeSafetensors(f, tensors, metadata);
        await refresh(x, 'ranker.safetensors');
      });
      await rejects(b, 'ranker.safetensors', /cross/);
    });

    it('an embedding value beyond the magnitude bound (finite, but it overflows the models)', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'item_embeddings.npy');
        const m = await readNpyFloat32(f);
        m.data.fill(3e38, 7 * d, 8 * d);
        await writeNpyFloat32(f, m.shape, m.data);
        await refresh(x, 'item_embeddings.npy');
      });
      await rejects(b, 'item_embeddings.npy', new RegExp(`item "${itemId(7)}" \\(row 7\\): embedding\\[0\\] = .* exceeds the magnitude bound`));
    });

    it('a popularity bias beyond the magnitude bound', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'item_bias.npy');
        const m = await readNpyFloat32(f);
        m.data[11] = -1e20;
        await writeNpyFloat32(f, m.shape, m.data);
        await refresh(x, 'item_bias.npy');
      });
      await rejects(b, 'item_bias.npy', new RegExp(`item "${itemId(11)}" \\(row 11\\): bias = .* exceeds the magnitude bound`));
    });

    it('a price beyond the bound', async () => {
      const b = await brokenCopy(async (x) => {
        await editLines(x, 'items.jsonl', (lines) => {
          const it = JSON.parse(lines[4]) as Record<string, unknown>;
          it.price = 1e300;
          lines[4] = JSON.stringify(it);
        });
        await refresh(x, 'items.jsonl');
      });
      await rejects(b, 'items.jsonl', new RegExp(`line 5 \\(item "${itemId(4)}"\\): "price" must be a positive number of at most`));
    });

    it('a duplicate item id', async () => {
      const b = await brokenCopy(async (x) => {
        await editLines(x, 'items.jsonl', (lines) => {
          lines[9] = lines[9].replace(itemId(9), itemId(2));
        });
        await refresh(x, 'items.jsonl');
      });
      await rejects(b, 'items.jsonl', new RegExp(`line 10: duplicate item id "${itemId(2)}" \\(first on line 3\\)`));
    });

    it('a bad created_at', async () => {
      const b = await brokenCopy(async (x) => {
        await editLines(x, 'items.jsonl', (lines) => {
          const it = JSON.parse(lines[5]) as Record<string, unknown>;
          it.created_at = 'last tuesday';
          lines[5] = JSON.stringify(it);
        });
        await refresh(x, 'items.jsonl');
      });
      await rejects(b, 'items.jsonl', /line 6: "created_at" must be an ISO time/);
    });

    it('fewer items than itemCount', async () => {
      const b = await brokenCopy(async (x) => {
        await editLines(x, 'items.jsonl', (lines) => {
          lines.splice(100, 1);
        });
        await refresh(x, 'items.jsonl');
      });
      await rejects(b, 'items.jsonl', new RegExp(`has ${cfg.items - 1} items, manifest\\.json says itemCount = ${cfg.items}`));
    });

    it('an unknown objective name in defaultWeights', async () => {
      const b = await brokenCopy((x) => editManifest(x, (m) => (m.defaultWeights.home.likes = 1)));
      await rejects(b, 'manifest.json', /defaultWeights\.home names unknown objective "likes"/);
    });

    it('a wrong formatVersion', async () => {
      const b = await brokenCopy((x) => editManifest(x, (m) => (m.formatVersion = 2)));
      await rejects(b, 'manifest.json', /"formatVersion" must be 1, got 2/);
    });

    it('ranker heads != objective count (ranker.json)', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'ranker.json');
        const c = await readJson<{ shape: { heads: number } }>(f);
        c.shape.heads = 3;
        await writeJson(f, c);
        await refresh(x, 'ranker.json');
      });
      await rejects(b, 'ranker.json', /ranker has 3 heads, manifest\.json has 4 objectives/);
    });

    it('ranker heads != objective count (an objective added to manifest.json)', async () => {
      const b = await brokenCopy((x) => editManifest(x, (m) => m.objectives.push('share')));
      await rejects(b, 'ranker.json', /ranker has 4 heads, manifest\.json has 5 objectives/);
    });

    // readModel passes the config's shape to tensorNames() unchecked: a shape
    // without "mlp" throws a TypeError instead of a BundleError.
    it('a model config whose shape has no "mlp"', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'preranker.json');
        const c = await readJson<{ shape: Record<string, unknown> }>(f);
        delete c.shape.mlp;
        await writeJson(f, c);
        await refresh(x, 'preranker.json');
      });
      await rejects(b, 'preranker.json', /mlp/);
    });

    it('a user tower missing an input', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'user_tower.onnx');
        const model = onnx.ModelProto.decode(await fs.readFile(f));
        const graph = model.graph!;
        const inputs = graph.input ?? [];
        assert.ok(inputs.some((i) => i.name === 'age_days'));
        graph.input = inputs.filter((i) => i.name !== 'age_days');
        await fs.writeFile(f, onnx.ModelProto.encode(model).finish());
        await refresh(x, 'user_tower.onnx');
      });
      await rejects(b, 'user_tower.onnx', /has no input "age_days"/);
    });

    it('a user tower that is not ONNX', async () => {
      const b = await brokenCopy(async (x) => {
        await fs.writeFile(path.join(x, 'user_tower.onnx'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]));
        await refresh(x, 'user_tower.onnx');
      });
      await assert.rejects(loadBundle(b), (err: unknown) => err instanceof BundleError && err.file === 'user_tower.onnx');
    });

    it('index.faiss with a different ntotal', async () => {
      const b = await brokenCopy(async (x) => {
        const m = await readNpyFloat32(path.join(x, 'item_embeddings.npy'));
        const index = await buildIndex(m.data.subarray(0, (cfg.items - 1) * d), d, { factory: 'Flat', metric: 'ip', progress: false });
        await index.write(path.join(x, INDEX_FILE));
        await refresh(x, INDEX_FILE);
      });
      await rejects(b, INDEX_FILE, new RegExp(`holds ${cfg.items - 1} vectors, manifest\\.json says itemCount = ${cfg.items}`));
    });

    it('index.faiss with a different dim', async () => {
      const b = await brokenCopy(async (x) => {
        const index = await buildIndex(new Float32Array(cfg.items * 8).fill(0.5), 8, { factory: 'Flat', metric: 'ip', progress: false });
        await index.write(path.join(x, INDEX_FILE));
        await refresh(x, INDEX_FILE);
      });
      await rejects(b, INDEX_FILE, new RegExp(`has dim 8, manifest\\.json says ${d}`));
    });

    // openIndex checks dim and ntotal but not the metric: an L2 index in a
    // bundle whose manifest says "ip" loads, and retrieval then ranks by
    // distance (lower is better) where the engine expects inner products.
    it('index.faiss with a different metric than the manifest', async () => {
      const b = await brokenCopy(async (x) => {
        const m = await readNpyFloat32(path.join(x, 'item_embeddings.npy'));
        const index = await buildIndex(m.data, d, { factory: 'Flat', metric: 'l2', progress: false });
        await index.write(path.join(x, INDEX_FILE));
        await refresh(x, INDEX_FILE);
      });
      await rejects(b, INDEX_FILE, /metric/);
    });

    it('index.faiss that is not an index', async () => {
      const b = await brokenCopy(async (x) => {
        await fs.writeFile(path.join(x, INDEX_FILE), 'not a faiss index');
        await refresh(x, INDEX_FILE);
      });
      await rejects(b, INDEX_FILE, /cannot be read/);
    });
  });

  describe('index.faiss absent', () => {
    async function withoutIndex(): Promise<string> {
      return brokenCopy(async (x) => {
        await fs.rm(path.join(x, INDEX_FILE));
        await editManifest(x, (m) => delete m.files[INDEX_FILE]);
      });
    }

    it('loadBundle builds it, writes it back and records it in manifest.json; a second load finds it', async () => {
      const b = await withoutIndex();
      const first = await loadBundle(b);
      assert.equal(first.index.ntotal, cfg.items);
      assert.match(first.index.kind, /^ivf/);
      const m = await readJson<Manifest>(path.join(b, 'manifest.json'));
      assert.ok(INDEX_FILE in m.files, 'manifest.json lists index.faiss');
      assert.deepEqual(m.files[INDEX_FILE], await fileEntry(path.join(b, INDEX_FILE)));
      assert.equal(m.index.factory, FACTORY);
      // The second load reads the file (building is not allowed) and verifies its checksum.
      const second = await loadBundle(b, { buildIndex: false });
      assert.equal(second.index.ntotal, cfg.items);
      assert.equal(second.index.kind, first.index.kind);
      // The rebuilt index answers like the original one.
      const q = first.embeddings.subarray(42 * d, 43 * d);
      const r1 = await second.index.search(q, { k: 5, nprobe: 16 });
      assert.equal(r1.ids[0], 42n);
      assert.equal((await cli('validate', b)).code, 0);
    });

    it('with buildIndex: false it fails naming index.faiss', async () => {
      const b = await withoutIndex();
      await rejects(b, INDEX_FILE, /absent/, { buildIndex: false });
      await fs.access(path.join(b, INDEX_FILE)).then(
        () => assert.fail('index.faiss was written'),
        () => undefined,
      );
    });
  });

  describe('CLI (dist/src/bundle/cli.js)', () => {
    it('validate exits 0 on a good bundle', async () => {
      const r = await cli('validate', good);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^ok: .*${cfg.items} items, dim ${d}`));
    });

    it('validate exits non-zero on a broken bundle, naming the file', async () => {
      const b = await brokenCopy(async (x) => {
        const f = path.join(x, 'ranker.safetensors');
        const { tensors, metadata } = await readSafetensors(f);
        tensors.get('heads.weight')!.data[0] = NaN;
        await writeSafetensors(f, tensors, metadata);
        await refresh(x, 'ranker.safetensors');
      });
      const r = await cli('validate', b);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /ranker\.safetensors/);
      assert.match(r.stderr, /NaN/);
    });

    it('validate exits non-zero when index.faiss is absent (it does not build it)', async () => {
      const b = await brokenCopy(async (x) => {
        await fs.rm(path.join(x, INDEX_FILE));
        await editManifest(x, (m) => delete m.files[INDEX_FILE]);
      });
      const r = await cli('validate', b);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /index\.faiss/);
    });

    it('info prints JSON with items and embeddingDim', async () => {
      const r = await cli('info', good);
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse(r.stdout) as { items: number; embeddingDim: number; objectives: string[]; index: { factory: string }; files: Record<string, string> };
      assert.equal(info.items, cfg.items);
      assert.equal(info.embeddingDim, d);
      assert.deepEqual(info.objectives, [...OBJECTIVES]);
      assert.equal(info.index.factory, FACTORY);
      assert.ok(INDEX_FILE in info.files);
    });

    it('build-index --factory Flat rewrites the index: validate still passes, info shows the new factory', async () => {
      const b = await brokenCopy(async () => undefined);
      const before = await fileEntry(path.join(b, INDEX_FILE));
      const r = await cli('build-index', b, '--factory', 'Flat');
      assert.equal(r.code, 0, r.stderr);
      const after = await fileEntry(path.join(b, INDEX_FILE));
      assert.notEqual(after.sha256, before.sha256);
      const v = await cli('validate', b);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /index flat \(3000\)/);
      const info = JSON.parse((await cli('info', b)).stdout) as { index: { factory: string; metric: string } };
      assert.equal(info.index.factory, 'Flat');
      assert.equal(info.index.metric, 'ip');
      const loaded = await loadBundle(b, { buildIndex: false });
      assert.equal(loaded.index.kind, 'flat');
      assert.equal(loaded.index.ntotal, cfg.items);
      await assert.rejects(fs.access(path.join(b, `${INDEX_FILE}.tmp`)));
    });

    it('build-index --factory IVF16,SQfp16 --nprobe 5: the SIMD scalar-quantizer index, and the manifest\'s nprobe', async () => {
      const b = await brokenCopy(async () => undefined);
      const r = await cli('build-index', b, '--factory', 'IVF16,SQfp16', '--nprobe', '5');
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse((await cli('info', b)).stdout) as { index: { factory: string; nprobe?: number } };
      assert.deepEqual([info.index.factory, info.index.nprobe], ['IVF16,SQfp16', 5]);
      const loaded = await loadBundle(b, { buildIndex: false });
      assert.equal(loaded.index.kind, 'ivf-sq-simd');
      assert.equal(loaded.index.ntotal, cfg.items);
      const bad = await cli('build-index', b, '--nprobe', '0');
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /--nprobe must be an integer >= 1/);
    });

    it('exits non-zero with the usage on an unknown command or a missing directory', async () => {
      const r = await cli('frobnicate', good);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /unknown command/);
      const r2 = await cli('validate', path.join(dir, 'no-such-dir'));
      assert.notEqual(r2.code, 0);
      assert.match(r2.stderr, /manifest\.json/);
    });
  });
});
