// The learning loop's smallest run: a simulation over a small world, the
// two-tower model, the ranker and the pre-ranker trained from its logs
// (PyTorch, one epoch) with a time split, and the trained bundle loaded,
// validated and serving; the native DCN-v2s and the ONNX user tower agree
// with PyTorch.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadBundle } from '../../src/bundle/loader';
import { ensembleScores } from '../../src/models/ensemble';
import { Engine } from '../../src/pipeline/engine';
import { DEFAULT_RANK } from '../../src/pipeline/options';
import { simulate } from '../../tools/simulate';
import { findPython, train } from '../../tools/train/cli';
import { ENGINE_OPTIONS, TEST_WORLD } from '../api/harness';


describe('train: the ranker from the logs', function () {
  this.timeout(300_000);
  let dir: string;
  let python: string | null = null;
  before(async function () {
    python = findPython();
    if (!python) {
      if (process.env.CI === 'true') throw new Error('python3-torch is not installed (scripts/install-system-deps.sh installs it)');
      this.skip();
    }
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'train-'));
  });
  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('the trainer\'s own unit tests pass (python3 -m unittest: shapes, the position branch, the safetensors writer)', () => {
    const r = spawnSync(python!, ['-B', '-m', 'unittest', 'discover', '-s', path.join(__dirname, '..', '..', '..', 'train'), '-p', 'test_*.py'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Ran \d+ tests/);
  });

  it('simulate, train one epoch, and serve the trained bundle', async () => {
    const logs = path.join(dir, 'sim');
    await simulate({ root: path.join(dir, 'world'), world: TEST_WORLD, out: logs, days: 1, sessionsPerDay: 200, seed: 5, examPower: 0.7, epsilon: 0.1, results: 20 });
    const out = path.join(dir, 'trained');
    const until = Date.parse(TEST_WORLD.referenceTime) + 12 * 3_600_000;
    const r = await train({ logs, bundle: path.join(dir, 'world', 'bundle'), out, epochs: 1, seed: 1, position: true, ensemble: [8], twoTower: true, ablation: true, until, preranker: 'hap', python: python! });
    assert.ok(r.data.pages > 50 && r.data.pages < 150, `only the pages before --until: ${r.data.pages} of 200`);
    assert.equal(r.data.rows, r.data.pages * 20);
    assert.ok(r.data.positives.click > 0);
    assert.ok(r.parityMaxError <= 1e-5, `native vs PyTorch ${r.parityMaxError}`);
    assert.ok(r.ensembleParityMaxError !== undefined && r.ensembleParityMaxError <= 1e-5, `ensemble vs PyTorch ${r.ensembleParityMaxError}`);
    const bundle = await loadBundle(out, { progress: false, verifyChecksums: true });
    assert.match(bundle.manifest.version, /\+trained\./);
    const source = await loadBundle(path.join(dir, 'world', 'bundle'), { progress: false });
    assert.notDeepEqual(Array.from(bundle.ranker.weights.heads.bias), Array.from(source.ranker.weights.heads.bias), 'the ranker was trained');
    // The two-tower model: a new ONNX tower agreeing with PyTorch, new item embeddings, an index over them.
    const tt = r.twoTower!;
    assert.ok(tt.data.train > 0 && tt.data.heldOut > 0, `engagements before and after --until: ${tt.data.train}, ${tt.data.heldOut}`);
    assert.ok(tt.parityMaxError <= 1e-5, `ONNX vs PyTorch ${tt.parityMaxError}`);
    assert.notDeepEqual(Buffer.from(bundle.userTower), Buffer.from(source.userTower), 'the user tower was trained');
    assert.ok(bundle.embeddings.some((v, i) => Math.abs(v - source.embeddings[i]) > 1e-4), 'the item embeddings were trained');
    const d = bundle.manifest.embeddingDim;
    for (let i = 0; i < bundle.items.n; i += 97) {
      const row = bundle.embeddings.subarray(i * d, (i + 1) * d);
      assert.ok(Math.abs(Math.hypot(...row) - 1) < 1e-4, `item ${i}'s embedding is a unit vector`);
    }
    const hit = await bundle.index.search(bundle.embeddings.subarray(0, d), { k: 1 });
    assert.equal(hit.ids[0], 0n, 'the index holds the trained embeddings');
    // The strong pre-ranker, trained the HAP way (and a plain one, compared offline).
    assert.notDeepEqual(Array.from(bundle.preranker.weights.heads.bias), Array.from(source.preranker.weights.heads.bias), 'the pre-ranker was trained');
    assert.match(JSON.stringify(JSON.parse(await fs.readFile(path.join(out, bundle.manifest.models.preranker.config), 'utf8'))), /HAP/);
    const kept = r.preranker!.teacherTop50Kept;
    for (const v of [kept.light, kept.plain, kept.hap, kept.teacher]) assert.ok(v > 0 && v <= 1, `a share of the teacher's top 50: ${v}`);
    const rc = tt.recall!;
    assert.equal(rc.n, tt.data.heldOut);
    for (const side of [rc.trained, rc.source, rc.frozen!]) {
      assert.ok(side[20].mean <= side[100].mean && side[100].mean <= side[500].mean && side[500].mean <= 1, 'Recall@K grows with K');
    }
    assert.deepEqual(bundle.ensemble?.hidden, [8]);
    const engine = await Engine.create(bundle, { ...ENGINE_OPTIONS });
    try {
      const weights = Float32Array.from(bundle.manifest.objectives, () => 1);
      const request = (ensemble: 'weighted' | 'learned') => ({
        requestId: 't',
        userId: 'user-000003',
        surface: 'home',
        device: 'mobile' as const,
        recentActions: [],
        numResults: 10,
        weights,
        options: { ...DEFAULT_RANK, exploration: 'none' as const, diversity: 'none' as const, calibration: 0, ensemble, exclude: new Set<number>(), seed: 1 },
        debug: false,
        deadline: Infinity,
      });
      const page = await engine.rank(request('weighted'));
      assert.equal(page.items.length, 10);
      assert.ok(page.items.every((it) => it.objectives.every((p) => p > 0 && p < 1)));
      const learned = await engine.rank(request('learned'));
      for (const it of learned.items) {
        const want = ensembleScores(bundle.ensemble!, it.objectives, weights, 1)[0];
        assert.ok(Math.abs(it.score - want) < 1e-5, `the page is scored by the learned ensemble: ${it.score} vs ${want}`);
      }
    } finally {
      await engine.close();
    }
    const curve = JSON.parse(await fs.readFile(path.join(dir, 'trained.train-summary.json'), 'utf8')) as { positionLogExam: number[] };
    assert.equal(curve.positionLogExam.length, 20, 'a learned examination per position');
  });
});
