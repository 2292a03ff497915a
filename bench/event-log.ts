// The durable event log's cost: appends of one event each, closed loop with
// C appends in flight, for sync 'data' (fdatasync per group commit) and
// 'none' (write() only). Reports appends/s, latency p50/p99 per append, and
// events per write (how well group commit batches).
//
//   node dist/bench/event-log.js [--seconds 5] [--dir /tmp] [--out event-log]
//
// Writes bench/results/<out>.{json,md}. The directory's file system decides
// the fdatasync cost: run it on the disk the server's --event-log will use.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { EventLog, EventLogSync } from '../src/state/event-log';
import { runMeta } from './loadgen/report';

const ROOT = path.join(__dirname, '..', '..');

interface Row {
  sync: EventLogSync;
  concurrency: number;
  appendsPerS: number;
  p50Ms: number;
  p99Ms: number;
  eventsPerWrite: number;
}

const quantile = (sorted: Float64Array, q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function run(dir: string, sync: EventLogSync, concurrency: number, seconds: number): Promise<Row> {
  const d = await fs.mkdtemp(path.join(dir, 'event-log-bench-'));
  const { log } = await EventLog.open({ dir: d, maxEvents: 1_000_000, sync });
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const worker = async (w: number): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      await log.append([{ userId: `user-${w}-${n}`, itemId: `item-${n % 100_000}`, action: 2, ts: Date.now() }]);
      lat.push(performance.now() - t);
      n++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const wall = (performance.now() - t0) / 1000;
  await log.close();
  await fs.rm(d, { recursive: true, force: true });
  const sorted = Float64Array.from(lat).sort();
  return { sync, concurrency, appendsPerS: n / wall, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), eventsPerWrite: log.appended / Math.max(1, log.writes) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, dir: { type: 'string', default: os.tmpdir() }, out: { type: 'string', default: 'event-log' } } });
  const seconds = Number(values.seconds);
  const rows: Row[] = [];
  for (const sync of ['data', 'none'] as const) {
    for (const c of [1, 16, 128]) {
      const r = await run(values.dir!, sync, c, seconds);
      rows.push(r);
      process.stderr.write(`${sync} c=${c}: ${r.appendsPerS.toFixed(0)}/s p50 ${r.p50Ms.toFixed(3)} ms p99 ${r.p99Ms.toFixed(3)} ms, ${r.eventsPerWrite.toFixed(1)} events/write\n`);
    }
  }
  const meta = runMeta(ROOT, `node dist/bench/event-log.js ${process.argv.slice(2).join(' ')}`, 'no pinning');
  const dirNote = `log directory under ${values.dir}`;
  await fs.mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
  await fs.writeFile(path.join(ROOT, 'bench', 'results', `${values.out}.json`), JSON.stringify({ meta, dir: values.dir, seconds, rows }, null, 2) + '\n');
  const md = [
    '# Durable event log: append cost',
    '',
    `${meta.date} · commit \`${meta.commit}\` · ${meta.cpu} · ${dirNote} · \`${meta.command}\``,
    '',
    `One event per append, closed loop, ${seconds} s per row. Latency is from append() to its promise resolving (written, and synced with sync data).`,
    '',
    '| sync | appends in flight | appends/s | p50 ms | p99 ms | events per write |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.sync} | ${r.concurrency} | ${r.appendsPerS.toFixed(0)} | ${r.p50Ms.toFixed(3)} | ${r.p99Ms.toFixed(3)} | ${r.eventsPerWrite.toFixed(1)} |`),
    '',
  ].join('\n');
  await fs.writeFile(path.join(ROOT, 'bench', 'results', `${values.out}.md`), md);
  process.stdout.write(md);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
