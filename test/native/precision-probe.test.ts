// The rule 'auto' applies to measured timings (native/precision-probe.ts).
import * as assert from 'node:assert/strict';

import type { CpuCaps } from '../../src/native/dcn-precision';
import { chooseFromTimings, probeCandidates, REDUCED_MARGIN } from '../../src/native/precision-probe';

const cpu = (c: Partial<CpuCaps>): CpuCaps => ({ isa: 'avx512_core', vnni: false, bf16: false, amx: false, ...c });

describe('precision probe: the choice from timings', () => {
  it('keeps the faster fp32 kernels when no reduced precision is at least 10% faster', () => {
    assert.deepEqual(chooseFromTimings('ranker', { 'fp32/gemm': 463, 'fp32/onednn': 479, bf16: 0.95 * 463 }), { precision: 'fp32', backend: 'gemm' });
    assert.deepEqual(chooseFromTimings('ranker', { 'fp32/gemm': 757, 'fp32/onednn': 513, bf16: 853 }), { precision: 'fp32', backend: 'onednn' });
  });

  it('takes a reduced precision that is at least 10% faster, the fastest of them', () => {
    assert.deepEqual(chooseFromTimings('ranker', { 'fp32/gemm': 463, 'fp32/onednn': 479, bf16: 349 }), { precision: 'bf16' });
    assert.deepEqual(chooseFromTimings('preranker', { 'fp32/gemm': 100, 'fp32/onednn': 110, bf16: 85, int8: 60 }), { precision: 'int8' });
    assert.deepEqual(chooseFromTimings('preranker', { 'fp32/gemm': 100, 'fp32/onednn': 110, bf16: 50, int8: 60 }), { precision: 'bf16' });
    assert.deepEqual(chooseFromTimings('preranker', { 'fp32/gemm': 100, int8: 100 * REDUCED_MARGIN }), { precision: 'int8' });
  });

  it('never picks int8 for the ranker, whatever its timing (it fails the quality bar)', () => {
    assert.deepEqual(chooseFromTimings('ranker', { 'fp32/gemm': 500, 'fp32/onednn': 500, int8: 100 }), { precision: 'fp32', backend: 'gemm' });
  });

  it('times bf16 only with native bf16 dot products, int8 only with VNNI or AMX and a calibration', () => {
    assert.deepEqual(probeCandidates('ranker', cpu({}), true), ['fp32/gemm', 'fp32/onednn']);
    assert.deepEqual(probeCandidates('ranker', cpu({ bf16: true, vnni: true }), true), ['fp32/gemm', 'fp32/onednn', 'bf16']);
    assert.deepEqual(probeCandidates('preranker', cpu({ bf16: true, vnni: true }), true), ['fp32/gemm', 'fp32/onednn', 'bf16', 'int8']);
    assert.deepEqual(probeCandidates('preranker', cpu({ vnni: true }), false), ['fp32/gemm', 'fp32/onednn']);
    assert.deepEqual(probeCandidates('preranker', cpu({ amx: true }), true), ['fp32/gemm', 'fp32/onednn', 'bf16', 'int8']);
  });
});
