#include "simd.h"

#include <immintrin.h>

#include <cstdlib>
#include <cstring>
#include <limits>

#include <faiss/utils/fp16.h>

#include "common.h"

namespace rank {
namespace simd {
namespace {

float DotScalar(const float* a, const float* b, size_t d) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= d; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < d; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

float L2Scalar(const float* a, const float* b, size_t d) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= d; i += 4) {
    float t0 = a[i] - b[i], t1 = a[i + 1] - b[i + 1];
    float t2 = a[i + 2] - b[i + 2], t3 = a[i + 3] - b[i + 3];
    s0 += t0 * t0;
    s1 += t1 * t1;
    s2 += t2 * t2;
    s3 += t3 * t3;
  }
  for (; i < d; ++i) {
    float t = a[i] - b[i];
    s0 += t * t;
  }
  return (s0 + s1) + (s2 + s3);
}

__attribute__((target("avx2,fma,f16c"))) inline float HSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, sums);
  sums = _mm_add_ss(sums, sh);
  return _mm_cvtss_f32(sums);
}

__attribute__((target("avx2,fma,f16c"))) float DotAvx2(const float* a, const float* b, size_t d) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= d; i += 8)
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = HSum(_mm256_add_ps(acc0, acc1));
  for (; i < d; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma,f16c"))) float L2Avx2(const float* a, const float* b, size_t d) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    acc0 = _mm256_fmadd_ps(t0, t0, acc0);
    acc1 = _mm256_fmadd_ps(t1, t1, acc1);
  }
  for (; i + 8 <= d; i += 8) {
    __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    acc0 = _mm256_fmadd_ps(t0, t0, acc0);
  }
  float s = HSum(_mm256_add_ps(acc0, acc1));
  for (; i < d; ++i) {
    float t = a[i] - b[i];
    s += t * t;
  }
  return s;
}

// Eight per-row accumulators -> one vector of their eight horizontal sums.
// Three rounds of pairwise adds (hadd, hadd, then the two 128-bit halves)
// replace eight separate horizontal sums: for short rows (d = 32, 64) the
// reductions cost as much as the multiply-adds otherwise.
__attribute__((target("avx2,fma,f16c"))) inline __m256 HSum8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4,
                                                         __m256 a5, __m256 a6, __m256 a7) {
  const __m256 t0 = _mm256_hadd_ps(a0, a1);
  const __m256 t1 = _mm256_hadd_ps(a2, a3);
  const __m256 t2 = _mm256_hadd_ps(a4, a5);
  const __m256 t3 = _mm256_hadd_ps(a6, a7);
  const __m256 u0 = _mm256_hadd_ps(t0, t1);  // rows 0-3: low half | high half
  const __m256 u1 = _mm256_hadd_ps(t2, t3);  // rows 4-7
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// Eight values of a row from i on, as floats: plain loads, or half
// precision (IEEE binary16, FAISS's QT_fp16 codes) widened with F16C.
__attribute__((target("avx2,fma,f16c"))) inline __m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2,fma,f16c"))) inline __m256 Load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

__attribute__((target("avx2,fma,f16c"))) inline __m256 Load8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

__attribute__((target("avx2,fma,f16c"))) float DotU8Avx2(const float* a, const uint8_t* b, size_t d) {
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= d; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), Load8(b + i), acc);
  float s = HSum(acc);
  for (; i < d; ++i) s += a[i] * float(b[i]);
  return s;
}

__attribute__((target("avx2,fma,f16c"))) float DotF16Avx2(const float* a, const uint16_t* b, size_t d) {
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= d; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), Load8(b + i), acc);
  float s = HSum(acc);
  for (; i < d; ++i) s += a[i] * faiss::decode_fp16(b[i]);
  return s;
}

__attribute__((target("avx2,fma,f16c"))) float L2F16Avx2(const float* a, const uint16_t* b, size_t d) {
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    const __m256 t = _mm256_sub_ps(_mm256_loadu_ps(a + i), Load8(b + i));
    acc = _mm256_fmadd_ps(t, t, acc);
  }
  float s = HSum(acc);
  for (; i < d; ++i) {
    const float t = a[i] - faiss::decode_fp16(b[i]);
    s += t * t;
  }
  return s;
}

