// Dedupe: content-hash duplicates, near-duplicate embeddings (cosine, norm
// independent), comparison with kept candidates only, and a plain reference.
import * as assert from 'node:assert/strict';
import { dedupe, DedupeReason } from '../../../src/stages/policy/dedupe';
import { mulberry32, normalArray, permutation, Rng } from '../../oracles/random';

/** A catalog from 2-d rows given as angles (radians) and norms; hashes all distinct unless given. */
function planar(angles: number[], norms?: number[], hashes?: number[]) {
  const embeddings = new Float32Array(angles.length * 2);
  angles.forEach((a, i) => {
    const r = norms?.[i] ?? 1;
    embeddings[2 * i] = r * Math.cos(a);
    embeddings[2 * i + 1] = r * Math.sin(a);
  });
  const contentHash = Int32Array.from(hashes ?? angles.map((_, i) => 1000 + i));
  return { embeddings, contentHash };
}

/** The rule in plain code (double precision cosines). */
function reference(rows: Int32Array, hash: Int32Array, emb: Float32Array, dim: number, thr: number) {
  const kept: number[] = [];
  const removed: number[] = [];
  const reasons: DedupeReason[] = [];
  const vec = (r: number) => Array.from(emb.subarray(r * dim, (r + 1) * dim));
  const cos = (a: number[], b: number[]) => {
    const dot = a.reduce((s, x, i) => s + x * b[i], 0);
    const na = Math.hypot(...a);
    const nb = Math.hypot(...b);
    return na > 0 && nb > 0 ? dot / (na * nb) : 0;
  };
  rows.forEach((row, i) => {
    if (kept.some((k) => hash[rows[k]] === hash[row])) return void (removed.push(i), reasons.push('duplicate-content'));
    if (kept.some((k) => cos(vec(rows[k]), vec(row)) >= thr)) return void (removed.push(i), reasons.push('near-duplicate'));
    kept.push(i);
  });
  return { kept, removed, reasons };
}

/** Catalog of `base` random directions plus perturbed, rescaled copies and shared hashes. */
function randomCatalog(rng: Rng, base: number, copies: number, dim: number) {
  const n = base + copies;
  const embeddings = normalArray(rng, n * dim);
  const contentHash = Int32Array.from({ length: n }, (_, i) => i);
  for (let c = base; c < n; c++) {
    const src = Math.floor(rng() * base);
    const noise = rng() < 0.5 ? 0.01 : 1; // cosine ~0.99999 or ~0.96: far from 0.995
    const scale = 0.2 + 3 * rng();
    for (let d = 0; d < dim; d++) embeddings[c * dim + d] = scale * (embeddings[src * dim + d] + noise * (rng() - 0.5));
    if (rng() < 0.3) contentHash[c] = contentHash[src];
  }
  return { embeddings, contentHash };
}

