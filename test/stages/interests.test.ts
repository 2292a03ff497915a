// Several interests end to end in the engine: a user whose actions span three
// categories gets one interest vector per category, one search each, and a
// calibrated top 20 holding all three; a one-category user gets exactly the
// page of the single-vector cascade.
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { loadBundle } from '../../src/bundle/loader';
import type { Bundle } from '../../src/bundle/loader';
import { ACTION } from '../../src/models/schema';
import { Engine } from '../../src/pipeline/engine';
import { ENGINE_DEFAULTS } from '../../src/pipeline/options';
import type { RankInput } from '../../src/pipeline/request';
import { plainRankInput } from '../pipeline/rank-input';
import { makeWorld, smallConfig, tmpDir } from '../tools/world/helpers';

describe('engine: several interests (retrieval per interest, calibrated page)', function () {
  this.timeout(120_000);
  let root: string;
  let bundle: Bundle;
  let engine: Engine;

  before(async () => {
    root = await tmpDir('rank-interests-');
    await makeWorld(smallConfig({ items: 3000, users: 50, dim: 32 }), root);
    bundle = await loadBundle(path.join(root, 'bundle'));
    engine = await Engine.create(bundle, { ...ENGINE_DEFAULTS, clock: 'bundle' });
  });
  after(async () => {
    await engine?.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  /** The first `n` rows of category `c` (in-session clicks of a user the store has never seen). */
  const rowsOf = (c: number, n: number) => Array.from(bundle.items.category.keys()).filter((r) => bundle.items.category[r] === c).slice(0, n);
  const request = (id: string, rows: number[], over: Partial<RankInput['options']> = {}): RankInput => {
    const input = plainRankInput(bundle, id);
    const now = engine.now();
    return {
      ...input,
      debug: true,
      recentActions: rows.map((row, i) => ({ row, action: ACTION.click, ts: now - (rows.length - i) * 60_000 })),
      options: { ...input.options, ...over },
    };
  };
  const categoryOf = (row: number) => bundle.items.category[row];

  it('searches once per interest and serves all three categories in the top 20, each item saying which interest found it', async () => {
    const cats = [0, 1, 2];
    const rows = [...rowsOf(0, 9), ...rowsOf(1, 7), ...rowsOf(2, 5)];
    const out = await engine.rank(request('three-interests', rows));
    const retrieval = out.stages.find((s) => s.stage === 'retrieval')!;
    assert.match(retrieval.note, /ann over 3 interests/);
    assert.match(out.stages.find((s) => s.stage === 'user_embedding')!.note, /3 interests/);
    const page = out.items.map((it) => categoryOf(it.row));
    for (const c of cats) assert.ok(page.includes(c), `category ${c} on the page: ${page.join(',')}`);
    // Interest q >= 2 (1-based, largest first; its vector is the tower over
    // its own actions) found only items of category q - 1; interest 1 is the
    // user's own vector, mostly category 0.
    for (const it of out.items.filter((x) => x.interest! > 1)) assert.equal(categoryOf(it.row), it.interest! - 1, `item ${it.row} from interest ${it.interest}`);
    const first = out.items.filter((x) => x.interest === 1).map((it) => categoryOf(it.row));
    assert.ok(first.filter((c) => c === 0).length > first.length / 2, `interest 1 found categories ${first.join(',')}`);
    assert.ok(new Set(out.items.map((it) => it.interest).filter((q) => q! > 0)).size >= 2, 'the page holds items of several interests');
  });

  it('without calibration and interests, the same user gets a one-category page', async () => {
    const rows = [...rowsOf(0, 9), ...rowsOf(1, 7), ...rowsOf(2, 5)];
    const out = await engine.rank(request('three-interests-off', rows, { maxInterests: 1, calibration: 0 }));
    const page = out.items.map((it) => categoryOf(it.row));
    assert.ok(new Set(page).size < 3, `the single vector covers fewer categories: ${page.join(',')}`);
    assert.ok(out.items.every((it) => it.interest === 0));
  });

  it('serves a one-category user exactly the single-vector page', async () => {
    const rows = rowsOf(4, 12);
    const multi = await engine.rank(request('one-interest', rows));
    const single = await engine.rank(request('one-interest', rows, { maxInterests: 1 }));
    assert.deepEqual(
      multi.items.map((it) => [it.row, it.score]),
      single.items.map((it) => [it.row, it.score]),
    );
    assert.doesNotMatch(multi.stages.find((s) => s.stage === 'retrieval')!.note, /interests/);
  });
});
