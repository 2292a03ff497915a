// scripts/ensure-native.js (run by npm start and npm test) in a scratch copy
// of the project layout, with a stand-in node-gyp that records its calls.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SCRIPT = path.join(__dirname, '..', '..', '..', 'scripts', 'ensure-native.js');

/** A stand-in node-gyp: appends its arguments to calls.log; `build` writes the addon; FAIL_GYP=1 fails loudly. */
const FAKE_GYP = `
const fs = require('node:fs');
const path = require('node:path');
const root = process.cwd();
fs.appendFileSync(path.join(root, 'calls.log'), process.argv.slice(2).join(' ') + '\\n');
if (process.env.FAIL_GYP === '1') { console.log('gyp info it worked if it ends with ok'); console.error('make: *** [dcn.o] Error 1'); process.exit(1); }
if (process.argv[2] === 'configure') fs.mkdirSync(path.join(root, 'build'), { recursive: true }), fs.writeFileSync(path.join(root, 'build', 'Makefile'), '');
if (process.argv[2] === 'build') { fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true }); fs.writeFileSync(path.join(root, 'build', 'Release', 'ranking_native.node'), 'addon'); }
console.log('gyp info ok');
`;

describe('scripts/ensure-native.js', function () {
  this.timeout(30_000);
  let root = '';
  const addon = () => path.join(root, 'build', 'Release', 'ranking_native.node');
  const calls = async () => (await fs.readFile(path.join(root, 'calls.log'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
  const run = (env: Record<string, string> = {}) => spawnSync(process.execPath, [path.join(root, 'scripts', 'ensure-native.js')], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
  const age = async (file: string, secondsAgo: number) => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    await fs.utimes(file, t, t);
  };

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rank-ensure-native-'));
    await fs.mkdir(path.join(root, 'scripts'));
    await fs.copyFile(SCRIPT, path.join(root, 'scripts', 'ensure-native.js'));
    await fs.mkdir(path.join(root, 'native', 'sub'), { recursive: true });
    await fs.writeFile(path.join(root, 'binding.gyp'), '{}');
    await fs.writeFile(path.join(root, 'native', 'dcn.cc'), '');
    await fs.writeFile(path.join(root, 'native', 'sub', 'kernels.h'), '');
    await fs.mkdir(path.join(root, 'node_modules', 'node-gyp', 'bin'), { recursive: true });
    await fs.writeFile(path.join(root, 'node_modules', 'node-gyp', 'package.json'), '{"name":"node-gyp","version":"0.0.0"}');
    await fs.writeFile(path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), FAKE_GYP);
    for (const f of ['binding.gyp', 'native/dcn.cc', 'native/sub/kernels.h']) await age(path.join(root, f), 3600);
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('configures and builds when the addon is missing, in one line of output', async () => {
    const r = run();
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^native addon: building \(not built yet\) \.\.\. done in \d+ s\n$/);
    assert.equal(r.stderr, '');
    assert.deepEqual((await calls()).map((c) => c.split(' ')[0]), ['configure', 'build']);
    await fs.access(addon());
  });

  it('does nothing when the addon is newer than every source', async () => {
    run();
    await fs.rm(path.join(root, 'calls.log'));
    const r = run();
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'native addon: up to date (build/Release/ranking_native.node)\n');
    assert.deepEqual(await calls(), [], 'node-gyp not run');
  });

  it('builds again (without configure) when a source under native/ is newer, and configures when binding.gyp is', async () => {
    run();
    await fs.rm(path.join(root, 'calls.log'));
    await age(addon(), 60);
    await age(path.join(root, 'build', 'Makefile'), 60);
    await fs.writeFile(path.join(root, 'native', 'sub', 'kernels.h'), '// changed');
    let r = run();
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^native addon: building \(changed: native\/sub\/kernels\.h\) \.\.\. done/);
    assert.deepEqual((await calls()).map((c) => c.split(' ')[0]), ['build']);
    assert.equal(run().stdout, 'native addon: up to date (build/Release/ranking_native.node)\n', 'current after the build');

    await fs.rm(path.join(root, 'calls.log'));
    await age(addon(), 60);
    await age(path.join(root, 'build', 'Makefile'), 60);
    await fs.writeFile(path.join(root, 'binding.gyp'), '{ }');
    r = run();
    assert.match(r.stdout, /changed: binding\.gyp/);
    assert.deepEqual((await calls()).map((c) => c.split(' ')[0]), ['configure', 'build']);
  });

  it('shows node-gyp\'s output and fails when the build fails', async () => {
    const r = run({ FAIL_GYP: '1' });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /building \(not built yet\) \.\.\. failed/);
    assert.match(r.stderr, /make: \*\*\* \[dcn\.o\] Error 1/);
    assert.match(r.stderr, /node-gyp configure failed/);
  });
});
