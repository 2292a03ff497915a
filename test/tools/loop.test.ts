// npm run eval:loop at its smallest: a small world, two simulated days, the
// three bundles trained on the first (one epoch), judged on the truth after
// the split, and the off-policy check on small simulations; the report holds
// every section with numbers in range.
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loopLines, runLoop, writeLoopReport } from '../../tools/eval/loop';
import { findPython } from '../../tools/train/cli';
import { simulate } from '../../tools/simulate';
import { TEST_WORLD } from '../api/harness';

describe('eval:loop: the learning loop against the truth, with a time split', function () {
  this.timeout(600_000);
  let dir: string;
  before(async function () {
    if (!findPython()) {
      if (process.env.CI === 'true') throw new Error('python3-torch is not installed (scripts/install-system-deps.sh installs it)');
      this.skip();
    }
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'loop-'));
  });
  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('trains the full bundle and its ablations on the days before the split and scores them after it', async () => {
    const world = path.join(dir, 'world');
    const logs = path.join(dir, 'sim');
    await simulate({ root: world, world: TEST_WORLD, out: logs, days: 2, sessionsPerDay: 120, seed: 3, examPower: 0.7, epsilon: 0.1, results: 20 });
    const r = await runLoop({ world, logs, days: 2, sessionsPerDay: 120, users: 20, epochs: 1, work: path.join(dir, 'work'), offPolicySessions: 60, command: 'test', log: () => undefined });
    assert.equal(r.split, new Date(Date.parse(TEST_WORLD.referenceTime) + 86_400_000).toISOString());
    const lists = r.ranking.map((x) => x.list);
    for (const want of ['source bundle (models from the truth)', 'trained (all models from the logs)', 'trained + learned ensemble', 'trained, no position branch', 'trained, plain pre-ranker', 'popularity', 'random']) assert.ok(lists.includes(want), `a row for ${want}`);
    for (const row of r.ranking) assert.ok(row.ndcg50 > 0 && row.ndcg50 <= 1 && row.ndcg10 > 0 && row.ndcg10 <= 1, `${row.list}: NDCG in (0, 1]`);
    const random = r.ranking.find((x) => x.list === 'random')!;
    const trained = r.ranking.find((x) => x.list.startsWith('trained (all'))!;
    assert.ok(trained.ndcg50 > random.ndcg50, 'the trained cascade beats random');
    assert.ok(r.differences['random'].mean > 0);
    assert.equal(r.noPosition.twoTower?.recall?.n, r.full.twoTower?.recall?.n, 'the same held-out engagements');
    assert.ok(r.full.twoTower!.recall!.frozen, 'the frozen-embedding ablation');
    assert.equal(r.position.positions.length, 20);
    assert.ok(Number.isFinite(r.position.meanAbsError));
    assert.deepEqual(r.offPolicy.rows.map((x) => x.epsilon), [0.3, 0.1, 0]);
    const logged = r.offPolicy.rows[0];
    assert.ok(Math.abs(logged.estimate.ips - logged.truth) < 1e-12, 'the logging policy: IPS is its observed value');
    for (const x of r.offPolicy.rows) assert.ok(x.truth > 0 && Number.isFinite(x.estimate.snips), `epsilon ${x.epsilon}: a true value and an estimate`);
    const files = await writeLoopReport(r, path.join(dir, 'report'));
    const md = await fs.readFile(files.find((f) => f.endsWith('loop.md'))!, 'utf8');
    for (const section of ['## Ranking', '## Retrieval', '## Pre-ranker', '## Position bias', '## Off-policy']) assert.ok(md.includes(section), section);
    for (const svg of files.filter((f) => f.endsWith('.svg'))) assert.match(await fs.readFile(svg, 'utf8'), /^<svg/);
    // As a section of npm run eval's report (--loop): its headings one level down, the plots in loop/.
    const section = loopLines(r, '###', 'loop/').join('\n');
    for (const h of ['### Ranking', '### Retrieval', '### Pre-ranker', '### Position bias']) assert.ok(section.includes(h), h);
    assert.ok(section.includes('](loop/loop-position.svg)') && section.includes('](loop/loop-recall.svg)'), 'the plots named from the report');
  });
});
