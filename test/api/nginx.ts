// nginx of the tests' own (deploy/nginx-grpc.conf) on a free loopback port
// in front of the given gRPC ports, or null when nginx is missing; under CI
// (CI=true) a missing nginx is an error, not a skip.
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { freePort, waitForPort } from '../ports';

const CONF = path.join(__dirname, '..', '..', '..', 'deploy', 'nginx-grpc.conf');

export interface TestNginx {
  port: number;
  /** The master process (its worker is a child of it). */
  pid: number;
  stop(): Promise<void>;
}

export function haveNginx(): boolean {
  return spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
}

export async function startNginx(upstreams: number[]): Promise<TestNginx | null> {
  if (!haveNginx()) {
    if (process.env.CI === 'true') throw new Error('nginx is not installed (scripts/install-system-deps.sh installs it)');
    return null;
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nginx-'));
  await fs.mkdir(path.join(dir, 'tmp'));
  const port = await freePort();
  const conf = (await fs.readFile(CONF, 'utf8')).replace('@LISTEN@', `127.0.0.1:${port}`).replace('@SERVERS@', upstreams.map((p) => `server 127.0.0.1:${p};`).join('\n    '));
  await fs.writeFile(path.join(dir, 'nginx.conf'), conf);
  let stderr = '';
  const child = spawn('nginx', ['-p', dir, '-c', 'nginx.conf', '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitForPort(port, child, 5000, 'nginx', () => stderr);
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGQUIT');
        await exited;
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
