// The traffic simulator (npm run simulate) on a small world: every session is
// in the engine's impression log and in the events file, users look at the
// top of a page more than its bottom (the position bias), and the log holds
// exploration picks with their propensities.
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { LoggedImpression, parseImpression } from '../../src/state/impression-log';
import { simulate } from '../../tools/simulate';
import { TEST_WORLD } from '../api/harness';

describe('simulate: traffic over a world, through the engine\'s API', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'simulate-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes the impression log and the events of every session, with the position bias of its users', async () => {
    const out = path.join(dir, 'out');
    const s = await simulate({ root: path.join(dir, 'world'), world: TEST_WORLD, out, days: 0.5, sessionsPerDay: 400, seed: 3, examPower: 0.7, epsilon: 0.2, results: 20 });
    assert.equal(s.sessions, 200);
    assert.equal(s.impressions, 200 * 20);
    const logLines: LoggedImpression[] = [];
    for (const f of await fs.readdir(path.join(out, 'impressions'))) {
      for (const l of (await fs.readFile(path.join(out, 'impressions', f), 'utf8')).split('\n')) if (l) logLines.push(parseImpression(l)!);
    }
    assert.equal(logLines.length, 200, 'one logged Rank per session');
    const times = logLines.map((l) => l.ts);
    assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]), 'the engine ran on the simulation\'s clock');
    assert.ok(times[times.length - 1] - times[0] > 6 * 3_600_000, 'half a day of simulated time');
    const explored = logLines.flatMap((l) => l.items.filter((it) => it.explored));
    assert.ok(explored.length > 0 && explored.every((it) => it.propensity > 0 && it.propensity <= 0.2 + 1e-6));
    const events = (await fs.readFile(path.join(out, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { action: string; ts: number });
    const simulated = events.filter((e) => e.ts >= logLines[0].ts);
    assert.equal(simulated.filter((e) => e.action === 'impression').length, 200 * 20);
    assert.equal(simulated.filter((e) => e.action === 'click').length, s.actions.click);
    const top = s.clicksByPosition.slice(0, 3).reduce((a, b) => a + b, 0);
    const bottom = s.clicksByPosition.slice(17).reduce((a, b) => a + b, 0);
    assert.ok(top > 2 * bottom, `clicks on positions 1-3 (${top}) well above 18-20 (${bottom})`);
    const meta = JSON.parse(await fs.readFile(path.join(out, 'simulation.json'), 'utf8')) as { positionBias: number[] };
    assert.equal(meta.positionBias.length, 20);
    assert.ok(Math.abs(meta.positionBias[1] - 2 ** -0.7) < 1e-12);
  });

  it('--weights: every request carries the logging policy\'s objective weights', async () => {
    const out = path.join(dir, 'weights');
    const weights = { click: 0, wishlist: 0, cart: 0, purchase: 1 };
    await simulate({ root: path.join(dir, 'world'), world: TEST_WORLD, out, days: 0.1, sessionsPerDay: 200, seed: 4, examPower: 0.7, epsilon: 0, results: 10, weights });
    const lines: LoggedImpression[] = [];
    for (const f of await fs.readdir(path.join(out, 'impressions'))) {
      for (const l of (await fs.readFile(path.join(out, 'impressions', f), 'utf8')).split('\n')) if (l) lines.push(parseImpression(l)!);
    }
    assert.equal(lines.length, 20);
    for (const l of lines) assert.deepEqual(l.weights, [0, 0, 0, 1], 'the requests were ranked by purchases alone');
    const meta = JSON.parse(await fs.readFile(path.join(out, 'simulation.json'), 'utf8')) as { weights: Record<string, number> };
    assert.deepEqual(meta.weights, weights);
  });
});
