// The served-impression log (--impression-log): one line per logged Rank
// with what was served, each item's stage scores, objective probabilities and
// the policy's propensity; the sample share holds; the response is the same
// as without the log.
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ImpressionRecorder } from '../../src/api/impressions';
import { StageOptions } from '../../src/client';
import { createMetrics } from '../../src/metrics/metrics';
import { LoggedImpression, openImpressionLog, parseImpression } from '../../src/state/impression-log';
import { Harness, silentLogger, startHarness } from './harness';

const EXPLORE: StageOptions = { exploration: 'EXPLORATION_METHOD_EPSILON_GREEDY', exploration_epsilon: 0.3, exploration_start: 3, diversity: 'DIVERSITY_METHOD_NONE' };

async function readLog(dir: string): Promise<LoggedImpression[]> {
  const out: LoggedImpression[] = [];
  for (const f of (await fs.readdir(dir)).sort()) {
    for (const line of (await fs.readFile(path.join(dir, f), 'utf8')).split('\n')) if (line) out.push(parseImpression(line)!);
  }
  return out;
}

describe('impression log: what each logged Rank served, with propensities', function () {
  this.timeout(120_000);
  let h: Harness;
  let dir: string;
  let recorder: ImpressionRecorder;
  const metrics = createMetrics({ defaultMetrics: false });
  let sample = 1;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'impressions-'));
    const log = await openImpressionLog({ dir, segmentRecords: 25 });
    recorder = new ImpressionRecorder(log, 1, metrics, silentLogger);
    // The share is read per call: the tests change it.
    Object.defineProperty(recorder, 'sample', { get: () => sample });
    h = await startHarness({}, { impressions: recorder });
  });
  after(async () => {
    await h?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('one line per Rank: the page as served, with each item\'s stage scores, objective probabilities and propensity', async () => {
    const responses = [];
    for (let i = 0; i < 40; i++) responses.push(await h.client.rank({ user_id: `user-0000${10 + (i % 20)}`, num_results: 10, options: { ...EXPLORE, seed: i + 1 } }));
    await recorder.close(); // flushes
    const lines = await readLog(dir);
    assert.equal(lines.length, 40);
    assert.ok((await fs.readdir(dir)).length >= 2, 'segments rotate');
    let explored = 0;
    for (const [i, res] of responses.entries()) {
      const line = lines.find((l) => l.id === res.request_id)!;
      assert.ok(line, `request ${res.request_id} is logged`);
      assert.deepEqual(line.items.map((it) => it.item), res.items.map((it) => it.item_id), 'the page as served');
      assert.equal(line.user, `user-0000${10 + (i % 20)}`);
      assert.deepEqual(line.objectives, [...h.bundle.manifest.objectives]);
      assert.equal(line.exploration, 'epsilon-greedy');
      assert.equal(res.items[0].stage_scores.length, 0, 'the response does not carry the logged stage scores (no debug)');
      for (const it of line.items) {
        assert.equal(it.p.length, line.objectives.length);
        assert.ok(Object.keys(it.stages).length >= 2, `stage scores of ${it.item}: ${JSON.stringify(it.stages)}`);
        assert.ok(it.propensity > 0 && it.propensity <= 1, `propensity ${it.propensity}`);
        if (it.explored) {
          explored++;
          assert.ok(it.propensity <= 0.3 + 1e-6, `an exploration pick's propensity is at most epsilon: ${it.propensity}`);
        } else if (it.pos < 3) assert.equal(it.propensity, 1, 'before exploration_start: 1');
      }
      assert.ok(line.items.some((it) => !it.explored && it.pos >= 3 && Math.abs(it.propensity - 0.7) < 1e-6) || line.items.every((it) => it.explored || it.pos < 3 || it.propensity === 1));
    }
    assert.ok(explored > 0, 'some exploration picks were logged');
    assert.equal(await metrics.impressionsLogged.get().then((m) => m.values.find((v) => v.labels.result === 'written')?.value), 40);
  });

  it('a line holds each served item\'s ranker input: the logged user features with the item\'s row at the line\'s time give back its objective probabilities', async () => {
    const log = await openImpressionLog({ dir });
    Object.assign(recorder, { log });
    const res = await h.client.rank({ user_id: 'user-000040', num_results: 8, options: { exploration: 'EXPLORATION_METHOD_NONE' } });
    await log.close();
    const line = (await readLog(dir)).find((l) => l.id === res.request_id)!;
    assert.equal(line.layout, h.bundle.manifest.features.layout);
    const buf = Buffer.from(line.uf!, 'base64');
    const uf = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const rows = Int32Array.from(line.items, (it) => h.engine.catalog.rowOf.get(it.item)!);
    const p = await h.engine.pool.score('ranker', uf, rows, line.ts);
    const H = line.objectives.length;
    line.items.forEach((it, i) => {
      for (let o = 0; o < H; o++) assert.ok(Math.abs(p[i * H + o] - it.p[o]) < 1e-6, `${it.item} ${line.objectives[o]}: ${p[i * H + o]} vs logged ${it.p[o]}`);
    });
  });

  it('the sample share: about that share of Ranks is logged', async () => {
    const log = await openImpressionLog({ dir });
    Object.assign(recorder, { log });
    const before = (await readLog(dir)).length;
    sample = 0.3;
    for (let i = 0; i < 300; i++) await h.client.rank({ user_id: 'user-000031', num_results: 5 });
    sample = 0;
    for (let i = 0; i < 50; i++) await h.client.rank({ user_id: 'user-000031', num_results: 5 });
    await log.close();
    const logged = (await readLog(dir)).length - before;
    // Binomial(300, 0.3): 90 +- 3 sd (24).
    assert.ok(logged >= 66 && logged <= 114, `${logged} of 300 logged at 0.3`);
  });
});

describe('impression log files: written, never read back', () => {
  it('a reopened log appends to its newest segment without reading the older ones; a torn last line is cut', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'impressions-reopen-'));
    try {
      const line = (id: string): LoggedImpression => ({ id, ts: 1, user: 'u', surface: 's', device: 'app', bundle: 'v', exploration: 'none', epsilon: 0, objectives: [], weights: [], items: [] });
      const a = await openImpressionLog({ dir, segmentRecords: 2 });
      await a.append([line('r1'), line('r2')]); // a full segment: the next goes to a new one
      await a.append([line('r3')]);
      await a.close();
      const files = (await fs.readdir(dir)).sort();
      assert.equal(files.length, 2);
      // A corrupt older segment is never read; a torn newest one is repaired.
      await fs.writeFile(path.join(dir, files[0]), 'not json\n');
      await fs.appendFile(path.join(dir, files[1]), '{"id":"torn');
      const b = await openImpressionLog({ dir, segmentRecords: 2 });
      await b.append([line('r4')]);
      await b.close();
      const newest = (await fs.readFile(path.join(dir, files[1]), 'utf8')).trim().split('\n');
      assert.deepEqual(newest.map((l) => parseImpression(l)?.id), ['r3', 'r4']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
