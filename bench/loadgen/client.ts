// The open-loop gRPC load generator's processes. runLoad() (the parent) forks
// N worker processes, each with its own HTTP/2 connection (raw-grpc.ts: the
// request messages are serialized and framed once at start-up, responses are
// read for their status only) and its round-robin share of one seeded
// schedule; they start on a common wall-clock epoch, send every call at its
// scheduled time whether or not earlier calls have returned, and hand back
// their latency recorders (see schedule.ts), which the parent merges. The parent optionally samples the server's CPU time from
// /proc/PID/stat at the start and end of the measurement window.
//
// A worker is this same file run as `node client.js --loadgen-worker`.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { loadProto, SERVICE_NAME } from '../../src/api/proto';
import { CallDone, frameMessage, RawGrpcClient, unframeMessage } from './raw-grpc';
import { ArrivalProcess, buildSchedule, LatencyRecorder, LatencySummary, mulberry32, parseProcStatCpuUs, RecorderSnapshot, workerShare } from './schedule';

export type Mix = 'rank' | 'rank+events';

export interface LoadOptions {
  target: string;
  /** Calls per second offered, all methods and workers together. */
  rate: number;
  /** Measured seconds (after the warm-up). */
  durationS: number;
  warmupS: number;
  workers: number;
  mix: Mix;
  process: ArrivalProcess;
  seed: number;
  /** Users rotate over user-000000 .. user-(users-1). */
  users: number;
  /** Events click a random item among item-0000000 .. item-(items-1). */
  items: number;
  numResults: number;
  timeoutMs: number;
  /** Server process to sample CPU time from (/proc/PID/stat), if any. */
  serverPid?: number;
  /** Run the workers under `taskset -c LIST` (e.g. "1"). */
  clientCpus?: string;
}

export const DEFAULT_LOAD: Omit<LoadOptions, 'target' | 'rate'> = {
  durationS: 20,
  warmupS: 5,
  workers: 2,
  mix: 'rank',
  process: 'poisson',
  seed: 1,
  users: 10_000,
  items: 100_000,
  numResults: 20,
  timeoutMs: 5_000,
};

/** One call in six is RecordEvents under rank+events: one per five Rank calls. */
export function methodOf(globalIndex: number, mix: Mix): 'Rank' | 'RecordEvents' {
  return mix === 'rank+events' && globalIndex % 6 === 5 ? 'RecordEvents' : 'Rank';
}

export const METHODS = ['Rank', 'RecordEvents'] as const;
export type Method = (typeof METHODS)[number];

interface WorkerResult {
  type: 'result';
  worker: number;
  recorders: Record<Method, RecorderSnapshot>;
  sent: number;
  maxInFlight: number;
  cpuUs: number;
  /** Voluntary context switches (the process slept and was woken) over the same span as cpuUs. */
  wakeups: number;
  wallMs: number;
  /** Events RecordEvents acknowledged (its `accepted`), warm-up included. */
  eventsAcknowledged: number;
}

export interface MethodResult {
  calls: number;
  offeredRate: number;
  achievedRate: number;
  ok: number;
  errors: Record<string, number>;
  /** Latency from the scheduled send time (coordinated-omission corrected). */
  latency: LatencySummary;
  /** Latency from the actual send time (what a naive client would report). */
  uncorrected: LatencySummary;
}

export interface LoadResult {
  options: LoadOptions;
  /** Target rate (all methods). */
  offeredRate: number;
  /** OK completions per second in the window (all methods). */
  achievedRate: number;
  methods: Partial<Record<Method, MethodResult>>;
  /** Actual send - scheduled send, all calls in the window: the client's own lag. */
  sendLag: LatencySummary;
  /** Calls sent by the workers, warm-up included. */
  sent: number;
  maxInFlight: number;
  /** Client CPU (all workers, user + system) per call sent, µs. */
  clientCpuUsPerCall: number;
  /** Times a worker slept and was woken (voluntary context switches), all workers, per call sent. */
  clientWakeupsPerCall: number;
  /** Events acknowledged by RecordEvents over the whole run (warm-up included). */
  eventsAcknowledged: number;
  /** Busiest worker's CPU time / wall time (1 = one core saturated). */
  clientCpuMaxUtil: number;
  /** Server CPU per OK Rank call completed in the window, µs (RecordEvents' and rejections' share included). */
  serverCpuUsPerRank?: number;
  /** Server CPU time / window wall time (cores busy). */
  serverCpuUtil?: number;
}

