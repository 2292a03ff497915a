// The generated types of the typed client (src/client/generated/) are what
// `npm run gen:client` writes from the proto today, with the options
// loadProto() decodes with: a proto change without regenerating, or a change
// of LOADER_OPTIONS alone, fails here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as protoLoader from '@grpc/proto-loader';

import { LOADER_OPTIONS } from '../../src/api/proto';

const ROOT = path.join(__dirname, '..', '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'gen-client.js');
const COMMITTED = path.join(ROOT, 'src', 'client', 'generated');

/** Every file under `dir`, by path relative to it (sorted), with its content. */
async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  for (const e of entries.filter((x) => x.isFile())) {
    const file = path.join(e.parentPath, e.name);
    out.set(path.relative(dir, file).split(path.sep).join('/'), await fs.readFile(file, 'utf8'));
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** The proto-loader-gen-types flags that say how messages are decoded, for loader options. */
function decodingFlags(o: protoLoader.Options): string[] {
  const name = (v: unknown): string => (v === String ? 'String' : v === Number ? 'Number' : v === Array ? 'Array' : String(v));
  const flags: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (['keepCase', 'defaults', 'arrays', 'objects', 'oneofs', 'json'].includes(k)) {
      if (v === true) flags.push(`--${k}`);
    } else if (['longs', 'enums', 'bytes'].includes(k)) {
      if (v !== undefined) flags.push(`--${k}=${name(v)}`);
    } else {
      assert.fail(`LOADER_OPTIONS.${k}: no proto-loader-gen-types flag is known for it; teach this test and scripts/gen-client.js`);
    }
  }
  return flags.sort();
}

describe('client/generated: the committed proto types', function () {
  this.timeout(60_000);
  let tmp = '';
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gen-client-'));
  });
  after(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('are generated with the options loadProto() decodes with', () => {
    const { FLAGS } = require(SCRIPT) as { FLAGS: string[] };
    const decoding = FLAGS.filter((f) => /^--(keepCase|defaults|arrays|objects|oneofs|json|longs|enums|bytes)\b/.test(f)).sort();
    assert.deepEqual(decoding, decodingFlags(LOADER_OPTIONS));
    assert.ok(FLAGS.includes('--grpcLib=@grpc/grpc-js'), 'the client and service types need --grpcLib');
  });

  it('are what `npm run gen:client` writes (regenerate and commit them when this fails)', async () => {
    const out = path.join(tmp, 'generated');
    const r = spawnSync(process.execPath, [SCRIPT, out], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [fresh, committed] = [await tree(out), await tree(COMMITTED)];
    assert.ok(fresh.size > 0, 'the generator wrote nothing');
    assert.deepEqual([...committed.keys()], [...fresh.keys()], 'the committed files are not the generated ones');
    for (const [file, text] of fresh) assert.equal(committed.get(file), text, `src/client/generated/${file} is stale: run npm run gen:client`);
  });
});
