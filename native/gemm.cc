#include "gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace rank {
namespace gemm {
namespace {

constexpr int kCols = 16;  // panel width: two 8-float vectors
constexpr int kRows = 6;   // rows per register tile

// y[0..MR) x [0, cols) += x[0..MR) . panel, over k in [0, in).
template <int MR>
__attribute__((target("avx2,fma"))) void Tile(const float* x, size_t ldx, const float* panel, int in, float* y,
                                              size_t ldy, int cols) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  // Rows past MR alias row 0; their accumulators are never stored.
  const float* x0 = x;
  const float* x1 = x + (MR > 1 ? ldx : 0);
  const float* x2 = x + (MR > 2 ? 2 * ldx : 0);
  const float* x3 = x + (MR > 3 ? 3 * ldx : 0);
  const float* x4 = x + (MR > 4 ? 4 * ldx : 0);
  const float* x5 = x + (MR > 5 ? 5 * ldx : 0);
  for (int k = 0; k < in; ++k) {
    const float* p = panel + size_t(k) * kCols;
    const __m256 b0 = _mm256_loadu_ps(p), b1 = _mm256_loadu_ps(p + 8);
    __m256 a = _mm256_broadcast_ss(x0 + k);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    if constexpr (MR > 1) {
      a = _mm256_broadcast_ss(x1 + k);
      c10 = _mm256_fmadd_ps(a, b0, c10);
      c11 = _mm256_fmadd_ps(a, b1, c11);
    }
    if constexpr (MR > 2) {
      a = _mm256_broadcast_ss(x2 + k);
      c20 = _mm256_fmadd_ps(a, b0, c20);
      c21 = _mm256_fmadd_ps(a, b1, c21);
    }
    if constexpr (MR > 3) {
      a = _mm256_broadcast_ss(x3 + k);
      c30 = _mm256_fmadd_ps(a, b0, c30);
      c31 = _mm256_fmadd_ps(a, b1, c31);
    }
    if constexpr (MR > 4) {
      a = _mm256_broadcast_ss(x4 + k);
      c40 = _mm256_fmadd_ps(a, b0, c40);
      c41 = _mm256_fmadd_ps(a, b1, c41);
    }
    if constexpr (MR > 5) {
      a = _mm256_broadcast_ss(x5 + k);
      c50 = _mm256_fmadd_ps(a, b0, c50);
      c51 = _mm256_fmadd_ps(a, b1, c51);
    }
  }
  const __m256 acc[2 * kRows] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  for (int i = 0; i < MR; ++i) {
    float* yr = y + size_t(i) * ldy;
    if (cols == kCols) {
      _mm256_storeu_ps(yr, _mm256_add_ps(_mm256_loadu_ps(yr), acc[2 * i]));
      _mm256_storeu_ps(yr + 8, _mm256_add_ps(_mm256_loadu_ps(yr + 8), acc[2 * i + 1]));
    } else {
      alignas(32) float t[kCols];
      _mm256_store_ps(t, acc[2 * i]);
      _mm256_store_ps(t + 8, acc[2 * i + 1]);
      for (int c = 0; c < cols; ++c) yr[c] += t[c];
    }
  }
}

bool Detect() {
  const char* pick = std::getenv("RANK_DCN_GEMM");
  if (pick != nullptr && std::strcmp(pick, "blas") == 0) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

}  // namespace

bool Available() {
  static const bool ok = Detect();
  return ok;
}

void PackedWeights::Pack(const float* w, size_t ldw, int in, int out) {
  in_ = in;
  out_ = out;
  const int panels = (out + kCols - 1) / kCols;
  panels_.assign(size_t(panels) * size_t(in) * kCols, 0.0f);
  for (int c = 0; c < out; ++c) {
    float* dst = panels_.data() + size_t(c / kCols) * size_t(in) * kCols + (c % kCols);
    const float* src = w + size_t(c) * ldw;
    for (int k = 0; k < in; ++k) dst[size_t(k) * kCols] = src[k];
  }
}

void PackedWeights::MultiplyAdd(const float* x, size_t ldx, int rows, float* y, size_t ldy) const {
  const int panels = (out_ + kCols - 1) / kCols;
  // Panel-major: one panel (in x 16 floats) stays in L1 while every row
  // block streams past it.
  for (int p = 0; p < panels; ++p) {
    const float* panel = panels_.data() + size_t(p) * size_t(in_) * kCols;
    const int cols = std::min(kCols, out_ - p * kCols);
    float* yc = y + size_t(p) * kCols;
    int r = 0;
    for (; r + kRows <= rows; r += kRows) Tile<6>(x + size_t(r) * ldx, ldx, panel, in_, yc + size_t(r) * ldy, ldy, cols);
    const float* xr = x + size_t(r) * ldx;
    float* yr = yc + size_t(r) * ldy;
    switch (rows - r) {
      case 5: Tile<5>(xr, ldx, panel, in_, yr, ldy, cols); break;
      case 4: Tile<4>(xr, ldx, panel, in_, yr, ldy, cols); break;
      case 3: Tile<3>(xr, ldx, panel, in_, yr, ldy, cols); break;
      case 2: Tile<2>(xr, ldx, panel, in_, yr, ldy, cols); break;
      case 1: Tile<1>(xr, ldx, panel, in_, yr, ldy, cols); break;
      default: break;
    }
  }
}

}  // namespace gemm
}  // namespace rank
