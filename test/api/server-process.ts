// The real server process (dist/src/main.js) on the test world, for tests of
// what survives a crash: started on free ports with extra flags, called
// through the typed client (20 s deadlines), killed with SIGKILL.
import { ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { RankingClient, StageOptions } from '../../src/client';
import { freePort } from '../ports';
import { makeWorld, World } from './harness';

const MAIN = path.join(__dirname, '..', '..', 'src', 'main.js');

/** Deadline of the calls to the server process. */
const DEADLINE_MS = 20_000;

export interface Running {
  proc: ChildProcess;
  client: RankingClient;
  grpcPort: number;
  httpPort: number;
}

/** Starts the server on the world's bundle and seed events with `flags`; resolves once /healthz is OK. */
export async function startServer(world: World, flags: string[]): Promise<Running> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const args = [MAIN, '--bundle', world.paths.bundle, '--events', world.paths.events, ...flags, '--host', '127.0.0.1'];
  args.push('--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--threads', '1', '--log-level', 'warn');
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new RankingClient(`127.0.0.1:${grpcPort}`, { deadlineMs: DEADLINE_MS });
  const until = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`server exited (${proc.exitCode ?? proc.signalCode}): ${stderr}`);
    const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => null);
    if (res?.ok) break;
    if (Date.now() > until) throw new Error(`server not healthy in 60 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, client, grpcPort, httpPort };
}

/** Plain pages: no exploration, no diversity (the same list for the same state). */
export const PLAIN: StageOptions = { exploration: 'EXPLORATION_METHOD_NONE', diversity: 'DIVERSITY_METHOD_NONE' };

/** The user's top 10 item ids on a plain page. */
export async function topItems(c: RankingClient, user: string): Promise<string[]> {
  const res = await c.rank({ user_id: user, num_results: 10, options: PLAIN });
  return res.items.map((it) => it.item_id);
}

/** SIGKILL: no drain, no close of the logs. */
export async function kill(r: Running): Promise<void> {
  r.client.close();
  if (r.proc.exitCode !== null || r.proc.signalCode !== null) return;
  const exited = new Promise((res) => r.proc.once('exit', res));
  r.proc.kill('SIGKILL');
  await exited;
}

export interface ServerProcesses {
  /** The test world (set in the before hook). */
  readonly world: World;
  /** A fresh directory in the world for logs. */
  readonly tmp: string;
  /** Starts a server on the world with `flags`; it is killed in the after hook if still running. */
  start(flags: string[]): Promise<Running>;
}

/** Registers the mocha hooks of a describe() that runs server processes: a world before, kills and cleanup after. */
export function serverProcesses(): ServerProcesses {
  const running: Running[] = [];
  let world: World | undefined;
  let tmp = '';
  before(async () => {
    world = await makeWorld();
    tmp = await fs.mkdtemp(path.join(world.root, 'logs-'));
  });
  after(async () => {
    for (const r of running) await kill(r).catch(() => undefined);
    if (world) await fs.rm(world.root, { recursive: true, force: true });
  });
  return {
    get world(): World {
      if (!world) throw new Error('the world is made in the before hook');
      return world;
    },
    get tmp(): string {
      return tmp;
    },
    async start(flags: string[]): Promise<Running> {
      const r = await startServer(this.world, flags);
      running.push(r);
      return r;
    },
  };
}
