// Soak and overload run: mixed Rank + RecordEvents (one event call per five
// Rank calls), open loop, first at a sustainable rate, then at twice the
// saturation rate. Reports accepted throughput, p99 of accepted calls, the
// shed fraction, the server's RSS before and after each phase, and events
// acknowledged by RecordEvents vs events applied (the server's
// events_ingested_total): they must be equal.
//
//   node dist/bench/loadgen/soak.js --saturation 200 [--minutes 10] [--max-concurrent-ranks N]
//        [--server-arg=--flag --server-arg=value ...] [--out soak]
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { DEFAULT_LOAD, LoadResult, runLoad } from './client';
import { runMeta } from './report';
import { hasTaskset, metricSum, rssMiB, startServer } from './server';

const ROOT = path.join(__dirname, '..', '..', '..');

async function eventsApplied(httpPort: number): Promise<number> {
  return metricSum(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(), 'ranking_events_ingested_total');
}

interface Phase {
  name: string;
  offered: number;
  accepted: number;
  rankP99: number;
  shed: number;
  errors: Record<string, number>;
  rssStart: number;
  rssEnd: number;
  eventsAcknowledged: number;
  eventsApplied: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      saturation: { type: 'string' },
      minutes: { type: 'string', default: '10' },
      'grpc-port': { type: 'string', default: '50171' },
      'http-port': { type: 'string', default: '8171' },
      out: { type: 'string', default: 'soak' },
      'max-concurrent-ranks': { type: 'string' },
      'server-arg': { type: 'string', multiple: true },
    },
  });
  const saturation = Number(values.saturation);
  if (!(saturation > 0)) throw new Error('--saturation RATE is required (Rank calls/s the server sustains; see the sweep)');
  if (!/^[\w.-]+$/.test(values.out!)) throw new Error('--out must be a plain name');
  const seconds = Number(values.minutes) * 60;
  const grpcPort = Number(values['grpc-port']);
  const httpPort = Number(values['http-port']);
  const pin = hasTaskset();
  const extra = [...(values['max-concurrent-ranks'] ? ['--max-concurrent-ranks', values['max-concurrent-ranks']] : []), ...(values['server-arg'] ?? [])];
  const server = await startServer(ROOT, grpcPort, httpPort, pin, extra);
  const phases: Phase[] = [];
  try {
    for (const [name, factor, share] of [
      ['70% of saturation', 0.7, 0.8],
      ['2x saturation', 2, 0.2],
    ] as const) {
      const rssStart = rssMiB(server.pid!);
      const appliedBefore = await eventsApplied(httpPort);
      const offered = Math.round(factor * saturation * 1.2); // x 1.2: one call in six is RecordEvents
      process.stderr.write(`${name}: ${offered} calls/s for ${Math.round(seconds * share)} s...\n`);
      const r: LoadResult = await runLoad({
        ...DEFAULT_LOAD,
        target: `127.0.0.1:${grpcPort}`,
        rate: offered,
        durationS: Math.max(10, Math.round(seconds * share)),
        warmupS: 3,
        mix: 'rank+events',
        serverPid: server.pid,
        clientCpus: pin ? '1' : undefined,
      });
      const rank = r.methods.Rank!;
      await new Promise((res) => setTimeout(res, 1000));
      phases.push({
        name,
        offered,
        accepted: r.achievedRate,
        rankP99: rank.latency.p99,
        shed: (rank.errors.RESOURCE_EXHAUSTED ?? 0) / Math.max(1, rank.calls),
        errors: rank.errors,
        rssStart,
        rssEnd: rssMiB(server.pid!),
        eventsAcknowledged: r.eventsAcknowledged,
        eventsApplied: (await eventsApplied(httpPort)) - appliedBefore,
      });
    }
  } finally {
    server.kill('SIGTERM');
  }
  const meta = runMeta(ROOT, `node dist/bench/loadgen/soak.js ${process.argv.slice(2).join(' ')}`, pin ? 'server on CPU 0, load on CPU 1' : 'no pinning');
  const dir = path.join(ROOT, 'bench', 'results');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, `loadgen-${values.out}.json`), JSON.stringify({ meta, saturation, phases }, null, 2) + '\n');
  const md = [
    '# Soak and overload',
    '',
    `${meta.date} · commit \`${meta.commit}\` · ${meta.cpu} · ${meta.pinning} · \`${meta.command}\``,
    '',
    'Open loop, Poisson arrivals, one RecordEvents call (one event) per five Rank calls. Latency from the scheduled send time.',
    '',
    '| phase | offered calls/s | accepted calls/s | Rank p99 ms (accepted) | Rank shed | RSS start MiB | RSS end MiB | events acknowledged | events applied |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...phases.map(
      (p) =>
        `| ${p.name} | ${p.offered} | ${p.accepted.toFixed(0)} | ${p.rankP99.toFixed(1)} | ${(100 * p.shed).toFixed(1)}% | ${p.rssStart.toFixed(0)} | ${p.rssEnd.toFixed(0)} | ${p.eventsAcknowledged} | ${p.eventsApplied} |`,
    ),
    '',
  ].join('\n');
  await fs.writeFile(path.join(dir, `loadgen-${values.out}.md`), md);
  process.stdout.write(md);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
