import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  BATCH_ROW_BUCKETS,
  CANDIDATE_BUCKETS,
  FRACTION_BUCKETS,
  LATENCY_BUCKETS,
  createMetrics,
  grpcStatusName,
} from '../../src/metrics/metrics';
import type { Metrics } from '../../src/metrics/metrics';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

/** Parses the Prometheus text format (0.0.4) into families keyed by metric name. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { type: 'untyped', help: '', samples: [] }));
    return f;
  };
  const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
  const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^# TYPE (\S+) (\S+)$/))) {
      family(m[1]!).type = m[2]!;
    } else if ((m = line.match(/^# HELP (\S+) (.*)$/))) {
      family(m[1]!).help = m[2]!;
    } else if (line.startsWith('#')) {
      continue;
    } else {
      m = line.match(sampleLine);
      assert.ok(m, `unparseable exposition line: ${line}`);
      const name = m[1]!;
      const labels: Record<string, string> = {};
      for (const lp of (m[2] ?? '').matchAll(labelPair)) labels[lp[1]!] = lp[2]!.replace(/\\(.)/g, '$1');
      const base = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
      family(base).samples.push({ name, labels, value: Number(m[3]) });
    }
  }
  return families;
}

/** Every series name a registry exposes (histograms with their _bucket/_sum/_count). */
async function seriesNames(metrics: Metrics): Promise<Set<string>> {
  const names = new Set<string>();
  for (const [name, f] of parseExposition(await metrics.text())) {
    names.add(name);
    if (f.type === 'histogram' || f.type === 'summary') {
      for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    }
  }
  return names;
}