describe('policy: dedupe', () => {
  it('drops later items with a kept content hash, keeping the first', () => {
    const { embeddings } = planar([0, 1, 2, 3, 4]);
    const contentHash = Int32Array.of(7, 8, 7, 9, 8);
    const out = dedupe(Int32Array.of(0, 1, 2, 3, 4), contentHash, embeddings, 2);
    assert.deepEqual(Array.from(out.keep), [0, 1, 3]);
    assert.deepEqual(Array.from(out.removed), [2, 4]);
    assert.deepEqual(out.reasons, ['duplicate-content', 'duplicate-content']);
  });

  it('drops near-identical embeddings whatever their norms, keeps ones below the threshold', () => {
    // cos(0.05) = 0.99875 >= 0.995; cos(0.2) = 0.980 < 0.995; row 3 is row 0 scaled by 3.
    const { embeddings, contentHash } = planar([0, 0.05, 0.2, 0, Math.PI], [1, 0.5, 1, 3, 1]);
    const out = dedupe(Int32Array.of(0, 1, 2, 3, 4), contentHash, embeddings, 2);
    assert.deepEqual(Array.from(out.keep), [0, 2, 4]);
    assert.deepEqual(Array.from(out.removed), [1, 3]);
    assert.deepEqual(out.reasons, ['near-duplicate', 'near-duplicate']);
  });

  it('compares only with kept candidates (a chain a~b~c, a!~c keeps a and c)', () => {
    const step = Math.acos(0.997); // cos(a,b) = cos(b,c) = 0.997, cos(a,c) = 0.988
    const { embeddings, contentHash } = planar([0, step, 2 * step]);
    const out = dedupe(Int32Array.of(0, 1, 2), contentHash, embeddings, 2);
    assert.deepEqual(Array.from(out.keep), [0, 2]);
    assert.deepEqual(Array.from(out.removed), [1]);
  });

  it('follows the candidate order, not the catalog order, and honours the threshold', () => {
    const { embeddings, contentHash } = planar([0, 0.05, 1]);
    assert.deepEqual(Array.from(dedupe(Int32Array.of(2, 1, 0), contentHash, embeddings, 2).removed), [2]);
    const loose = dedupe(Int32Array.of(0, 1, 2), contentHash, embeddings, 2, 0.5); // cos(1) = 0.54
    assert.deepEqual(Array.from(loose.keep), [0]);
    const off = dedupe(Int32Array.of(0, 1, 2), contentHash, embeddings, 2, 1.5);
    assert.deepEqual(Array.from(off.keep), [0, 1, 2]);
  });

  it('never calls a zero embedding a near-duplicate', () => {
    const { embeddings, contentHash } = planar([0, 0, 0], [0, 0, 1]);
    assert.deepEqual(Array.from(dedupe(Int32Array.of(0, 1, 2), contentHash, embeddings, 2).keep), [0, 1, 2]);
  });

  it('matches the plain reference on random catalogs with planted duplicates', () => {
    const rng = mulberry32(11);
    let nearSeen = 0;
    let contentSeen = 0;
    for (let trial = 0; trial < 40; trial++) {
      const dim = 8 + Math.floor(rng() * 24);
      const cat = randomCatalog(rng, 30, 30, dim);
      const rows = permutation(rng, 60).slice(0, 20 + Math.floor(rng() * 40));
      const got = dedupe(rows, cat.contentHash, cat.embeddings, dim);
      const want = reference(rows, cat.contentHash, cat.embeddings, dim, 0.995);
      assert.deepEqual(Array.from(got.keep), want.kept, `trial ${trial}`);
      assert.deepEqual(Array.from(got.removed), want.removed, `trial ${trial}`);
      assert.deepEqual(got.reasons, want.reasons, `trial ${trial}`);
      nearSeen += want.reasons.filter((r) => r === 'near-duplicate').length;
      contentSeen += want.reasons.filter((r) => r === 'duplicate-content').length;
    }
    assert.ok(nearSeen > 20 && contentSeen > 20, `the data exercises both rules (${nearSeen}, ${contentSeen})`);
  });

  it('matches the plain reference at d = 64 and 40 over many kept vectors, at several thresholds', () => {
    // Copies at a controlled cosine with their base (never within 2e-3 of a
    // threshold), so the coordinate-prefix bound has to let exactly the true
    // near-duplicates through to the full comparison.
    const rng = mulberry32(29);
    const thresholds = [0.995, 0.98, 0.9, 0.6];
    let near = 0;
    for (const dim of [64, 40]) {
      for (let trial = 0; trial < 6; trial++) {
        const thr = thresholds[trial % thresholds.length];
        const base = 150;
        const copies = 120;
        const n = base + copies;
        const embeddings = normalArray(rng, n * dim);
        const contentHash = Int32Array.from({ length: n }, (_, i) => i);
        for (let c = base; c < n; c++) {
          const src = Math.floor(rng() * base);
          let cos = thr + (rng() < 0.5 ? 1 : -1) * (0.002 + 0.05 * rng());
          cos = Math.min(cos, 0.99999);
          const b = embeddings.subarray(src * dim, (src + 1) * dim);
          const w = normalArray(rng, dim);
          // w orthogonal to b, both unit: copy = cos * b + sin * w, then scaled.
          const bb = Math.hypot(...b);
          const wb = w.reduce((a, x, i) => a + x * b[i], 0) / (bb * bb);
          for (let i = 0; i < dim; i++) w[i] -= wb * b[i];
          const ww = Math.hypot(...w);
          const scale = 0.3 + 2 * rng();
          for (let i = 0; i < dim; i++) embeddings[c * dim + i] = scale * (cos * (b[i] / bb) + Math.sqrt(1 - cos * cos) * (w[i] / ww));
        }
        const rows = permutation(rng, n).slice(0, 130 + Math.floor(rng() * 140));
        const got = dedupe(rows, contentHash, embeddings, dim, thr);
        const want = reference(rows, contentHash, embeddings, dim, thr);
        assert.deepEqual(Array.from(got.keep), want.kept, `dim ${dim} trial ${trial}`);
        assert.deepEqual(got.reasons, want.reasons, `dim ${dim} trial ${trial}`);
        near += want.removed.length;
      }
    }
    assert.ok(near > 100, `the data has near-duplicates (${near})`);
  });

  it('at a threshold <= 0 a kept zero vector (cosine 0) matches later candidates', () => {
    const { embeddings, contentHash } = planar([0, 0, 2, 3], [0, 1, 1, 1]);
    // cos(0, 2) = -0.42 >= -0.5; cos(0, 3) = -0.99 < -0.5 but row 1 is already a match of the zero row.
    const out = dedupe(Int32Array.of(0, 1, 2, 3), contentHash, embeddings, 2, -0.5);
    assert.deepEqual(Array.from(out.keep), [0]);
    assert.deepEqual(Array.from(dedupe(Int32Array.of(1, 2, 3), contentHash, embeddings, 2, -0.5).keep), [0, 2]);
  });

  it('handles an empty candidate list and rejects bad inputs', () => {
    const { embeddings, contentHash } = planar([0, 1]);
    const empty = dedupe(new Int32Array(0), contentHash, embeddings, 2);
    assert.equal(empty.keep.length + empty.removed.length, 0);
    assert.throws(() => dedupe(Int32Array.of(2), contentHash, embeddings, 2), RangeError);
    assert.throws(() => dedupe(Int32Array.of(0), contentHash, embeddings, 3), RangeError);
    assert.throws(() => dedupe(Int32Array.of(0), Int32Array.of(1), embeddings, 2), RangeError);
    assert.throws(() => dedupe(Int32Array.of(0), contentHash, embeddings, 2, NaN), RangeError);
  });
});
