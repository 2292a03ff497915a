#include "simd.h"

#include <immintrin.h>

#include <cstring>

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

__attribute__((target("avx2,fma"))) inline float HSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, sums);
  sums = _mm_add_ss(sums, sh);
  return _mm_cvtss_f32(sums);
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, size_t d) {
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

__attribute__((target("avx2,fma"))) float L2Avx2(const float* a, const float* b, size_t d) {
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

// Four rows at a time share the query loads; rowAt(r) gives row r's data.
template <typename RowAt>
__attribute__((target("avx2,fma"))) inline void Dot4Avx2(const float* q, RowAt rowAt, size_t n, size_t d,
                                                          float* out) {
  size_t r = 0;
  if ((d & 7) == 0) {
    for (; r + 4 <= n; r += 4) {
      const float* b0 = rowAt(r);
      const float* b1 = rowAt(r + 1);
      const float* b2 = rowAt(r + 2);
      const float* b3 = rowAt(r + 3);
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
      __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
      for (size_t i = 0; i < d; i += 8) {
        __m256 qv = _mm256_loadu_ps(q + i);
        a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(b0 + i), a0);
        a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(b1 + i), a1);
        a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(b2 + i), a2);
        a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(b3 + i), a3);
      }
      out[r] = HSum(a0);
      out[r + 1] = HSum(a1);
      out[r + 2] = HSum(a2);
      out[r + 3] = HSum(a3);
    }
  }
  for (; r < n; ++r) out[r] = DotAvx2(q, rowAt(r), d);
}

__attribute__((target("avx2,fma"))) void DotRowsAvx2(const float* q, const float* base, size_t n,
                                                     size_t d, float* out) {
  Dot4Avx2(q, [base, d](size_t r) { return base + r * d; }, n, d, out);
}

__attribute__((target("avx2,fma"))) void L2RowsAvx2(const float* q, const float* base, size_t n,
                                                    size_t d, float* out) {
  size_t r = 0;
  if ((d & 7) == 0) {
    for (; r + 4 <= n; r += 4) {
      const float* b0 = base + r * d;
      const float* b1 = b0 + d;
      const float* b2 = b1 + d;
      const float* b3 = b2 + d;
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
      __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
      for (size_t i = 0; i < d; i += 8) {
        __m256 qv = _mm256_loadu_ps(q + i);
        __m256 t0 = _mm256_sub_ps(qv, _mm256_loadu_ps(b0 + i));
        __m256 t1 = _mm256_sub_ps(qv, _mm256_loadu_ps(b1 + i));
        __m256 t2 = _mm256_sub_ps(qv, _mm256_loadu_ps(b2 + i));
        __m256 t3 = _mm256_sub_ps(qv, _mm256_loadu_ps(b3 + i));
        a0 = _mm256_fmadd_ps(t0, t0, a0);
        a1 = _mm256_fmadd_ps(t1, t1, a1);
        a2 = _mm256_fmadd_ps(t2, t2, a2);
        a3 = _mm256_fmadd_ps(t3, t3, a3);
      }
      out[r] = HSum(a0);
      out[r + 1] = HSum(a1);
      out[r + 2] = HSum(a2);
      out[r + 3] = HSum(a3);
    }
  }
  for (; r < n; ++r) out[r] = L2Avx2(q, base + r * d, d);
}

// Gathered rows, four at a time (the light score over candidate rows).
__attribute__((target("avx2,fma"))) void DotGatherAvx2(const float* q, const float* base, const int32_t* rows,
                                                       size_t n, size_t d, float* out) {
  Dot4Avx2(q, [base, rows, d](size_t r) { return base + size_t(rows[r]) * d; }, n, d, out);
}

void DotGatherScalar(const float* q, const float* base, const int32_t* rows, size_t n, size_t d, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = DotScalar(q, base + size_t(rows[i]) * d, d);
}

using DotFn = float (*)(const float*, const float*, size_t);
using GatherFn = void (*)(const float*, const float*, const int32_t*, size_t, size_t, float*);
using RowsFn = void (*)(const float*, const float*, size_t, size_t, float*);

struct Dispatch {
  DotFn dot;
  DotFn l2;
  RowsFn dotRows;
  RowsFn l2Rows;
  GatherFn dotGather;
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
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {DotAvx2, L2Avx2, DotRowsAvx2, L2RowsAvx2, DotGatherAvx2, "avx2"};
  return {DotScalar, L2Scalar, DotRowsScalar, L2RowsScalar, DotGatherScalar, "scalar"};
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
const char* Level() { return D().level; }

}  // namespace simd

void InitSimdInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("simdLevel", Napi::String::New(env, simd::Level()));
}

}  // namespace rank