function sample(fams: Map<string, Family>, name: string, labels: Record<string, string> = {}): Sample | undefined {
  const fam = fams.get(name.replace(/_(bucket|sum|count)$/, '')) ?? fams.get(name);
  return fam?.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

const ENGINE_METRICS: Record<string, string> = {
  requests_total: 'counter',
  request_duration_seconds: 'histogram',
  stage_duration_seconds: 'histogram',
  stage_candidates_in: 'histogram',
  stage_candidates_out: 'histogram',
  strong_model_fraction: 'histogram',
  batch_rows: 'histogram',
  batch_queue_wait_seconds: 'histogram',
  pool_utilization: 'gauge',
  pool_queue_depth: 'gauge',
  events_ingested_total: 'counter',
  catalog_items: 'gauge',
  bundle_info: 'gauge',
  degraded_total: 'counter',
  candidates_dropped_total: 'counter',
  policy_rule_unmet_total: 'counter',
  user_embedding_cache_total: 'counter',
};

function observeAll(m: Metrics): void {
  m.observeRequest('Rank', 0, 0.0042);
  m.observeRequest('Rank', 3, 0.0007);
  m.observeRequest('RecordEvents', 'RESOURCE_EXHAUSTED', 0.0001);
  m.observeStage('retrieval', 0.0012, 0, 1000);
  m.observeStage('prerank', 0.0021, 1000, 200);
  m.strongModelFraction.observe(0.25);
  m.observeBatch('dcn', 48, 0.0003);
  m.poolUtilization.set(0.5);
  m.poolQueueDepth.set(3);
  m.eventsIngested.inc({ action: 'click' }, 5);
  m.catalogItems.set(12345);
  m.setBundle('demo', 'v1');
  m.degraded.inc({ reason: 'deadline_skip_diversity' });
  m.candidatesDropped.inc({ stage: 'prerank', reason: 'non_finite_score' });
  m.policyRuleUnmet.inc({ rule: 'brand_run' });
  m.userEmbeddingCache.inc({ result: 'hit' });
}

describe('server/metrics', () => {
  it('exposes every metric with the default prefix and the right type after observations', async () => {
    const m = createMetrics();
    assert.equal(m.prefix, 'ranking_');
    observeAll(m);
    const fams = parseExposition(await m.text());
    for (const [name, type] of Object.entries(ENGINE_METRICS)) {
      const fam = fams.get(`ranking_${name}`);
      assert.ok(fam, `ranking_${name} missing`);
      assert.equal(fam.type, type, `ranking_${name} type`);
      assert.ok(fam.help.length > 0, `ranking_${name} has no help`);
      assert.ok(fam.samples.length > 0, `ranking_${name} has no samples`);
    }
    assert.equal(sample(fams, 'ranking_requests_total', { method: 'Rank', code: 'OK' })?.value, 1);
    assert.equal(sample(fams, 'ranking_requests_total', { method: 'Rank', code: 'INVALID_ARGUMENT' })?.value, 1);
    assert.equal(
      sample(fams, 'ranking_requests_total', { method: 'RecordEvents', code: 'RESOURCE_EXHAUSTED' })?.value,
      1,
    );
    assert.equal(sample(fams, 'ranking_request_duration_seconds_count', { method: 'Rank' })?.value, 2);
    assert.equal(sample(fams, 'ranking_request_duration_seconds_bucket', { method: 'Rank', le: '0.005' })?.value, 2);
    assert.equal(sample(fams, 'ranking_request_duration_seconds_bucket', { method: 'Rank', le: '0.003' })?.value, 1);
    assert.equal(sample(fams, 'ranking_stage_candidates_in_sum', { stage: 'prerank' })?.value, 1000);
    assert.equal(sample(fams, 'ranking_stage_candidates_out_sum', { stage: 'prerank' })?.value, 200);
    assert.equal(sample(fams, 'ranking_batch_rows_bucket', { model: 'dcn', le: '64' })?.value, 1);
    assert.equal(sample(fams, 'ranking_batch_rows_bucket', { model: 'dcn', le: '32' })?.value, 0);
    assert.equal(sample(fams, 'ranking_strong_model_fraction_sum')?.value, 0.25);
    assert.equal(sample(fams, 'ranking_pool_utilization')?.value, 0.5);
    assert.equal(sample(fams, 'ranking_pool_queue_depth')?.value, 3);
    assert.equal(sample(fams, 'ranking_events_ingested_total', { action: 'click' })?.value, 5);
    assert.equal(sample(fams, 'ranking_catalog_items')?.value, 12345);
    assert.equal(sample(fams, 'ranking_degraded_total', { reason: 'deadline_skip_diversity' })?.value, 1);
    // Node's default process metrics, unprefixed, in the same registry.
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
      assert.ok(fams.has(name), `${name} missing`);
    }
  });

  it('uses a custom prefix and can leave out the default metrics', async () => {
    const m = createMetrics({ prefix: 'rk_', defaultMetrics: false });
    observeAll(m);
    const fams = parseExposition(await m.text());
    for (const name of Object.keys(ENGINE_METRICS)) assert.ok(fams.has(`rk_${name}`), `rk_${name} missing`);
    for (const name of fams.keys()) assert.ok(name.startsWith('rk_'), `${name} not prefixed`);
    assert.throws(() => createMetrics({ prefix: 'bad-prefix' }), TypeError);
  });

  it('setBundle replaces the previous bundle_info label values', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.setBundle('demo', 'v1');
    m.setBundle('demo', 'v2');
    let fams = parseExposition(await m.text());
    const samples = fams.get('ranking_bundle_info')!.samples;
    assert.deepEqual(samples.map((s) => [s.labels, s.value]), [[{ name: 'demo', version: 'v2' }, 1]]);
    m.setBundle('other', 'v9');
    fams = parseExposition(await m.text());
    assert.deepEqual(
      fams.get('ranking_bundle_info')!.samples.map((s) => s.labels),
      [{ name: 'other', version: 'v9' }],
    );
  });

  it('keeps two instances independent', async () => {
    const a = createMetrics();
    const b = createMetrics();
    assert.notEqual(a.registry, b.registry);
    a.observeRequest('Rank', 0, 0.001);
    a.observeRequest('Rank', 0, 0.001);
    b.observeRequest('Rank', 14, 0.002);
    a.setBundle('a', '1');
    b.setBundle('b', '2');
    const fa = parseExposition(await a.text());
    const fb = parseExposition(await b.text());
    assert.equal(sample(fa, 'ranking_requests_total', { method: 'Rank', code: 'OK' })?.value, 2);
    assert.equal(sample(fa, 'ranking_requests_total', { code: 'UNAVAILABLE' }), undefined);
    assert.equal(sample(fb, 'ranking_requests_total', { method: 'Rank', code: 'UNAVAILABLE' })?.value, 1);
    assert.equal(sample(fb, 'ranking_requests_total', { code: 'OK' }), undefined);
    assert.deepEqual(fa.get('ranking_bundle_info')!.samples.map((s) => s.labels.name), ['a']);
    assert.deepEqual(fb.get('ranking_bundle_info')!.samples.map((s) => s.labels.name), ['b']);
  });

  it('runs the collect hook once per scrape, awaits async hooks, and survives failing ones', async () => {
    const m = createMetrics({ defaultMetrics: false });
    let calls = 0;
    m.collect = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      m.poolUtilization.set(0.75);
      m.poolQueueDepth.set(calls);
      m.catalogItems.set(42);
    };
    let fams = parseExposition(await m.text());
    assert.equal(calls, 1);
    assert.equal(sample(fams, 'ranking_pool_utilization')?.value, 0.75);
    assert.equal(sample(fams, 'ranking_pool_queue_depth')?.value, 1);
    assert.equal(sample(fams, 'ranking_catalog_items')?.value, 42);

    m.collect = () => {
      throw new Error('pool gone');
    };
    fams = parseExposition(await m.text());
    assert.equal(sample(fams, 'ranking_pool_queue_depth')?.value, 1, 'previous value kept');
    m.collect = () => Promise.reject(new Error('pool gone'));
    fams = parseExposition(await m.text());
    assert.equal(sample(fams, 'ranking_catalog_items')?.value, 42);

    m.collect = () => m.poolQueueDepth.set(7);
    fams = parseExposition(await m.text());
    assert.equal(sample(fams, 'ranking_pool_queue_depth')?.value, 7);
  });

  it('has buckets fine enough for millisecond percentiles', () => {
    assert.equal(LATENCY_BUCKETS[0], 0.0001);
    assert.equal(LATENCY_BUCKETS[LATENCY_BUCKETS.length - 1], 1);
    for (let i = 1; i < LATENCY_BUCKETS.length; i++) {
      const ratio = LATENCY_BUCKETS[i]! / LATENCY_BUCKETS[i - 1]!;
      assert.ok(ratio > 1.2 && ratio <= 2, `latency step ${LATENCY_BUCKETS[i - 1]} -> ${LATENCY_BUCKETS[i]}`);
    }
    // At least 4 buckets between 1 ms and 10 ms.
    assert.ok(LATENCY_BUCKETS.filter((b) => b > 0.001 && b < 0.01).length >= 4);
    for (const b of [CANDIDATE_BUCKETS, BATCH_ROW_BUCKETS, FRACTION_BUCKETS]) {
      for (let i = 1; i < b.length; i++) assert.ok(b[i]! > b[i - 1]!);
    }
    assert.equal(FRACTION_BUCKETS[FRACTION_BUCKETS.length - 1], 1);
  });

  it('names gRPC status codes', () => {
    assert.equal(grpcStatusName(0), 'OK');
    assert.equal(grpcStatusName(8), 'RESOURCE_EXHAUSTED');
    assert.equal(grpcStatusName(16), 'UNAUTHENTICATED');
    assert.equal(grpcStatusName(17), 'UNKNOWN');
    assert.equal(grpcStatusName(-1), 'UNKNOWN');
    assert.equal(grpcStatusName(1.5), 'UNKNOWN');
  });
});

