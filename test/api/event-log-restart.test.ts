// Acknowledged events survive a crash: the real server process (dist/src/main.js)
// with --event-log, killed with SIGKILL after RecordEvents acknowledged a
// purchase, restarted on the same log directory.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';

import { kill, serverProcesses, topItems } from './server-process';

describe('event log: acknowledged events survive a crash of the server process', function () {
  this.timeout(180_000);
  const servers = serverProcesses();
  const startServer = (logDir: string) => servers.start(['--event-log', logDir]);

  it('a purchase acknowledged before SIGKILL still pushes the item out after the restart; an empty log does not', async () => {
    const logDir = path.join(servers.tmp, 'log');
    const user = 'user-000011';
    const a = await startServer(logDir);
    const before = await topItems(a.client, user);
    const top = before[0];
    // The purchase among concurrent calls from other users, so it goes through a shared group commit.
    const others = Array.from({ length: 30 }, (_, i) =>
      a.client.recordEvents({ events: [{ user_id: `user-0002${String(i).padStart(2, '0')}`, item_id: before[1], type: 'ACTION_TYPE_CLICK' }] }),
    );
    const ack = await a.client.recordEvents({ events: [{ user_id: user, item_id: top, type: 'ACTION_TYPE_PURCHASE' }] });
    assert.equal(Number(ack.accepted), 1);
    await Promise.all(others);
    assert.ok(!(await topItems(a.client, user)).includes(top), 'the purchase applies before the crash');
    await kill(a);

    const b = await startServer(logDir);
    const afterRestart = await topItems(b.client, user);
    assert.ok(!afterRestart.includes(top), `purchased ${top} is back after the restart: ${afterRestart.join(', ')}`);
    const metrics = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
    const replayed = Number(/^ranking_events_replayed_total (\S+)$/m.exec(metrics)?.[1]);
    assert.equal(replayed, 31, 'the purchase and the 30 clicks were replayed');
    await kill(b);

    // Control: the same bundle and seed events with an empty log rank the item first again.
    const c = await startServer(path.join(servers.tmp, 'empty'));
    assert.equal((await topItems(c.client, user))[0], top);
    await kill(c);
  });
});