inline float DotOne(const float* q, const float* b, size_t d) { return DotAvx2(q, b, d); }
inline float DotOne(const float* q, const uint16_t* b, size_t d) { return DotF16Avx2(q, b, d); }
inline float DotOne(const float* q, const uint8_t* b, size_t d) { return DotU8Avx2(q, b, d); }

// Eight rows at a time share the query loads and one reduction; rowAt(r)
// gives row r's data (float or half). Rows of a length that is not a
// multiple of 8, and the last n % 8 rows, take the one-row path.
template <typename RowAt>
__attribute__((target("avx2,fma,f16c"))) inline void Dot8Avx2(const float* q, RowAt rowAt, size_t n, size_t d,
                                                               float* out) {
  size_t r = 0;
  if ((d & 7) == 0) {
    for (; r + 8 <= n; r += 8) {
      decltype(rowAt(0)) b[8];
      for (int j = 0; j < 8; ++j) b[j] = rowAt(r + j);
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
      __m256 a4 = _mm256_setzero_ps(), a5 = _mm256_setzero_ps(), a6 = _mm256_setzero_ps(), a7 = _mm256_setzero_ps();
      for (size_t i = 0; i < d; i += 8) {
        const __m256 qv = _mm256_loadu_ps(q + i);
        a0 = _mm256_fmadd_ps(qv, Load8(b[0] + i), a0);
        a1 = _mm256_fmadd_ps(qv, Load8(b[1] + i), a1);
        a2 = _mm256_fmadd_ps(qv, Load8(b[2] + i), a2);
        a3 = _mm256_fmadd_ps(qv, Load8(b[3] + i), a3);
        a4 = _mm256_fmadd_ps(qv, Load8(b[4] + i), a4);
        a5 = _mm256_fmadd_ps(qv, Load8(b[5] + i), a5);
        a6 = _mm256_fmadd_ps(qv, Load8(b[6] + i), a6);
        a7 = _mm256_fmadd_ps(qv, Load8(b[7] + i), a7);
      }
      _mm256_storeu_ps(out + r, HSum8(a0, a1, a2, a3, a4, a5, a6, a7));
    }
  }
  for (; r < n; ++r) out[r] = DotOne(q, rowAt(r), d);
}

__attribute__((target("avx2,fma,f16c"))) void DotRowsAvx2(const float* q, const float* base, size_t n,
                                                     size_t d, float* out) {
  Dot8Avx2(q, [base, d](size_t r) { return base + r * d; }, n, d, out);
}

inline float L2One(const float* q, const float* b, size_t d) { return L2Avx2(q, b, d); }
inline float L2One(const float* q, const uint16_t* b, size_t d) { return L2F16Avx2(q, b, d); }

template <typename T>
__attribute__((target("avx2,fma,f16c"))) inline void L2RowsT(const float* q, const T* base, size_t n, size_t d,
                                                              float* out) {
  size_t r = 0;
  if ((d & 7) == 0) {
    for (; r + 8 <= n; r += 8) {
      const T* b = base + r * d;
      __m256 a[8];
      for (int j = 0; j < 8; ++j) a[j] = _mm256_setzero_ps();
      for (size_t i = 0; i < d; i += 8) {
        const __m256 qv = _mm256_loadu_ps(q + i);
        for (int j = 0; j < 8; ++j) {
          const __m256 t = _mm256_sub_ps(qv, Load8(b + j * d + i));
          a[j] = _mm256_fmadd_ps(t, t, a[j]);
        }
      }
      _mm256_storeu_ps(out + r, HSum8(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]));
    }
  }
  for (; r < n; ++r) out[r] = L2One(q, base + r * d, d);
}

__attribute__((target("avx2,fma,f16c"))) void L2RowsAvx2(const float* q, const float* base, size_t n, size_t d,
                                                         float* out) {
  L2RowsT(q, base, n, d, out);
}