describe('server/metrics: promtool check metrics', () => {
  // promtool ships with Debian's prometheus package (scripts/install-system-deps.sh).
  // Locally a missing promtool skips this test, with the reason in its title; under CI=true it must run.
  it('accepts the whole exposition, engine and default process metrics', async function () {
    const m = createMetrics();
    observeAll(m);
    const text = await m.text();
    const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      if (process.env.CI === 'true') assert.fail('promtool is not installed (Debian package prometheus; see scripts/install-system-deps.sh), and CI=true requires this check');
      this.test!.title += ' (skipped: promtool not installed; Debian package prometheus)';
      this.skip();
    }
    assert.ifError(run.error);
    assert.equal(run.status, 0, `promtool check metrics exited ${run.status}:\n${run.stdout}${run.stderr}`);
    assert.equal(`${run.stdout}${run.stderr}`.trim(), '', 'no lint findings');
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds', 'nodejs_active_handles']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is still exposed`);
    }
  });

  it('accepts deploy/prometheus.yml (the deployment that scrapes every replica)', function () {
    const file = resolve(__dirname, '..', '..', '..', 'deploy', 'prometheus.yml');
    const run = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
    if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      if (process.env.CI === 'true') assert.fail('promtool is not installed, and CI=true requires this check');
      this.skip();
    }
    assert.equal(run.status, 0, `promtool check config exited ${run.status}:\n${run.stdout}${run.stderr}`);
  });
});