/** Clock ticks per second of /proc CPU times (getconf CLK_TCK; 100 when unknown). */
export function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

async function serverCpuUs(pid: number, ticks: number): Promise<number> {
  return parseProcStatCpuUs(await fs.readFile(`/proc/${pid}/stat`, 'utf8'), ticks);
}

const nowEpochMs = (): number => performance.timeOrigin + performance.now();

/** Forks the workers, runs one open-loop load, merges the results. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const ticks = clockTicks();
  const script = __filename;
  const children: ChildProcess[] = [];
  const results: WorkerResult[] = [];
  const ready = new Set<number>();
  const totalMs = (o.warmupS + o.durationS) * 1000;
  let onReady: () => void = () => undefined;
  let onDone: () => void = () => undefined;
  let onFail: (e: Error) => void = () => undefined;
  const allReady = new Promise<void>((res) => (onReady = res));
  const allDone = new Promise<void>((res) => (onDone = res));
  const failed = new Promise<never>((_, rej) => (onFail = rej));
  failed.catch(() => undefined);
  try {
    for (let w = 0; w < o.workers; w++) {
      const cmd = o.clientCpus ? 'taskset' : process.execPath;
      const args = [...(o.clientCpus ? ['-c', o.clientCpus, process.execPath] : []), script, '--loadgen-worker', JSON.stringify({ worker: w, options: o })];
      const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      child.on('message', (m: { type: string; worker: number }) => {
        if (m.type === 'ready') {
          ready.add(m.worker);
          if (ready.size === o.workers) onReady();
        } else if (m.type === 'result') {
          results.push(m as WorkerResult);
          if (results.length === o.workers) onDone();
        }
      });
      child.on('error', (e) => onFail(e));
      // 'exit' may overtake the last message: look a little later.
      child.on('exit', (code) => setTimeout(() => results.some((r) => r.worker === w) || onFail(new Error(`load worker ${w} exited with ${code} before reporting`)), 500));
    }
    await Promise.race([allReady, failed]);
    const startEpoch = nowEpochMs() + 300;
    for (const c of children) c.send({ type: 'start', startEpoch });
    let serverCpu: Promise<number> | undefined;
    if (o.serverPid !== undefined) {
      const pid = o.serverPid;
      const at = (ms: number) => new Promise<number>((res, rej) => setTimeout(() => serverCpuUs(pid, ticks).then(res, rej), Math.max(0, startEpoch + ms - nowEpochMs())));
      const a = at(o.warmupS * 1000);
      const b = at(totalMs);
      serverCpu = Promise.all([a, b]).then(([x, y]) => y - x);
    }
    await Promise.race([allDone, failed]);
    const serverCpuDelta = serverCpu ? await serverCpu : undefined;
    return mergeResults(o, results, serverCpuDelta);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
}

function mergeResults(o: LoadOptions, results: WorkerResult[], serverCpuDelta: number | undefined): LoadResult {
  const warmupMs = o.warmupS * 1000;
  const endMs = warmupMs + o.durationS * 1000;
  const methods: Partial<Record<Method, MethodResult>> = {};
  const lag = new LatencyRecorder(warmupMs, endMs);
  let achieved = 0;
  for (const m of METHODS) {
    const rec = new LatencyRecorder(warmupMs, endMs);
    for (const r of results) {
      rec.merge(r.recorders[m]);
      lag.merge(r.recorders[m]);
    }
    if (rec.scheduled === 0) continue;
    const s = rec.summary();
    achieved += rec.achievedRate;
    methods[m] = {
      calls: rec.scheduled,
      offeredRate: rec.offeredRate,
      achievedRate: rec.achievedRate,
      ok: rec.ok,
      errors: rec.errors,
      latency: s.corrected,
      uncorrected: s.uncorrected,
    };
  }
  const sent = results.reduce((a, r) => a + r.sent, 0);
  const cpuUs = results.reduce((a, r) => a + r.cpuUs, 0);
  const out: LoadResult = {
    options: o,
    offeredRate: o.rate,
    achievedRate: achieved,
    methods,
    sendLag: lag.summary().sendLag,
    sent,
    maxInFlight: Math.max(...results.map((r) => r.maxInFlight)),
    clientCpuUsPerCall: sent > 0 ? cpuUs / sent : NaN,
    clientWakeupsPerCall: sent > 0 ? results.reduce((a, r) => a + r.wakeups, 0) / sent : NaN,
    clientCpuMaxUtil: Math.max(...results.map((r) => r.cpuUs / 1000 / r.wallMs)),
    eventsAcknowledged: results.reduce((a, r) => a + r.eventsAcknowledged, 0),
  };
  if (serverCpuDelta !== undefined) {
    // OK Rank calls that completed in the window: what the server CPU of the window served
    // (fast rejections under overload are not counted as calls, their CPU is).
    const rankDone = results.reduce((a, r) => a + r.recorders.Rank.okInWindow, 0);
    out.serverCpuUsPerRank = rankDone > 0 ? serverCpuDelta / rankDone : NaN;
    out.serverCpuUtil = serverCpuDelta / 1e6 / o.durationS;
  }
  return out;
}

// ---------------------------------------------------------------- worker side

const SERVICE_PATH = `/${SERVICE_NAME}`;
/** Distinct RecordEvents requests a worker encodes at most; past that its event calls reuse them in order. */
const EVENT_VARIANTS = 1 << 16;

