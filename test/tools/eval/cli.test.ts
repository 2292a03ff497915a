import assert from 'node:assert/strict';
import * as path from 'node:path';

import { reportDir } from '../../../tools/eval/cli';

describe('eval cli: where the report goes', () => {
  const repo = path.resolve('/srv/ranking-engine');

  it('defaults to the untracked .data/eval, never docs/quality', () => {
    assert.equal(reportDir(repo, undefined, null), path.join(repo, '.data', 'eval'));
    assert.equal(reportDir(repo, undefined, '1m'), path.join(repo, '.data', 'eval', 'world-1m'));
    assert.equal(reportDir(repo, undefined, '20000'), path.join(repo, '.data', 'eval', 'world-20000'));
  });

  it('writes where --out says (docs/quality for the published report)', () => {
    assert.equal(reportDir(repo, 'docs/quality', null), path.resolve('docs/quality'));
    assert.equal(reportDir(repo, '/tmp/report', '1m'), '/tmp/report');
  });
});
