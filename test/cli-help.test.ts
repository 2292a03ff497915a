// Every command-line entry point answers --help (and -h) with a usage text
// that lists its options, on stdout, and exits 0 without doing any work.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { DEFAULTS } from '../src/api/config';

const DIST = path.join(__dirname, '..');
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function help(script: string, flag: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(DIST, script), flag], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const CLIS: { script: string; options: string[] }[] = [
  { script: 'src/main.js', options: Object.keys(DEFAULTS).map((k) => `--${kebab(k)}`).concat('--config', '--help') },
  { script: 'tools/serve-demo.js', options: ['--demo-dir', '--demo-items', '--bundle', '--help'] },
  { script: 'src/bundle/cli.js', options: ['validate DIR', 'info DIR', 'build-index DIR', '--factory', '--metric', '--nprobe', '--threads', '--help'] },
  { script: 'tools/eval/cli.js', options: ['--users', '--world', '--items', '--out', '--seed', '--threads', '--root', '--help'] },
  { script: 'tools/eval/loop.js', options: ['--world', '--logs', '--days', '--sessions-per-day', '--users', '--epochs', '--out', '--work', '--help'] },
  { script: 'tools/world/cli.js', options: ['--out', '--items', '--users', '--dim', '--seed', '--reference-time', '--index', '--no-index', '--help'] },
];

describe('command-line --help', function () {
  this.timeout(60_000);
  for (const { script, options } of CLIS) {
    for (const flag of ['--help', '-h']) {
      it(`${script} ${flag} prints its usage and options and exits 0`, () => {
        const r = help(script, flag);
        assert.equal(r.status, 0, `exit status ${r.status}; stderr: ${r.stderr}`);
        assert.match(r.stdout, /^usage: /);
        for (const o of options) assert.ok(r.stdout.includes(o), `${o} is not in the usage:\n${r.stdout}`);
      });
    }
  }
});