type Serialize = (value: object) => Buffer;
type Deserialize = (bytes: Buffer) => unknown;

function methodCodec(method: Method): { serialize: Serialize; deserialize: Deserialize } {
  const def = loadProto()[SERVICE_NAME] as Record<string, { requestSerialize: Serialize; responseDeserialize: Deserialize }>;
  return { serialize: def[method].requestSerialize, deserialize: def[method].responseDeserialize };
}

const userId = (i: number): string => `user-${String(i).padStart(6, '0')}`;

/**
 * The framed request messages of one worker's share, encoded once: a Rank
 * request per distinct user it calls for (user = global index mod users)
 * and a RecordEvents request per event call (its user, a click on a seeded
 * random item), up to EVENT_VARIANTS of them.
 */
export function encodeRequests(o: Pick<LoadOptions, 'mix' | 'users' | 'items' | 'numResults' | 'seed'>, indices: Uint32Array, worker: number): { rank: Map<number, Buffer>; events: Buffer[] } {
  const rankCodec = methodCodec('Rank');
  const rank = new Map<number, Buffer>();
  const events: Buffer[] = [];
  const eventsCodec = o.mix === 'rank+events' ? methodCodec('RecordEvents') : undefined;
  const rnd = mulberry32((o.seed * 7919 + worker + 1) >>> 0);
  for (const g of indices) {
    const u = g % o.users;
    if (methodOf(g, o.mix) === 'Rank') {
      if (!rank.has(u)) rank.set(u, frameMessage(rankCodec.serialize({ user_id: userId(u), context: { surface: 'SURFACE_HOME', device: 'DEVICE_MOBILE' }, num_results: o.numResults })));
    } else if (eventsCodec && events.length < EVENT_VARIANTS) {
      const item = `item-${String(Math.floor(rnd() * o.items)).padStart(7, '0')}`;
      events.push(frameMessage(eventsCodec.serialize({ events: [{ user_id: userId(u), item_id: item, type: 'ACTION_TYPE_CLICK', timestamp_ms: 0 }] })));
    }
  }
  return { rank, events };
}

/**
 * One Rank call before the run: the framing and the server's answer agree
 * with the proto (an OK response must decode as a RankResponse). A non-OK
 * status is left to the run's own accounting.
 */
async function probe(client: RawGrpcClient, frame: Buffer, timeoutMs: number): Promise<void> {
  const { deserialize } = methodCodec('Rank');
  const [st, body] = await new Promise<[string, Buffer | undefined]>((res) => client.call(`${SERVICE_PATH}/Rank`, frame, timeoutMs, (s, b) => res([s, b]), true));
  if (st !== 'OK') return;
  try {
    if (!body) throw new Error('no response message');
    deserialize(unframeMessage(body));
  } catch (e) {
    throw new Error(`the server's Rank response does not decode as a RankResponse: ${(e as Error).message}`);
  }
}

