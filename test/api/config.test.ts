import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DEFAULTS, loadConfig } from '../../src/api/config';

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

  it('has no placement knobs: where work runs is the engine\'s decision', () => {
    for (const flag of ['--inline-max-flops', '--inline-max-slices', '--sync-search-max-floats', '--sync-search-max-steps']) {
      assert.throws(() => loadConfig([flag, '0']), /Unknown option/, flag);
    }
    // 0: the engine's own default (2 x cores) for requests running the cascade at once.
    assert.equal(DEFAULTS.maxActiveRanks, 0);
    assert.equal(loadConfig(['--max-active-ranks', '1']).maxActiveRanks, 1);
  });

  it('takes the rankers\' precision from flags and environment, empty meaning the bundle\'s', () => {
    assert.equal(DEFAULTS.rankerPrecision, '');
    assert.equal(loadConfig(['--ranker-precision', 'int8'], { RANKING_RANKER_PRECISION: 'bf16' }).rankerPrecision, 'int8');
    assert.equal(loadConfig([], { RANKING_RANKER_PRECISION: 'fp32' }).rankerPrecision, 'fp32');
    assert.throws(() => loadConfig(['--ranker-precision', 'fp16'], {}), /--ranker-precision: rankerPrecision must be one of auto, fp32, bf16, int8, got fp16/);
  });

  it('names the bad setting', async () => {
    assert.throws(() => loadConfig(['--grpc-port', 'x'], {}), /--grpc-port: grpcPort must be a non-negative integer/);
    assert.throws(() => loadConfig([], { RANKING_CLOCK: 'sundial' }), /RANKING_CLOCK: clock must be/);
    assert.throws(() => loadConfig(['--nope'], {}), /nope/);
    const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'rank-config-')), 'c.json');
    await fs.writeFile(file, JSON.stringify({ colour: 'blue' }));
    assert.throws(() => loadConfig(['--config', file], {}), /unknown setting "colour"/);
  });

  it('takes the shared-state URLs and the impression log\'s share, refusing what cannot work', () => {
    assert.equal(loadConfig(['--impression-log-sample', '0.25'], {}).impressionLogSample, 0.25);
    assert.equal(loadConfig([], {}).impressionLogSample, 1);
    assert.throws(() => loadConfig(['--impression-log-sample', '1.5'], {}), /impressionLogSample must be a number in \[0, 1\]/);
    assert.throws(() => loadConfig(['--catalog-stream', 'http://x'], {}), /catalogStream must be a redis:\/\/ or rediss:\/\/ URL/);
    assert.throws(() => loadConfig(['--catalog-stream', 'redis://h:1', '--catalog-log', 'd'], {}), /catalogStream and catalogLog are exclusive/);
  });

  describe('adminClientNames', () => {
    const TLS = { RANKING_TLS_CERT: 's.pem', RANKING_TLS_KEY: 's.key', RANKING_TLS_CA: 'ca.pem' };

    it('defaults to none', () => {
      assert.deepEqual(loadConfig([], {}).adminClientNames, []);
    });

    it('reads a comma-separated list from flags and the environment, trimming blanks', () => {
      assert.deepEqual(loadConfig(['--admin-client-names', ' ops-admin, deployer.internal,,'], TLS).adminClientNames, ['ops-admin', 'deployer.internal']);
      assert.deepEqual(loadConfig([], { ...TLS, RANKING_ADMIN_CLIENT_NAMES: 'a,b' }).adminClientNames, ['a', 'b']);
    });

    it('reads an array or a string from the config file, layered file < environment < flags', async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rank-config-'));
      const file = path.join(dir, 'c.json');
      await fs.writeFile(file, JSON.stringify({ tlsCert: 's.pem', tlsKey: 's.key', tlsCa: 'ca.pem', adminClientNames: ['from-file', 'x'] }));
      assert.deepEqual(loadConfig(['--config', file], {}).adminClientNames, ['from-file', 'x']);
      assert.deepEqual(loadConfig(['--config', file], { RANKING_ADMIN_CLIENT_NAMES: 'from-env' }).adminClientNames, ['from-env']);
      assert.deepEqual(loadConfig(['--config', file, '--admin-client-names', 'from-flag'], { RANKING_ADMIN_CLIENT_NAMES: 'from-env' }).adminClientNames, ['from-flag']);
      await fs.writeFile(file, JSON.stringify({ tlsCert: 's.pem', tlsKey: 's.key', tlsCa: 'ca.pem', adminClientNames: 'p, q' }));
      assert.deepEqual(loadConfig(['--config', file], {}).adminClientNames, ['p', 'q']);
      await fs.writeFile(file, JSON.stringify({ tlsCert: 's.pem', tlsKey: 's.key', tlsCa: 'ca.pem', adminClientNames: ['ok', 7] }));
      assert.throws(() => loadConfig(['--config', file], {}), /adminClientNames must be a list of names/);
    });

    it('is refused without mutual TLS (cert, key and client CA)', () => {
      assert.throws(() => loadConfig(['--admin-client-names', 'ops-admin'], {}), /adminClientNames needs mutual TLS/);
      assert.throws(
        () => loadConfig(['--admin-client-names', 'ops-admin'], { RANKING_TLS_CERT: 's.pem', RANKING_TLS_KEY: 's.key' }),
        /adminClientNames needs mutual TLS/,
      );
      // An empty list needs nothing.
      assert.deepEqual(loadConfig(['--admin-client-names', ' , '], {}).adminClientNames, []);
    });
  });
});