__attribute__((target("avx2,fma,f16c"))) void DotRowsF16Avx2(const float* q, const uint16_t* base, size_t n,
                                                             size_t d, float* out) {
  Dot8Avx2(q, [base, d](size_t r) { return base + r * d; }, n, d, out);
}

__attribute__((target("avx2,fma,f16c"))) void L2RowsF16Avx2(const float* q, const uint16_t* base, size_t n,
                                                            size_t d, float* out) {
  L2RowsT(q, base, n, d, out);
}

__attribute__((target("avx2,fma,f16c"))) void DotRowsU8Avx2(const float* q, const uint8_t* base, size_t n,
                                                            size_t d, float* out) {
  Dot8Avx2(q, [base, d](size_t r) { return base + r * d; }, n, d, out);
}

void L2RowsU8Scalar(const float* a, const float* s, const uint8_t* base, size_t n, size_t d, float* out) {
  for (size_t r = 0; r < n; ++r) {
    const uint8_t* b = base + r * d;
    float t2 = 0;
    for (size_t i = 0; i < d; ++i) {
      const float t = a[i] - s[i] * float(b[i]);
      t2 += t * t;
    }
    out[r] = t2;
  }
}

// sum_i (a_i - s_i * c_i)^2 over rows of byte codes c, eight rows at a time.
__attribute__((target("avx2,fma,f16c"))) void L2RowsU8Avx2(const float* a, const float* s, const uint8_t* base,
                                                           size_t n, size_t d, float* out) {
  size_t r = 0;
  if ((d & 7) == 0) {
    for (; r + 8 <= n; r += 8) {
      const uint8_t* b = base + r * d;
      __m256 acc[8];
      for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_ps();
      for (size_t i = 0; i < d; i += 8) {
        const __m256 av = _mm256_loadu_ps(a + i);
        const __m256 sv = _mm256_loadu_ps(s + i);
        for (int j = 0; j < 8; ++j) {
          const __m256 t = _mm256_fnmadd_ps(sv, Load8(b + j * d + i), av);
          acc[j] = _mm256_fmadd_ps(t, t, acc[j]);
        }
      }
      _mm256_storeu_ps(out + r, HSum8(acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]));
    }
  }
  L2RowsU8Scalar(a, s, base + r * d, n - r, d, out + r);  // the last n % 8 rows, or every row when d % 8 != 0
}

void DotRowsU8Scalar(const float* q, const uint8_t* base, size_t n, size_t d, float* out) {
  for (size_t r = 0; r < n; ++r) {
    const uint8_t* b = base + r * d;
    float s = 0;
    for (size_t i = 0; i < d; ++i) s += q[i] * float(b[i]);
    out[r] = s;
  }
}

void DotRowsF16Scalar(const float* q, const uint16_t* base, size_t n, size_t d, float* out) {
  for (size_t r = 0; r < n; ++r) {
    const uint16_t* b = base + r * d;
    float s = 0;
    for (size_t i = 0; i < d; ++i) s += q[i] * faiss::decode_fp16(b[i]);
    out[r] = s;
  }
}

void L2RowsF16Scalar(const float* q, const uint16_t* base, size_t n, size_t d, float* out) {
  for (size_t r = 0; r < n; ++r) {
    const uint16_t* b = base + r * d;
    float s = 0;
    for (size_t i = 0; i < d; ++i) {
      const float t = q[i] - faiss::decode_fp16(b[i]);
      s += t * t;
    }
    out[r] = s;
  }
}

// Gathered rows, eight at a time (the light score over candidate rows).
__attribute__((target("avx2,fma,f16c"))) void DotGatherAvx2(const float* q, const float* base, const int32_t* rows,
                                                       size_t n, size_t d, float* out) {
  Dot8Avx2(q, [base, rows, d](size_t r) { return base + size_t(rows[r]) * d; }, n, d, out);
}

void DotGatherScalar(const float* q, const float* base, const int32_t* rows, size_t n, size_t d, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = DotScalar(q, base + size_t(rows[i]) * d, d);
}

