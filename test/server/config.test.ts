import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DEFAULTS, loadConfig } from '../../src/server/config';

describe('server config', () => {
  it('has working defaults: gRPC 50051, HTTP 8080, the demo world', () => {
    const c = loadConfig([], {});
    assert.equal(c.grpcPort, 50051);
    assert.equal(c.httpPort, 8080);
    assert.equal(c.bundle, '');
    assert.deepEqual(c, DEFAULTS);
  });

  it('layers file < environment < flags', async () => {
    const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'rank-config-')), 'c.json');
    await fs.writeFile(file, JSON.stringify({ grpcPort: 1111, httpPort: 2222, logLevel: 'debug', threads: 3 }));
    const c = loadConfig(['--config', file, '--http-port', '3333', '--sample'], { RANKING_GRPC_PORT: '4444', RANKING_THREADS: '2' });
    assert.equal(c.grpcPort, 4444);
    assert.equal(c.httpPort, 3333);
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.threads, 2);
    assert.equal(c.sample, true);
  });

  it('names the bad setting', async () => {
    assert.throws(() => loadConfig(['--grpc-port', 'x'], {}), /--grpc-port: grpcPort must be a non-negative integer/);
    assert.throws(() => loadConfig([], { RANKING_CLOCK: 'sundial' }), /RANKING_CLOCK: clock must be/);
    assert.throws(() => loadConfig(['--nope'], {}), /nope/);
    const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'rank-config-')), 'c.json');
    await fs.writeFile(file, JSON.stringify({ colour: 'blue' }));
    assert.throws(() => loadConfig(['--config', file], {}), /unknown setting "colour"/);
  });
});
