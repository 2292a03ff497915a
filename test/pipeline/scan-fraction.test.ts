import { strict as assert } from 'node:assert';

import { ivfCodeBytes, ivfScanFraction } from '../../src/pipeline/options';

describe('engine: ivfScanFraction (which searches may run on the calling thread)', () => {
  it('is nprobe / nlist for IVF factories, capped at 1', () => {
    assert.equal(ivfScanFraction('IVF1024,Flat', 128), 0.125);
    assert.equal(ivfScanFraction('IVF4096,PQ16', 512), 0.125);
    assert.equal(ivfScanFraction('OPQ16,IVF256,PQ16', 64), 0.25);
    assert.equal(ivfScanFraction('IVF100,Flat', 1000), 1);
    assert.equal(ivfScanFraction('IVF100,Flat', undefined), 0.01, 'FAISS defaults nprobe to 1');
  });

  it('is null for index kinds whose cost it cannot tell (they always run off the event loop)', () => {
    assert.equal(ivfScanFraction('Flat', 10), null);
    assert.equal(ivfScanFraction('HNSW32', 10), null);
    assert.equal(ivfScanFraction('IVF0,Flat', 1), null);
  });
});

describe('engine: ivfCodeBytes (bytes an IVF search reads per scanned vector)', () => {
  it('follows the code type, the two-pass search reading its 8-bit copy', () => {
    assert.equal(ivfCodeBytes('IVF1024,Flat', 32), 128);
    assert.equal(ivfCodeBytes('IVF4096,SQfp16', 64), 128);
    assert.equal(ivfCodeBytes('IVF4096,SQfp16', 64, 1.25), 64);
    assert.equal(ivfCodeBytes('IVF4096,SQ8', 64), 64);
    assert.equal(ivfCodeBytes('IVF4096,PQ16', 64), 16);
    assert.equal(ivfCodeBytes('IVF4096,PQ32x4fs', 64), 16);
    assert.equal(ivfCodeBytes('HNSW32', 64), 256);
  });
});
