// A redis-server of the tests' own on a free loopback port (no persistence),
// or null when the binary is missing; under CI (CI=true) a missing server is
// an error, not a skip.
import { spawn, spawnSync } from 'node:child_process';

import { freePort, waitForPort } from '../ports';

export interface TestRedis {
  url: string;
  port: number;
  /** The server process (the first node's, for a Cluster). */
  pid?: number;
  stop(): Promise<void>;
}

export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Starts a server (on `port`, e.g. to restart one, else a free port); with
 * `aofDir`, an append-only file there (appendfsync everysec), read back on a restart.
 */
export async function startRedis(port?: number, aofDir?: string): Promise<TestRedis | null> {
  if (!haveRedis()) {
    if (process.env.CI === 'true') throw new Error('redis-server is not installed (scripts/install-system-deps.sh installs it)');
    return null;
  }
  port ??= await freePort();
  const persistence = aofDir ? ['--dir', aofDir, '--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: 'ignore' });
  await waitForPort(port, child, 5000, 'redis-server');
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A 3-node Redis Cluster on free loopback ports (no replicas), or null when redis-server is missing. */
export async function startRedisCluster(): Promise<TestRedis | null> {
  if (!haveRedis()) {
    if (process.env.CI === 'true') throw new Error('redis-server is not installed (scripts/install-system-deps.sh installs it)');
    return null;
  }
  const { mkdtempSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const children = ports.map((port) =>
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }),
  );
  const stop = async () => {
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(ports.map((p, i) => waitForPort(p, children[i], 5000, 'redis-server')));
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    const until = Date.now() + 10_000;
    while (!ports.every((p) => /cluster_state:ok/.test(spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' }).stdout))) {
      if (Date.now() > until) throw new Error('the cluster did not reach cluster_state:ok in 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis://127.0.0.1:${ports[0]}`, port: ports[0], stop };
}

/**
 * Registers the mocha hooks of a describe() that needs a Redis: started
 * before its tests (skipping them when it cannot be, outside CI), stopped
 * after. Returns the server of the moment; `replace` swaps in another (a
 * restart), which the after hook then stops.
 */
export function redisForSuite(start: () => Promise<TestRedis | null> = () => startRedis()): { (): TestRedis; replace(r: TestRedis | null): void } {
  let server: TestRedis | null = null;
  before(async function () {
    server = await start();
    if (server === null) this.skip();
  });
  after(async () => {
    await server?.stop();
  });
  const get = () => {
    if (server === null) throw new Error('no Redis: the before hook starts it');
    return server;
  };
  return Object.assign(get, { replace: (r: TestRedis | null) => void (server = r) });
}
