import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { EventLog, EventLogClosedError, EventLogFullError, formatLine, LoggedEvent, parseLine } from '../../src/state/event-log';

const ev = (i: number, userId = `user-${i % 7}`): LoggedEvent => ({ userId, itemId: `item-${i}`, action: ((i % 5) + 1) as LoggedEvent['action'], ts: 1_700_000_000_000 + i });

async function segmentFiles(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((f) => f.startsWith('events-')).sort();
}

describe('EventLog (durable event log)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'event-log-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reads back, after reopening, exactly the events whose appends resolved, in order', async () => {
    const { log, recovered } = await EventLog.open({ dir, maxEvents: 1000 });
    assert.equal(recovered.events.length, 0);
    const written = Array.from({ length: 50 }, (_, i) => ev(i));
    for (let i = 0; i < 50; i += 10) await log.append(written.slice(i, i + 10));
    await log.close();
    const again = await EventLog.open({ dir, maxEvents: 1000 });
    assert.deepEqual(again.recovered.events, written);
    assert.equal(again.recovered.skippedLines, 0);
    await again.log.close();
  });

  it('keeps ids with quotes, newlines and non-ASCII characters intact', async () => {
    const odd: LoggedEvent[] = [
      { userId: 'u "quoted"\nnext', itemId: 'item-ü-🙂', action: 5, ts: 1 },
      { userId: '\\back\\slash', itemId: '{"json":1}', action: 1, ts: 0 },
    ];
    const { log } = await EventLog.open({ dir, maxEvents: 10 });
    await log.append(odd);
    await log.close();
    const again = await EventLog.open({ dir, maxEvents: 10 });
    assert.deepEqual(again.recovered.events, odd);
    await again.log.close();
  });

  it('group-commits: concurrent appends share writes, and each resolves only after its write', async () => {
    const { log } = await EventLog.open({ dir, maxEvents: 10_000 });
    const calls = Array.from({ length: 200 }, (_, i) => log.append([ev(i)]));
    await Promise.all(calls);
    assert.equal(log.appended, 200);
    assert.ok(log.writes < 200 && log.writes >= 1, `${log.writes} writes for 200 concurrent appends`);
    assert.equal(log.size, 200);
    await log.close();
    const again = await EventLog.open({ dir, maxEvents: 10_000 });
    assert.equal(again.recovered.events.length, 200);
    await again.log.close();
  });

  it('rotates segments and deletes whole segments older than the newest maxEvents', async () => {
    const { log } = await EventLog.open({ dir, maxEvents: 25, segmentEvents: 10 });
    for (let i = 0; i < 73; i++) await log.append([ev(i)]);
    // Segments of 10: the oldest ones go once the rest still hold >= 25 events.
    assert.ok(log.size >= 25 && log.size < 25 + 10, `kept ${log.size}`);
    const files = await segmentFiles(dir);
    assert.equal(files.length, log.segmentCount);
    assert.ok(files.length <= 4, files.join(','));
    await log.close();
    const again = await EventLog.open({ dir, maxEvents: 25, segmentEvents: 10 });
    // Recovery returns the newest maxEvents, oldest first.
    assert.deepEqual(
      again.recovered.events.map((e) => e.itemId),
      Array.from({ length: 25 }, (_, i) => `item-${48 + i}`),
    );
    await again.log.close();
  });

  it('cuts a torn last line (a write cut short by a crash) and appends after the last whole line', async () => {
    const { log } = await EventLog.open({ dir, maxEvents: 100 });
    await log.append([ev(1), ev(2)]);
    await log.close();
    const [file] = await segmentFiles(dir);
    const torn = formatLine(ev(3)).slice(0, 12);
    await fs.appendFile(path.join(dir, file), torn);
    const again = await EventLog.open({ dir, maxEvents: 100 });
    assert.deepEqual(again.recovered.events, [ev(1), ev(2)]);
    assert.equal(again.recovered.truncatedBytes, Buffer.byteLength(torn));
    await again.log.append([ev(4)]);
    await again.log.close();
    const third = await EventLog.open({ dir, maxEvents: 100 });
    assert.deepEqual(third.recovered.events, [ev(1), ev(2), ev(4)]);
    assert.equal(third.recovered.truncatedBytes, 0);
    await third.log.close();
  });

  it('skips and counts corrupt lines instead of failing recovery', async () => {
    const { log } = await EventLog.open({ dir, maxEvents: 100 });
    await log.append([ev(1)]);
    await log.close();
    const [file] = await segmentFiles(dir);
    const junk = ['not json', '["u","i",99,1]', '["","i",1,1]', '["u","i",1,-5]', '{"a":1}', '\u0000\u0000\u0000'];
    await fs.appendFile(path.join(dir, file), junk.join('\n') + '\n' + formatLine(ev(2)));
    const again = await EventLog.open({ dir, maxEvents: 100 });
    assert.deepEqual(again.recovered.events, [ev(1), ev(2)]);
    assert.equal(again.recovered.skippedLines, junk.length);
    await again.log.close();
  });

  it('refuses appends past maxPendingEvents at once, and any append after close', async () => {
    const { log } = await EventLog.open({ dir, maxEvents: 1000, maxPendingEvents: 10 });
    const first = log.append(Array.from({ length: 8 }, (_, i) => ev(i)));
    await assert.rejects(log.append([ev(8), ev(9), ev(10)]), EventLogFullError);
    await first;
    await log.append([ev(8), ev(9), ev(10)]); // room again once written
    await log.close();
    await assert.rejects(log.append([ev(11)]), EventLogClosedError);
  });

  it('close() waits for queued appends to be written', async () => {
    const { log } = await EventLog.open({ dir, maxEvents: 1000 });
    const pending = Array.from({ length: 20 }, (_, i) => log.append([ev(i)]));
    await log.close();
    await Promise.all(pending);
    const again = await EventLog.open({ dir, maxEvents: 1000 });
    assert.equal(again.recovered.events.length, 20);
    await again.log.close();
  });

  it('parseLine accepts only well-formed events', () => {
    assert.deepEqual(parseLine('["u","i",5,12]'), { userId: 'u', itemId: 'i', action: 5, ts: 12 });
    for (const bad of ['["u","i",0,12]', '["u","i",6,12]', '["u","i",1.5,12]', '["u",7,1,12]', '["u","i",1,"12"]', '["u","i",1]', 'null', '["u","i",1,1e999]'])
      assert.equal(parseLine(bad), null, bad);
  });
});
