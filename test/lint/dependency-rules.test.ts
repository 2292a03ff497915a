// The dependency rules (.dependency-cruiser.cjs) hold for src/, and each one
// does catch what it forbids (a throwaway tree with one violation per rule).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = path.join(ROOT, 'node_modules', '.bin', 'depcruise');

interface Cruise {
  summary: { violations: { rule: { name: string }; from: string; to: string }[] };
}

function cruise(cwd: string): Cruise {
  const r = spawnSync(DEPCRUISE, ['src', '--config', CONFIG, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (!r.stdout) throw new Error(`depcruise printed nothing: ${r.stderr}`);
  return JSON.parse(r.stdout) as Cruise;
}

describe('dependency rules', function () {
  this.timeout(60_000);

  it('src/ has no import cycles and no layer violations', () => {
    const v = cruise(ROOT).summary.violations;
    assert.deepEqual(v.map((x) => `${x.rule.name}: ${x.from} -> ${x.to}`), []);
  });

  it('each rule fires on a tree that breaks it', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'deps-'));
    try {
      const files: Record<string, string> = {
        'src/a.ts': "import { b } from './b';\nexport const a = b + 1;\n",
        'src/b.ts': "import { a } from './a';\nexport const b = 1;\nexport const c = () => a;\n",
        'src/models/schema.ts': "import { run } from '../pipeline/cascade';\nexport const s = run;\n",
        'src/pipeline/cascade.ts': "import { serve } from '../api/service';\nexport const run = serve;\n",
        'src/api/service.ts': "import { world } from '../../tools/world/generate';\nexport const serve = world;\n",
        'tools/world/generate.ts': "export const world = 1;\n",
        'src/util/x.ts': "import { t } from '../../test/helper';\nexport const x = t;\n",
        'src/client/index.ts': "import { run } from '../pipeline/cascade';\nexport const c = run;\n",
        // What the client may import: node built-ins and the proto module.
        'src/client/proto.ts': "import { join } from 'node:path';\nimport { PROTO } from '../api/proto';\nexport const p = join(PROTO);\n",
        'src/api/proto.ts': "export const PROTO = 'ranking.proto';\n",
        'test/helper.ts': 'export const t = 1;\n',
        'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'commonjs', target: 'es2022', strict: true } }),
      };
      for (const [f, text] of Object.entries(files)) {
        await fs.mkdir(path.dirname(path.join(dir, f)), { recursive: true });
        await fs.writeFile(path.join(dir, f), text);
      }
      const violations = cruise(dir).summary.violations;
      const fired = new Set(violations.map((v) => v.rule.name));
      assert.deepEqual(
        violations.filter((v) => v.rule.name === 'client-knows-only-the-proto').map((v) => v.from),
        ['src/client/index.ts'],
        'node built-ins and server/proto.ts are allowed in the client',
      );
      assert.deepEqual(
        [...fired].sort(),
        ['cascade-knows-no-transport', 'client-knows-only-the-proto', 'foundations-know-no-cascade', 'no-circular', 'src-knows-no-tools-tests-or-bench'],
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('npm test runs the check before the tests', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts.test, /npm run -s lint:deps && mocha/);
    assert.match(pkg.scripts['lint:deps'], /^depcruise src --config \.dependency-cruiser\.cjs$/);
  });
});
