// The Rank response's own protobuf encoder against proto-loader's: the bytes
// it writes decode to what the object form encodes to, for every field.
import * as assert from 'node:assert/strict';

import type { MethodDefinition } from '@grpc/proto-loader';

import type { RankOutput, RankedRow } from '../../src/pipeline/request';
import { PROVENANCE } from '../../src/pipeline/types';
import { loadProto, SERVICE_NAME } from '../../src/api/proto';
import { RankResponse, rankResponseSerializer, RowNames } from '../../src/api/rank-response';

const rank = loadProto()[SERVICE_NAME] as unknown as Record<string, MethodDefinition<object, object>>;
const { responseSerialize: serialize, responseDeserialize: deserialize } = rank.Rank;

const names: RowNames = {
  ids: ['item-0', 'ïtem-ü', '🙂-emoji', '', 'x'.repeat(300), 'item-5'],
  brand: Int32Array.of(0, 1, 2, 0, 1, 2),
  category: Int32Array.of(1, 0, 1, 0, 1, 0),
  brands: { names: ['brand-a', 'marke-ß', ''] },
  categories: { names: ['boots', 'sandálias'] },
};
const OBJECTIVES = ['click', 'wishlist', 'cart', 'purchase'];

function row(r: number, over: Partial<RankedRow> = {}): RankedRow {
  return { row: r, score: 1.5 - r * 0.25, objectives: Float32Array.of(0.5, 0.25 / (r + 1), 0, 1e-9), provenance: PROVENANCE.retrieved, strong: r % 2 === 0, exploration: false, ...over };
}

function output(over: Partial<RankOutput> = {}): RankOutput {
  return { items: [], bundleVersion: '1.0.0+seed7', degraded: false, degradations: [], stages: [], removed: [], ...over };
}

/** Both encodings, decoded. */
function both(out: RankOutput, unknown: string[] = [], requestId = 'req-1'): { mine: object; theirs: object; bytes: Buffer } {
  const res = new RankResponse(out, names, OBJECTIVES, unknown, requestId);
  const bytes = res.encode();
  return { mine: deserialize(bytes), theirs: deserialize(serialize(res.toObject())), bytes };
}

describe('Rank response encoding', () => {
  it('decodes to what proto-loader encodes from the object form, for every field', () => {
    const out = output({
      items: [
        row(0, { stageScores: [{ stage: 'retrieval', score: 0.75 }, { stage: 'light', score: -2 }, { stage: 'policy', score: 0 }] }),
        row(1, { provenance: PROVENANCE.fresh, exploration: true, score: -0 }),
        row(2, { provenance: PROVENANCE.provided, score: 0 }),
        row(3),
        row(4, { objectives: Float32Array.of(1, 1, 1, 1) }),
      ],
      degraded: true,
      degradations: ['smaller_k', 'no_diversity'],
      stages: [
        { stage: 'retrieval', millis: 1.234567, candidatesIn: 0, candidatesOut: 1050, note: '' },
        { stage: 'policy', millis: 0, candidatesIn: 4_000_000_000, candidatesOut: 10, note: 'brand-run limit 2 not met' },
      ],
      removed: [
        { row: 5, stage: 'prerank', reason: 'non_finite_score' },
        { row: 1, stage: 'policy', reason: 'purchased' },
      ],
    });
    const { mine, theirs } = both(out, ['missing-1', '', 'missing-ü'], 'req-ß-42');
    assert.deepEqual(mine, theirs);
  });

  it('an empty response, and one without a request id', () => {
    assert.deepEqual(both(output()).mine, both(output()).theirs);
    const { mine, theirs, bytes } = both(output({ bundleVersion: '' }), [], '');
    assert.deepEqual(mine, theirs);
    assert.equal(bytes.length, 0);
  });

  it('grows its buffer past 16 KB and writes lengths of two and three bytes', () => {
    const items = Array.from({ length: 400 }, (_, i) => row(i % names.ids.length, { stageScores: [{ stage: 's'.repeat(i), score: i }] }));
    const { mine, theirs, bytes } = both(output({ items, degradations: ['d'.repeat(20_000)] }));
    assert.ok(bytes.length > 16 << 10, String(bytes.length));
    assert.deepEqual(mine, theirs);
    // A second response after the large one is not polluted by its bytes.
    const small = both(output({ items: [row(0)] }));
    assert.deepEqual(small.mine, small.theirs);
  });

  it('the gRPC serializer encodes a RankResponse itself and passes anything else on', () => {
    const calls: unknown[] = [];
    const ser = rankResponseSerializer((v) => (calls.push(v), Buffer.from('fallback')));
    const res = new RankResponse(output({ items: [row(0)] }), names, OBJECTIVES, [], 'r');
    assert.deepEqual(ser(res), res.encode());
    assert.deepEqual(ser({ items: [] }), Buffer.from('fallback'));
    assert.deepEqual(calls, [{ items: [] }]);
  });
});
