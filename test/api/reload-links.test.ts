import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';

import { loadBundle } from '../../src/bundle/loader';
import { RankingClient, ReloadBundleResponse__Output } from '../../src/client';
import { Engine } from '../../src/pipeline/engine';
import { createMetrics } from '../../src/metrics/metrics';
import { RankingService } from '../../src/api/service';
import { ENGINE_OPTIONS, makeWorld, silentLogger, World } from './harness';

describe('ReloadBundle: bundle files must be in the bundle root, errors never quote files', function () {
  this.timeout(180_000);
  let world: World;
  let root: string;
  let service: RankingService;
  let client: RankingClient;
  const metrics = createMetrics({ defaultMetrics: false });
  const loadEngine = async (dir: string) => Engine.create(await loadBundle(dir, { progress: false }), { ...ENGINE_OPTIONS, seedEvents: world.paths.events, metrics });

  const reload = (rel: string): Promise<ReloadBundleResponse__Output> => client.reloadBundle({ path: rel }, { deadline: Date.now() + 60_000 });
  const refused = async (rel: string): Promise<grpc.ServiceError> => {
    const err = await reload(rel).then(
      () => assert.fail(`ReloadBundle ${rel} succeeded`),
      (e: grpc.ServiceError) => e,
    );
    assert.equal(grpc.status[err.code], 'INVALID_ARGUMENT', err.details);
    return err;
  };

  /** A copy of the world's bundle under the root, with `links` (file name -> target) in place of files. */
  async function bundleWith(name: string, links: Record<string, string>): Promise<string> {
    const dir = path.join(root, name);
    await fs.cp(world.paths.bundle, dir, { recursive: true });
    for (const [file, target] of Object.entries(links)) {
      await fs.rm(path.join(dir, file));
      await fs.symlink(target, path.join(dir, file));
    }
    return dir;
  }

  before(async () => {
    world = await makeWorld();
    // The root is a directory beside the world's bundle: the bundle's files are outside it.
    root = path.join(world.root, 'served');
    await fs.mkdir(root);
    service = new RankingService({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, metrics, logger: silentLogger, bundleRoot: root, loadEngine });
    await service.start();
    service.setEngine(await loadEngine(world.paths.bundle));
    client = new RankingClient(`127.0.0.1:${service.grpcPort}`);
  });
  after(async () => {
    client?.close();
    await service?.stop(1000).catch(() => undefined);
    await service?.current()?.close();
    if (world) await fs.rm(world.root, { recursive: true, force: true });
  });

  it('refuses a manifest.json linked to /etc/passwd, naming the file, without quoting it', async () => {
    await bundleWith('passwd', { 'manifest.json': '/etc/passwd' });
    const before = service.current();
    const err = await refused('passwd');
    assert.match(err.details, /manifest\.json: resolves outside the bundle root/);
    assert.ok(!err.details.includes('root:x'), `the message quotes the file: ${err.details}`);
    assert.equal(service.current(), before, 'the old bundle keeps serving');
  });

  it('refuses an items file linked to a file outside the root, even a valid one', async () => {
    await bundleWith('outside-items', { 'items.jsonl': path.join(world.paths.bundle, 'items.jsonl') });
    const err = await refused('outside-items');
    assert.match(err.details, /items\.jsonl: resolves outside the bundle root/);
  });

  it('refuses a broken link', async () => {
    await bundleWith('dangling', { 'item_bias.npy': path.join(root, 'no-such-file.npy') });
    const err = await refused('dangling');
    assert.match(err.details, /item_bias\.npy: is a link to nothing/);
  });

  it('an invalid manifest.json is reported by position, not by its content', async () => {
    const dir = await bundleWith('garbage', {});
    await fs.writeFile(path.join(dir, 'manifest.json'), 'secret-value-123 is not JSON\n');
    const err = await refused('garbage');
    assert.match(err.details, /manifest\.json: is not valid JSON/);
    assert.ok(!err.details.includes('secret'), `the message quotes the file: ${err.details}`);
    await fs.writeFile(path.join(dir, 'manifest.json'), '{"name": "secret-value-123" "version": 1}');
    const err2 = await refused('garbage');
    assert.match(err2.details, /manifest\.json: is not valid JSON \(syntax error at character 28, line 1 column 29\)/);
    assert.ok(!err2.details.includes('secret'), err2.details);
  });

  it('loads a bundle whose files are links to files inside the root', async () => {
    const base = await bundleWith('base', {});
    const files = (await fs.readdir(base)).filter((f) => !f.endsWith('.tmp'));
    await bundleWith('linked', Object.fromEntries(files.map((f) => [f, path.join('..', 'base', f)])));
    const res = await reload('linked');
    assert.equal(res.items, world.config.items);
    assert.equal(service.current()?.bundle.dir, path.join(await fs.realpath(root), 'linked'));
  });
});
