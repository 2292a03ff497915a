// Loopback ports for the servers the tests start: a free one, and waiting
// until a started process listens on it.
import type { ChildProcess } from 'node:child_process';
import * as net from 'node:net';

/** A port nothing listens on now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once `port` accepts connections; throws when `child` exits first or after `ms`. */
export async function waitForPort(port: number, child: ChildProcess, ms: number, what: string, output = () => ''): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}): ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => (c.end(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`${what} did not listen on ${port} within ${ms} ms: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
