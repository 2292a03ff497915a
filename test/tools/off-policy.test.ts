// Off-policy estimates from the impression log (tools/off-policy.ts): the
// placement ratios of an epsilon change, IPS and SNIPS on hand-made pages,
// and a small loop (simulate, estimate, simulate the target) end to end.
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { estimate, LoggedPage, offPolicy, placementRatio } from '../../tools/off-policy';
import { TEST_WORLD } from '../api/harness';

describe('off-policy estimates from the impression log', function () {
  this.timeout(180_000);

  it('placement ratios of another epsilon: organic where the mix drew, exploration picks, and places with no draw', () => {
    assert.equal(placementRatio(1, false, 0.3, 0.1), 1);
    assert.ok(Math.abs(placementRatio(0.7, false, 0.3, 0.1) - 0.9 / 0.7) < 1e-12);
    assert.ok(Math.abs(placementRatio(0.3 * 0.25, true, 0.3, 0.1) - 1 / 3) < 1e-12);
    assert.equal(placementRatio(0.3 * 0.25, true, 0.3, 0), 0);
  });

  it('IPS and SNIPS on hand-made pages', () => {
    // Two positions; logging epsilon 0.5, target 0 (never explore).
    const pages: LoggedPage[] = [
      { propensity: [1, 0.5], explored: [false, false], clicks: [1, 1] }, // organic at 2: weight 2
      { propensity: [1, 0.25], explored: [false, true], clicks: [0, 1] }, // a pick at 2: weight 0
    ];
    const e = estimate(pages, 0.5, 0, 50);
    // IPS: position 1: (1 + 0) / 2 = 0.5; position 2: (2 x 1 + 0 x 1) / 2 = 1.
    assert.ok(Math.abs(e.ips - 1.5) < 1e-12, String(e.ips));
    // SNIPS: position 1: 1 / 2; position 2: 2 / (2 + 0) = 1.
    assert.ok(Math.abs(e.snips - 1.5) < 1e-12, String(e.snips));
    const same = estimate(pages, 0.5, 0.5, 50);
    assert.ok(Math.abs(same.ips - 1.5) < 1e-12 && Math.abs(same.snips - 1.5) < 1e-12, 'the logging policy itself: the mean clicks per page');
    assert.ok(e.ipsCi[0] <= e.ips && e.ips <= e.ipsCi[1] + 1e-12);
  });

  it('end to end: the logging policy\'s estimate is its observed value; another policy is simulated for its true value', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'off-policy-'));
    try {
      const rows = await offPolicy({ root: path.join(dir, 'world'), world: TEST_WORLD, out: path.join(dir, 'out'), sessions: 150, logEpsilon: 0.4, targets: [0.4, 0], seed: 2 });
      assert.equal(rows.length, 2);
      assert.ok(Math.abs(rows[0].estimate.ips - rows[0].truth) < 1e-12, 'the logging policy: IPS is the observed mean');
      assert.ok(rows[0].truth > 0 && Number.isFinite(rows[1].truth) && Number.isFinite(rows[1].estimate.snips));
      assert.ok((await fs.readdir(path.join(dir, 'out'))).includes('truth-eps-0'));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
