// Distance kernels with runtime CPU dispatch: AVX2+FMA where the CPU has it,
// portable scalar code (four accumulators) otherwise. The choice is made once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rank {
namespace simd {

// <a, b> over d floats.
float Dot(const float* a, const float* b, size_t d);
// ||a - b||^2 over d floats.
float L2Sqr(const float* a, const float* b, size_t d);
// out[i] = <q, base + i*d> for i in [0, n): contiguous rows.
void DotRows(const float* q, const float* base, size_t n, size_t d, float* out);
// out[i] = ||q - (base + i*d)||^2 for i in [0, n).
void L2Rows(const float* q, const float* base, size_t n, size_t d, float* out);
// out[i] = <q, base + rows[i]*d>: rows gathered from a shared matrix.
void DotGather(const float* q, const float* base, const int32_t* rows, size_t n, size_t d,
               float* out);

// The same over rows of half-precision floats (IEEE binary16, the codes of
// FAISS's QT_fp16 scalar quantizer), widened to float as they are read.
void DotRowsF16(const float* q, const uint16_t* base, size_t n, size_t d, float* out);
void L2RowsF16(const float* q, const uint16_t* base, size_t n, size_t d, float* out);

// Over rows of byte codes c (FAISS's 8-bit scalar quantizer), as floats:
// out[r] = sum_i q_i c_i, and out[r] = sum_i (a_i - s_i c_i)^2.
void DotRowsU8(const float* q, const uint8_t* base, size_t n, size_t d, float* out);
void L2RowsU8(const float* a, const float* s, const uint8_t* base, size_t n, size_t d, float* out);

// out[k] = sum_{j<p} (x[j] - cols[j * stride + k])^2 for k in [0, n): the
// distance over the first p coordinates to n vectors stored dim-major (a
// column per vector), computed 8 vectors at a time without horizontal sums.
void L2Cols(const float* x, const float* cols, size_t stride, size_t p, size_t n, float* out);

// The first index of the largest v[i] above -inf (NaN ignored); n when none.
size_t ArgMax(const float* v, size_t n);

// Bit i set where v[i] > t (greater) or v[i] < t (!greater), for n <= 64;
// NaN never passes.
uint64_t PassMask(const float* v, size_t n, float t, bool greater);

// Integer dot products of byte codes with a small signed query, over rows
// stored in blocks of 16 (kBlockRows): a block is `groups` slices of 64
// bytes, slice g holding bytes [4g, 4g + 4) of each of its 16 rows in row
// order. q4[g] packs query bytes [4g, 4g + 4) (int8, each in [-63, 63] so
// that no path saturates). out[16 b + r] = sum_i q_i u_i over row r of
// block b, exact: every level gives the same integers.
constexpr size_t kBlockRows = 16;
void DotBlocksU8S8(const uint8_t* blocks, size_t nblocks, size_t groups, const int32_t* q4, int32_t* out);
// "avx512vnni", "avx2" or "scalar": what DotBlocksU8S8 runs on this CPU.
const char* BlocksLevel();

// "avx2" or "scalar": what the dispatcher picked on this CPU.
const char* Level();

}  // namespace simd
}  // namespace rank