// ---------------------------------------------------------------------------
// docs/grafana-dashboard.json

const PROMQL_KEYWORDS = new Set([
  'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
]);
const KNOWN_LABELS = new Set(['rule', 'result', 'kind', 'method', 'code', 'stage', 'model', 'action', 'reason', 'name', 'version', 'le', 'instance', 'job']);

/** Metric names and grouping labels referenced by a PromQL expression. */
function promqlRefs(expr: string): { metrics: string[]; labels: string[] } {
  const labels: string[] = [];
  let s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_all, list: string) => {
      labels.push(...list.split(',').map((l) => l.trim()).filter((l) => l !== ''));
      return ' ';
    });
  s = s.replace(/\$\w+/g, ' ');
  const metrics: string[] = [];
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const tok = m[0];
    const start = m.index!;
    if (start > 0 && /[0-9.]/.test(s[start - 1]!)) continue; // exponent of a number literal
    if (s.slice(start + tok.length).trimStart().startsWith('(')) continue; // function / aggregation
    if (PROMQL_KEYWORDS.has(tok.toLowerCase())) continue;
    metrics.push(tok);
  }
  return { metrics, labels };
}

interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string }[];
  panels?: Panel[];
}

describe('docs/grafana-dashboard.json', () => {
  const file = resolve(__dirname, '../../../docs/grafana-dashboard.json');
  const dash = JSON.parse(readFileSync(file, 'utf8')) as {
    schemaVersion: number;
    title: string;
    uid: string;
    __inputs: { name: string; type: string; pluginId: string }[];
    panels: Panel[];
  };
  const panels = dash.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

  it('is a schemaVersion 39 dashboard with a ${DS_PROMETHEUS} input', () => {
    assert.equal(dash.schemaVersion, 39);
    assert.ok(dash.title && dash.uid);
    assert.ok(dash.__inputs.some((i) => i.name === 'DS_PROMETHEUS' && i.type === 'datasource' && i.pluginId === 'prometheus'));
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of panels.filter((q) => q.type !== 'row')) {
      assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', `panel ${p.title} datasource`);
      assert.ok((p.targets ?? []).length > 0, `panel ${p.title} has no query`);
    }
  });

  it('queries only metrics that createMetrics defines (or process_/nodejs_ ones), and all of them', async () => {
    const defined = await seriesNames(createMetrics({ defaultMetrics: false }));
    const used = new Set<string>();
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
    assert.ok(exprs.length >= 12);
    for (const expr of exprs) {
      const { metrics, labels } = promqlRefs(expr);
      assert.ok(metrics.length > 0, `no metric in ${expr}`);
      for (const name of metrics) {
        used.add(name);
        assert.ok(
          defined.has(name) || /^(process|nodejs)_/.test(name),
          `${name} (in ${expr}) is not a metric createMetrics defines`,
        );
      }
      for (const l of labels) assert.ok(KNOWN_LABELS.has(l), `unknown label ${l} in ${expr}`);
      if (expr.includes('histogram_quantile')) {
        assert.match(expr, /histogram_quantile\([\d.]+, sum by \(le\b[^)]*\) \(rate\(\w+_bucket\{/);
      }
    }
    for (const name of Object.keys(ENGINE_METRICS)) {
      assert.ok(
        [...used].some((u) => u === `ranking_${name}` || u.startsWith(`ranking_${name}_`)),
        `ranking_${name} is not on the dashboard`,
      );
    }
  });

  it('extracts metric names from PromQL correctly', () => {
    assert.deepEqual(
      promqlRefs(
        'histogram_quantile(0.99, sum by (le, method) (rate(ranking_x_bucket{code!="OK", a=~"$v"}[$__rate_interval]))) / 1e-3 + on(instance) group_left y_total offset 5m',
      ),
      { metrics: ['ranking_x_bucket', 'y_total'], labels: ['le', 'method', 'instance'] },
    );
  });
});