using DotFn = float (*)(const float*, const float*, size_t);
using GatherFn = void (*)(const float*, const float*, const int32_t*, size_t, size_t, float*);
using RowsFn = void (*)(const float*, const float*, size_t, size_t, float*);

uint64_t PassMaskScalar(const float* v, size_t n, float t, bool greater) {
  uint64_t m = 0;
  for (size_t i = 0; i < n; ++i) m |= uint64_t(greater ? v[i] > t : v[i] < t) << i;
  return m;
}

__attribute__((target("avx2,fma,f16c"))) uint64_t PassMaskAvx2(const float* v, size_t n, float t, bool greater) {
  const __m256 tv = _mm256_set1_ps(t);
  uint64_t m = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(v + i);
    const __m256 c = greater ? _mm256_cmp_ps(x, tv, _CMP_GT_OQ) : _mm256_cmp_ps(x, tv, _CMP_LT_OQ);
    m |= uint64_t(unsigned(_mm256_movemask_ps(c))) << i;
  }
  for (; i < n; ++i) m |= uint64_t(greater ? v[i] > t : v[i] < t) << i;
  return m;
}

void L2ColsScalar(const float* x, const float* cols, size_t stride, size_t p, size_t n, float* out) {
  for (size_t k = 0; k < n; ++k) out[k] = 0.f;
  for (size_t j = 0; j < p; ++j) {
    const float xj = x[j];
    const float* c = cols + j * stride;
    for (size_t k = 0; k < n; ++k) {
      const float t = xj - c[k];
      out[k] += t * t;
    }
  }
}

__attribute__((target("avx2,fma,f16c"))) void L2ColsAvx2(const float* x, const float* cols, size_t stride, size_t p,
                                                         size_t n, float* out) {
  size_t k = 0;
  for (; k + 16 <= n; k += 16) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (size_t j = 0; j < p; ++j) {
      const __m256 xj = _mm256_set1_ps(x[j]);
      const float* c = cols + j * stride + k;
      const __m256 t0 = _mm256_sub_ps(xj, _mm256_loadu_ps(c));
      const __m256 t1 = _mm256_sub_ps(xj, _mm256_loadu_ps(c + 8));
      a0 = _mm256_fmadd_ps(t0, t0, a0);
      a1 = _mm256_fmadd_ps(t1, t1, a1);
    }
    _mm256_storeu_ps(out + k, a0);
    _mm256_storeu_ps(out + k + 8, a1);
  }
  for (; k + 8 <= n; k += 8) {
    __m256 a = _mm256_setzero_ps();
    for (size_t j = 0; j < p; ++j) {
      const __m256 t = _mm256_sub_ps(_mm256_set1_ps(x[j]), _mm256_loadu_ps(cols + j * stride + k));
      a = _mm256_fmadd_ps(t, t, a);
    }
    _mm256_storeu_ps(out + k, a);
  }
  if (k < n) L2ColsScalar(x, cols + k, stride, p, n - k, out + k);
}

size_t ArgMaxScalar(const float* v, size_t n) {
  size_t j = n;
  float best = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < n; ++i)
    if (v[i] > best) {
      best = v[i];
      j = i;
    }
  return j;
}

__attribute__((target("avx2,fma,f16c"))) size_t ArgMaxAvx2(const float* v, size_t n) {
  if (n < 16) return ArgMaxScalar(v, n);
  // max_ps(x, m) returns m when x is NaN, so NaNs never become the maximum.
  __m256 m0 = _mm256_set1_ps(-std::numeric_limits<float>::infinity()), m1 = m0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(v + i), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(v + i + 8), m1);
  }
  m0 = _mm256_max_ps(m0, m1);
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
  float best = _mm_cvtss_f32(h);
  for (size_t r = i; r < n; ++r)
    if (v[r] > best) best = v[r];
  if (!(best > -std::numeric_limits<float>::infinity())) return n;
  const __m256 b = _mm256_set1_ps(best);
  for (size_t k = 0; k + 8 <= n; k += 8) {
    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(v + k), b, _CMP_EQ_OQ));
    if (mask != 0) return k + size_t(__builtin_ctz(unsigned(mask)));
  }
  for (size_t k = n & ~size_t(7); k < n; ++k)
    if (v[k] == best) return k;
  return n;
}

