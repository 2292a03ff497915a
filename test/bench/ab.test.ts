// bench/ab.js reads bench/cascade.js's printed report: the parser against a
// report as cascade.js prints it, and the median over pairs.
import { strict as assert } from 'node:assert';

import { median, parseCascadeReport } from '../../bench/ab';

const REPORT = `# Rank cascade in-process: w2 (1000000 items, d = 64)

2026-11-23T02:50:11.770Z · commit \`2b324cb\` · AMD EPYC (2 cores) · Node v20.20.2 · load avg 1.10 · \`node dist/bench/cascade.js --workload w2 --calls 1200\`

K = 1000, M = 200, heavy budget 20%, dpp, 50 results; scorer native.

| calls/s | wall p50 µs | p90 µs | p99 µs | main-thread CPU µs/call | other threads CPU µs/call |
|---:|---:|---:|---:|---:|---:|
| 168 | 5631 | 7447 | 11351 | 3042 | 2925 |

| stage | mean ms (wall, incl. waits) |
|---|---:|
| user_state | 0.025 |
| retrieval | 1.723 |
| policy | 0.804 |

CPU from /proc/self/task/*/stat (10 ms ticks, summed over the run).`;

describe('bench/ab: before/after pairs', () => {
  it('reads calls/s, p50, p99, CPU per call and the stage means of a cascade report', () => {
    assert.deepEqual(parseCascadeReport(REPORT), {
      callsPerSecond: 168,
      p50Us: 5631,
      p99Us: 11351,
      mainCpuUs: 3042,
      otherCpuUs: 2925,
      stages: { user_state: 0.025, retrieval: 1.723, policy: 0.804 },
    });
  });

  it('refuses output without the table or with an unreadable row', () => {
    assert.throws(() => parseCascadeReport('Error: no world'), /no cascade table/);
    assert.throws(() => parseCascadeReport(REPORT.replace('| 168 | 5631 |', '| 168 | n/a |')), /unreadable cascade row/);
  });

  it('median of odd and even counts', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});