async function workerMain(): Promise<void> {
  const cfg = JSON.parse(process.argv[process.argv.indexOf('--loadgen-worker') + 1]) as { worker: number; options: LoadOptions };
  const o = cfg.options;
  const w = cfg.worker;
  const schedule = buildSchedule({ rate: o.rate, durationS: o.warmupS + o.durationS, process: o.process, seed: o.seed });
  const { offsets, indices } = workerShare(schedule, w, o.workers);
  const requests = encodeRequests(o, indices, w);
  const eventsCodec = o.mix === 'rank+events' ? methodCodec('RecordEvents') : undefined;
  const client = new RawGrpcClient(o.target);
  await client.connect(10_000);
  const firstRank = requests.rank.values().next();
  if (!firstRank.done) await probe(client, firstRank.value, o.timeoutMs);

  const rankPath = `${SERVICE_PATH}/Rank`;
  const eventsPath = `${SERVICE_PATH}/RecordEvents`;
  const warmupMs = o.warmupS * 1000;
  const endMs = warmupMs + o.durationS * 1000;
  const recorders: Record<Method, LatencyRecorder> = { Rank: new LatencyRecorder(warmupMs, endMs), RecordEvents: new LatencyRecorder(warmupMs, endMs) };

  process.send!({ type: 'ready', worker: w });
  const { startEpoch } = await new Promise<{ startEpoch: number }>((res) => process.once('message', (m: { startEpoch: number }) => res(m)));
  const cpu0 = process.cpuUsage();
  const switches0 = process.resourceUsage().voluntaryContextSwitches;
  const wall0 = nowEpochMs();
  let next = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let sent = 0;
  let eventCalls = 0;
  let acknowledged = 0;
  const pending = new Set<number>();
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((res) => (finish = res));

  const fire = (k: number): void => {
    const g = indices[k];
    const scheduledMs = offsets[k];
    const method = methodOf(g, o.mix);
    const rec = recorders[method];
    const sentMs = nowEpochMs() - startEpoch;
    inFlight++;
    sent++;
    if (inFlight > maxInFlight) maxInFlight = inFlight;
    pending.add(k);
    const done: CallDone = (status, body) => {
      const doneMs = nowEpochMs() - startEpoch;
      // RecordEvents answers a few bytes: decoded for `accepted` (Rank responses are not decoded).
      if (status === 'OK' && body && eventsCodec) {
        try {
          acknowledged += (eventsCodec.deserialize(unframeMessage(body)) as { accepted?: number }).accepted ?? 0;
        } catch {
          // counted as OK (the status says so), acknowledges nothing
        }
      }
      inFlight--;
      pending.delete(k);
      rec.record({ scheduledMs, sentMs, doneMs, status });
      if (next >= offsets.length && inFlight === 0) finish();
    };
    if (method === 'Rank') client.call(rankPath, requests.rank.get(g % o.users)!, o.timeoutMs, done);
    else client.call(eventsPath, requests.events[eventCalls++ % requests.events.length], o.timeoutMs, done, true);
  };
  const tick = (): void => {
    const t = nowEpochMs() - startEpoch;
    while (next < offsets.length && offsets[next] <= t) fire(next++);
    if (next < offsets.length) setTimeout(tick, Math.max(0, offsets[next] - (nowEpochMs() - startEpoch)));
    else if (inFlight === 0) finish();
  };
  setTimeout(tick, Math.max(0, startEpoch - nowEpochMs()));

  // Give up on calls still outstanding well past their deadline.
  const giveUp = setTimeout(finish, Math.max(0, startEpoch + endMs + o.timeoutMs + 5_000 - nowEpochMs()));
  await finished;
  clearTimeout(giveUp);
  for (const k of pending) recorders[methodOf(indices[k], o.mix)].recordIncomplete(offsets[k]);
  const cpu = process.cpuUsage(cpu0);
  const result: WorkerResult = {
    type: 'result',
    worker: w,
    recorders: { Rank: recorders.Rank.snapshot(), RecordEvents: recorders.RecordEvents.snapshot() },
    sent,
    maxInFlight,
    cpuUs: cpu.user + cpu.system,
    wakeups: process.resourceUsage().voluntaryContextSwitches - switches0,
    wallMs: nowEpochMs() - wall0,
    eventsAcknowledged: acknowledged,
  };
  client.close();
  process.send!(result, () => process.exit(0));
}

if (require.main === module && process.argv.includes('--loadgen-worker')) {
  workerMain().catch((err) => {
    console.error(`load worker: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  });
}
