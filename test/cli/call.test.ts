import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as path from 'node:path';

import { Harness, startHarness } from '../api/harness';

const CLI = path.join(__dirname, '..', '..', 'src', 'cli', 'call.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function call(args: string[], input?: string): Promise<Run> {
  return new Promise<Run>((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

describe('cli/call: the command-line client', function () {
  this.timeout(120_000);
  let h: Harness;
  let address: string[];
  before(async () => {
    h = await startHarness();
    address = ['--address', h.address];
  });
  after(async () => {
    await h?.close();
  });

  it('Rank with the README request (enums by name, a map) prints the response as JSON', async () => {
    const req = '{"user_id":"user-000005","context":{"surface":"SURFACE_HOME","device":"DEVICE_MOBILE"},"num_results":10,"objective_weights":{"purchase":1,"click":0.2},"options":{"diversity":"DIVERSITY_METHOD_MMR"}}';
    const r = await call([...address, 'Rank', req]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { items: { item_id: string; provenance: string }[]; bundle_version: string };
    assert.equal(res.items.length, 10);
    assert.ok(res.items.every((it) => h.world.items.has(it.item_id)), 'known items');
    assert.match(res.items[0].provenance, /^PROVENANCE_/);
    assert.equal(res.bundle_version, h.engine.version);
  });

  it('reads the request from stdin and accepts lowerCamelCase JSON names', async () => {
    const r = await call([...address, 'ranking.v1.RankingService/Rank', '-'], '{"userId":"user-000007","numResults":3}');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { items: unknown[] }).items.length, 3);
  });

  it('RecordEvents and DeleteItems answer as the server does', async () => {
    const item = [...h.world.items.keys()][0];
    const rec = await call([...address, 'RecordEvents', JSON.stringify({ events: [{ user_id: 'user-000005', item_id: item, type: 'ACTION_TYPE_CLICK' }] })]);
    assert.equal(rec.code, 0, rec.stderr);
    assert.deepEqual(JSON.parse(rec.stdout), { accepted: 1 });
    const del = await call([...address, 'DeleteItems', '{"item_ids":["no-such-item"]}']);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(JSON.parse(del.stdout), { deleted: 0, unknown_item_ids: ['no-such-item'] });
  });

  it('health prints SERVING; list prints the services', async () => {
    const health = await call([...address, 'health']);
    assert.equal(health.code, 0, health.stderr);
    assert.equal((JSON.parse(health.stdout) as { status: string }).status, 'SERVING');
    const list = await call([...address, 'list']);
    assert.equal(list.code, 0, list.stderr);
    const names = list.stdout.trim().split('\n');
    assert.ok(names.includes('ranking.v1.RankingService') && names.includes('grpc.health.v1.Health'), list.stdout);
  });

  it('a gRPC error exits 1 with the status name and message', async () => {
    const r = await call([...address, 'Rank', '{"user_id":"user-000005","num_results":0}']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^INVALID_ARGUMENT: num_results: /);
    assert.equal(r.stdout, '');
  });

  it('bad JSON, an unknown field, a wrong enum name or an unknown command exit 2 with the problem named', async () => {
    const cases: [string[], RegExp][] = [
      [['Rank', '{"user_id": '], /Rank: the request is not valid JSON/],
      [['Rank', '{"user": "x"}'], /Rank: user: unknown field of ranking\.v1\.RankRequest/],
      [['Rank', '{"context":{"surface":"HOME"}}'], /Rank: context\.surface: unknown value "HOME" of enum ranking\.v1\.Surface/],
      [['Rank', '{"num_results":"ten"}'], /Rank: num_results: expected number \(uint32\), got "ten"/],
      [['Frobnicate', '{}'], /unknown command "Frobnicate"/],
      [['--deadline-ms', 'soon', 'health'], /--deadline-ms must be a positive number/],
    ];
    for (const [args, message] of cases) {
      const r = await call([...address, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  it('--help prints the usage', async () => {
    const r = await call(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: ranking-call /);
  });
});
