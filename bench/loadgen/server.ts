// Starts the ranking server (dist/src/main.js) as a child process for a
// benchmark, optionally pinned to CPU 0, and waits for GET /healthz = 200;
// reads its RSS and its Prometheus metrics.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** A process's resident set size (VmRSS), MiB. */
export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Sums a metric's samples in the Prometheus text format (all label sets). */
export function metricSum(text: string, name: string): number {
  let total = 0;
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})? ([-+\\d.eE]+)$`, 'gm');
  for (const m of text.matchAll(re)) total += Number(m[1]);
  return total;
}

export function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function waitHealthy(server: ChildProcess, httpPort: number, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`server not healthy after ${timeoutMs} ms`);
}

/**
 * The server entry of a checkout: the demo-world entry where it has one
 * (it serves --bundle when given one too), else dist/src/main.js (older
 * checkouts, whose main.js served the demo world itself).
 */
function serverEntry(root: string): string {
  const demo = path.join(root, 'dist', 'tools', 'serve-demo.js');
  return existsSync(demo) ? demo : path.join(root, 'dist', 'src', 'main.js');
}

/** Spawns the server; `pin` runs it under `taskset -c 0`. Resolves once it is healthy. */
export async function startServer(root: string, grpcPort: number, httpPort: number, pin: boolean, extraArgs: string[] = []): Promise<ChildProcess> {
  const args = [serverEntry(root), '--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--host', '127.0.0.1', '--log-level', 'warn', ...extraArgs];
  const opts = { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] as ('ignore' | 'inherit')[] };
  const server = pin ? spawn('taskset', ['-c', '0', process.execPath, ...args], opts) : spawn(process.execPath, args, opts);
  try {
    await waitHealthy(server, httpPort, 120_000);
  } catch (err) {
    server.kill('SIGKILL');
    throw err;
  }
  return server;
}