using MaskFn = uint64_t (*)(const float*, size_t, float, bool);
using ArgMaxFn = size_t (*)(const float*, size_t);
using ColsFn = void (*)(const float*, const float*, size_t, size_t, size_t, float*);
using RowsF16Fn = void (*)(const float*, const uint16_t*, size_t, size_t, float*);
using RowsU8Fn = void (*)(const float*, const uint8_t*, size_t, size_t, float*);
using L2RowsU8Fn = void (*)(const float*, const float*, const uint8_t*, size_t, size_t, float*);

struct Dispatch {
  DotFn dot;
  DotFn l2;
  RowsFn dotRows;
  RowsFn l2Rows;
  GatherFn dotGather;
  MaskFn passMask;
  RowsF16Fn dotRowsF16;
  RowsF16Fn l2RowsF16;
  RowsU8Fn dotRowsU8;
  L2RowsU8Fn l2RowsU8;
  ColsFn l2Cols;
  ArgMaxFn argMax;
  const char* level;
};

void DotRowsScalar(const float* q, const float* base, size_t n, size_t d, float* out) {
  for (size_t r = 0; r < n; ++r) out[r] = DotScalar(q, base + r * d, d);
}
void L2RowsScalar(const float* q, const float* base, size_t n, size_t d, float* out) {
  for (size_t r = 0; r < n; ++r) out[r] = L2Scalar(q, base + r * d, d);
}

Dispatch Pick() {
  __builtin_cpu_init();
  // F16C (half-precision loads) came before AVX2 on every x86 line; checked anyway.
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
    return {DotAvx2,      L2Avx2,         DotRowsAvx2,      L2RowsAvx2,     DotGatherAvx2,
            PassMaskAvx2, DotRowsF16Avx2, L2RowsF16Avx2,    DotRowsU8Avx2,  L2RowsU8Avx2,
            L2ColsAvx2,   ArgMaxAvx2,     "avx2"};
  return {DotScalar,      L2Scalar,         DotRowsScalar,      L2RowsScalar,      DotGatherScalar,
          PassMaskScalar, DotRowsF16Scalar, L2RowsF16Scalar,    DotRowsU8Scalar,   L2RowsU8Scalar,
          L2ColsScalar,   ArgMaxScalar,     "scalar"};
}

const Dispatch& D() {
  static const Dispatch d = Pick();
  return d;
}

}  // namespace

float Dot(const float* a, const float* b, size_t d) { return D().dot(a, b, d); }
float L2Sqr(const float* a, const float* b, size_t d) { return D().l2(a, b, d); }
void DotRows(const float* q, const float* base, size_t n, size_t d, float* out) {
  D().dotRows(q, base, n, d, out);
}
void L2Rows(const float* q, const float* base, size_t n, size_t d, float* out) {
  D().l2Rows(q, base, n, d, out);
}
void DotGather(const float* q, const float* base, const int32_t* rows, size_t n, size_t d,
               float* out) {
  D().dotGather(q, base, rows, n, d, out);
}
uint64_t PassMask(const float* v, size_t n, float t, bool greater) { return D().passMask(v, n, t, greater); }
void DotRowsF16(const float* q, const uint16_t* base, size_t n, size_t d, float* out) {
  D().dotRowsF16(q, base, n, d, out);
}
void L2RowsF16(const float* q, const uint16_t* base, size_t n, size_t d, float* out) {
  D().l2RowsF16(q, base, n, d, out);
}
void DotRowsU8(const float* q, const uint8_t* base, size_t n, size_t d, float* out) {
  D().dotRowsU8(q, base, n, d, out);
}
void L2RowsU8(const float* a, const float* s, const uint8_t* base, size_t n, size_t d, float* out) {
  D().l2RowsU8(a, s, base, n, d, out);
}
void L2Cols(const float* x, const float* cols, size_t stride, size_t p, size_t n, float* out) {
  D().l2Cols(x, cols, stride, p, n, out);
}
size_t ArgMax(const float* v, size_t n) { return D().argMax(v, n); }
const char* Level() { return D().level; }

}  // namespace simd

void InitSimdInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("simdLevel", Napi::String::New(env, simd::Level()));
}

}  // namespace rank

namespace rank {
namespace simd {
namespace {

void DotBlocksScalar(const uint8_t* blocks, size_t nblocks, size_t groups, const int32_t* q4, int32_t* out) {
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = blocks + b * groups * 64;
    for (size_t r = 0; r < kBlockRows; ++r) {
      int32_t s = 0;
      for (size_t g = 0; g < groups; ++g) {
        const int8_t* q = reinterpret_cast<const int8_t*>(q4 + g);
        const uint8_t* u = blk + g * 64 + r * 4;
        s += int32_t(u[0]) * q[0] + int32_t(u[1]) * q[1] + int32_t(u[2]) * q[2] + int32_t(u[3]) * q[3];
      }
      out[b * kBlockRows + r] = s;
    }
  }
}

// u8 x s8 pairs summed to int16 (no saturation: |q| <= 63), then to int32.
__attribute__((target("avx2"))) void DotBlocksAvx2(const uint8_t* blocks, size_t nblocks, size_t groups,
                                                   const int32_t* q4, int32_t* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = blocks + b * groups * 64;
    __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
    for (size_t g = 0; g < groups; ++g) {
      const __m256i q = _mm256_set1_epi32(q4[g]);
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + g * 64));
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + g * 64 + 32));
      lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_maddubs_epi16(a, q), ones));
      hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_maddubs_epi16(c, q), ones));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + b * kBlockRows), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + b * kBlockRows + 8), hi);
  }
}

// One vpdpbusd per 4 bytes of 16 rows.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void DotBlocksVnni(const uint8_t* blocks, size_t nblocks,
                                                                         size_t groups, const int32_t* q4,
                                                                         int32_t* out) {
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = blocks + b * groups * 64;
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    size_t g = 0;
    for (; g + 2 <= groups; g += 2) {
      acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512(blk + g * 64), _mm512_set1_epi32(q4[g]));
      acc1 = _mm512_dpbusd_epi32(acc1, _mm512_loadu_si512(blk + g * 64 + 64), _mm512_set1_epi32(q4[g + 1]));
    }
    if (g < groups) acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512(blk + g * 64), _mm512_set1_epi32(q4[g]));
    _mm512_storeu_si512(out + b * kBlockRows, _mm512_add_epi32(acc0, acc1));
  }
}

using BlocksFn = void (*)(const uint8_t*, size_t, size_t, const int32_t*, int32_t*);
struct BlocksDispatch {
  BlocksFn fn;
  const char* level;
};

const BlocksDispatch& Blocks() {
  static const BlocksDispatch d = [] {
    __builtin_cpu_init();
    // RANK_BLOCKS_LEVEL=avx2|scalar forces a lower level (to compare them).
    const char* force = std::getenv("RANK_BLOCKS_LEVEL");
    if (force != nullptr && std::strcmp(force, "scalar") == 0) return BlocksDispatch{DotBlocksScalar, "scalar"};
    const bool avx2Only = force != nullptr && std::strcmp(force, "avx2") == 0;
    if (!avx2Only &&
__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vnni"))
      return BlocksDispatch{DotBlocksVnni, "avx512vnni"};
    if (__builtin_cpu_supports("avx2")) return BlocksDispatch{DotBlocksAvx2, "avx2"};
    return BlocksDispatch{DotBlocksScalar, "scalar"};
  }();
  return d;
}

}  // namespace

void DotBlocksU8S8(const uint8_t* blocks, size_t nblocks, size_t groups, const int32_t* q4, int32_t* out) {
  Blocks().fn(blocks, nblocks, groups, q4, out);
}
const char* BlocksLevel() { return Blocks().level; }

}  // namespace simd
}  // namespace rank
