// Diversity re-ranking over candidate rows of a shared embedding matrix.
//
// MMR: greedily pick argmax  lambda * rel_i - (1 - lambda) * max_{j in S} cos(i, j),
//      keeping max-similarity per candidate up to date as S grows: O(N K d).
// DPP: greedy MAP for L_ij = q_i s_ij q_j with q_i = exp(alpha (rel_i - max rel))
//      and s_ij the cosine similarity (Chen, Zhang & Zhou 2018, incremental
//      Cholesky): O(N K (d + N)). The greedy stops early when the best marginal
//      gain d_j^2 = det(L_{S+j}) / det(L_S) falls below epsilon; since the best
//      item has q = 1, epsilon is relative to a unit self-similarity.
// A zero embedding has cosine 0 with every other item and 1 with itself.
//
// Both read candidate rows from the catalog matrix by row index (no copies on
// the JS side) and return positions into the candidate list, in pick order.

#include <cmath>
#include <limits>
#include <vector>

#include "common.h"
#include "simd.h"

namespace rank {
namespace {

// Rows of the catalog matrix: (embeddings, dim, rows) arguments at i, i+1, i+2,
// with every row index checked.
struct MatrixRows {
  const float* base = nullptr;
  size_t rows = 0;  // rows in the catalog matrix
  size_t d = 0;
  View<int32_t> idx;
};

MatrixRows ReadMatrixRows(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  MatrixRows m;
  View<float> emb = ArgArray<float>(info, i, "embeddings");
  m.d = size_t(ArgInt(info, i + 1, "dim", 1, 1 << 16));
  RANK_THROW_RANGE_IF(emb.length % m.d != 0, env, "embeddings length must be a multiple of dim");
  m.base = emb.data;
  m.rows = emb.length / m.d;
  m.idx = ArgArray<int32_t>(info, i + 2, "rows");
  for (size_t k = 0; k < m.idx.length; ++k)
    RANK_THROW_RANGE_IF(m.idx.data[k] < 0 || size_t(m.idx.data[k]) >= m.rows, env,
                        "rows[" + std::to_string(k) + "] is out of range [0, " + std::to_string(m.rows) + ")");
  return m;
}

struct Candidates : MatrixRows {
  View<float> rel;
};

// emb: Float32Array catalog [rows * d], d, rows: Int32Array[K], rel: Float32Array[K]
Candidates ReadCandidates(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Candidates c;
  static_cast<MatrixRows&>(c) = ReadMatrixRows(info, 0);
  c.rel = ArgArray<float>(info, 3, "relevance");
  RANK_THROW_RANGE_IF(c.rel.length != c.idx.length, env, "relevance length must equal rows length");
  CheckFinite(env, "relevance", c.rel.data, c.rel.length);
  return c;
}

// Rows requested this many places ahead while candidate rows are read.
constexpr size_t kAhead = 8;

// Copies the K candidate rows, L2-normalised (zero rows stay zero), into a
// contiguous per-thread buffer so the similarity kernels stream them.
const float* NormalizedRows(const MatrixRows& c, std::vector<float>& buf, std::vector<uint8_t>& zero) {
  const size_t K = c.idx.length, d = c.d;
  buf.resize(K * d);
  zero.assign(K, 0);
  for (size_t i = 0; i < K; ++i) {
    if (i + kAhead < K) {
      // Candidate rows lie scattered over a large catalog: request them early.
      const char* p = reinterpret_cast<const char*>(c.base + size_t(c.idx.data[i + kAhead]) * d);
      for (size_t o = 0; o < d * sizeof(float); o += 64) __builtin_prefetch(p + o, 0, 3);
    }
    const float* src = c.base + size_t(c.idx.data[i]) * d;
    float* dst = buf.data() + i * d;
    const float nrm = std::sqrt(simd::Dot(src, src, d));
    if (!(nrm > 0.f) || !std::isfinite(nrm)) {
      std::fill(dst, dst + d, 0.f);
      zero[i] = 1;
      continue;
    }
    const float inv = 1.0f / nrm;
    for (size_t j = 0; j < d; ++j) dst[j] = src[j] * inv;
  }
  return buf.data();
}

Napi::Int32Array Result(Napi::Env env, const std::vector<int32_t>& picked) {
  auto out = Napi::Int32Array::New(env, picked.size());
  std::copy(picked.begin(), picked.end(), out.Data());
  return out;
}

// The greedy loops are compiled twice (x86-64-v3: AVX2 + FMA, and the
// baseline) and picked at load time by the dynamic linker.
#define RANK_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

// MMR over K normalised rows x; writes the picks into `picked`.
// score[i] = lambda rel_i - mu maxSim_i (-inf once taken); the pick is the
// argmax, ties to the lowest index. After the first pick (which sets maxSim
// to its similarity, possibly negative) maxSim only grows, so a score
// computed against some of the picks is an upper bound of the current one.
// So the scores are brought up to date lazily: the candidate with the best
// bound is compared with the picks it has not seen yet, and is picked once
// its score is current and still the best. The argmax returns the lowest
// index among equal bounds, so ties go as in the eager loop. A zero row
// (cosine 0 with everything) as a pick changes nothing.
RANK_CLONES void MmrLoop(const float* x, const uint8_t* zero, const float* rel, size_t K, size_t d,
                         size_t N, float lam, float mu, float* maxSim, float* sim, float* score,
                         uint32_t* seen, float* pickedX, std::vector<int32_t>& picked) {
  const float gone = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < K; ++i) {
    maxSim[i] = 0.f;  // no penalty before the first pick
    score[i] = lam * rel[i] - mu * maxSim[i];
    seen[i] = 0;
  }
  // The non-zero picks' rows, contiguous: a stale candidate is compared with
  // the ones it has not seen in one DotRows pass. seen[i] counts them.
  uint32_t nz = 0;
  while (picked.size() < N) {
    const size_t best = simd::ArgMax(score, K);
    if (best == K) break;
    if (seen[best] < nz) {
      const uint32_t from = seen[best];
      simd::DotRows(x + best * d, pickedX + size_t(from) * d, nz - from, d, sim);
      float m = maxSim[best];
      for (uint32_t p = 0; p < nz - from; ++p) m = std::max(m, sim[p]);
      maxSim[best] = m;
      score[best] = lam * rel[best] - mu * m;
      seen[best] = nz;
      continue;
    }
    const bool first = picked.empty();
    score[best] = gone;
    picked.push_back(int32_t(best));
    if (zero[best] || picked.size() == N) continue;
    std::copy(x + best * d, x + (best + 1) * d, pickedX + size_t(nz) * d);
    ++nz;
    if (first) {
      // The first pick sets every penalty (it may lower one below 0) and so
      // may raise scores: bring all up to date before going lazy.
      simd::DotRows(x + best * d, x, K, d, sim);
      for (size_t i = 0; i < K; ++i) {
        maxSim[i] = sim[i];
        if (score[i] != gone) score[i] = lam * rel[i] - mu * maxSim[i];
        seen[i] = 1;
      }
    }
  }
}

// mmr(emb, dim, rows, rel, n, lambda) -> Int32Array
Napi::Value Mmr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Candidates c = ReadCandidates(info);
  const size_t n = size_t(ArgInt(info, 4, "n", 0, int64_t(1) << 31));
  const double lambda = ArgNumber(info, 5, "lambda");
  RANK_THROW_RANGE_IF(lambda < 0 || lambda > 1, env, "lambda must be in [0, 1]");
  const size_t K = c.idx.length, N = std::min(n, K), d = c.d;
  thread_local std::vector<float> buf, maxSim, sim, score;
  thread_local std::vector<uint8_t> zero;
  thread_local std::vector<uint32_t> seen;
  thread_local std::vector<float> pickedX;
  const float* x = NormalizedRows(c, buf, zero);
  maxSim.resize(K);
  sim.resize(K);
  score.resize(K);
  seen.resize(K);
  pickedX.resize(N * d);
  std::vector<int32_t> picked;
  picked.reserve(N);
  MmrLoop(x, zero.data(), c.rel.data, K, d, N, float(lambda), float(1.0 - lambda), maxSim.data(),
          sim.data(), score.data(), seen.data(), pickedX.data(), picked);
  return Result(env, picked);
}

// Greedy MAP loop. The Cholesky coordinates are stored column-major with a
// padded stride (cc[t * S + i] = c_i[t], S = K rounded up to kDppBlock), so
// each step's update e_i = (L_ji - <c_j, c_i>) / d_j runs over blocks of
// kDppBlock candidates, keeping a block of e in registers while it subtracts
// all t earlier coordinates. Taken candidates get d2 = -inf, so the argmax
// needs no second test (ties go to the lowest index, as before).
constexpr size_t kDppBlock = 32;

RANK_CLONES void DppLoop(const float* x, const float* qz, size_t K, size_t S, size_t d,
                         size_t N, double eps, float* d2, float* cc, float* e, float* cj,
                         std::vector<int32_t>& picked) {
  const float taken = -std::numeric_limits<float>::infinity();
  for (size_t i = K; i < S; ++i) e[i] = 0.f;
  for (size_t t = 0; t < N; ++t) {
    const size_t j = simd::ArgMax(d2, K);
    if (j == K) break;
    const float best = d2[j];
    if (!(double(best) >= eps) || best <= 0.f) break;
    d2[j] = taken;
    picked.push_back(int32_t(j));
    if (t + 1 == N) break;
    const float inv = 1.0f / std::sqrt(best);
    // e = L_j. = q_j q_i s_ji, then subtract <c_j, c_i>.
    simd::DotRows(x + j * d, x, K, d, e);
    // qz_i = q_i, or 0 for a zero row (cosine 0 with everything).
    for (size_t i = 0; i < K; ++i) e[i] = qz[j] * qz[i] * e[i];
    for (size_t s = 0; s < t; ++s) cj[s] = cc[s * S + j];
    float* out = cc + t * S;
    for (size_t i0 = 0; i0 < S; i0 += kDppBlock) {
      float acc[kDppBlock];
      for (size_t u = 0; u < kDppBlock; ++u) acc[u] = e[i0 + u];
      for (size_t s = 0; s < t; ++s) {
        const float c = cj[s];
        const float* col = cc + s * S + i0;
        for (size_t u = 0; u < kDppBlock; ++u) acc[u] -= c * col[u];
      }
      for (size_t u = 0; u < kDppBlock; ++u) out[i0 + u] = acc[u] * inv;
    }
    for (size_t i = 0; i < K; ++i) d2[i] -= out[i] * out[i];
  }
}

// dpp(emb, dim, rows, rel, n, alpha, epsilon) -> Int32Array
Napi::Value Dpp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Candidates c = ReadCandidates(info);
  const size_t n = size_t(ArgInt(info, 4, "n", 0, int64_t(1) << 31));
  const double alpha = ArgNumber(info, 5, "alpha");
  const double eps = HasArg(info, 6) ? ArgNumber(info, 6, "epsilon") : 1e-6;
  RANK_THROW_RANGE_IF(alpha < 0, env, "alpha must be >= 0");
  RANK_THROW_RANGE_IF(eps < 0, env, "epsilon must be >= 0");
  const size_t K = c.idx.length, N = std::min(n, K), d = c.d;
  std::vector<int32_t> picked;
  if (N == 0) return Result(env, picked);
  thread_local std::vector<float> buf, q, qz, d2, cc, e, cj;
  thread_local std::vector<uint8_t> zero;
  const float* x = NormalizedRows(c, buf, zero);
  float maxRel = c.rel.data[0];
  for (size_t i = 1; i < K; ++i) maxRel = std::max(maxRel, c.rel.data[i]);
  q.resize(K);
  qz.resize(K);
  d2.resize(K);
  for (size_t i = 0; i < K; ++i) {
    q[i] = float(std::exp(alpha * double(c.rel.data[i] - maxRel)));
    d2[i] = q[i] * q[i];  // L_ii: s_ii = 1
  }
  const size_t S = (K + kDppBlock - 1) / kDppBlock * kDppBlock;
  cc.resize(S * N);
  e.resize(S);
  cj.resize(N);
  picked.reserve(N);
  for (size_t i = 0; i < K; ++i) qz[i] = zero[i] ? 0.f : q[i];
  DppLoop(x, qz.data(), K, S, d, N, eps, d2.data(), cc.data(), e.data(), cj.data(), picked);
  return Result(env, picked);
}

// dedupe(emb, dim, rows, contentHash: Int32Array[catalog rows], threshold)
//   -> Uint8Array per candidate: 0 kept, 1 same content hash as a kept one,
//      2 cosine >= threshold with a kept one (zero vectors never match).
// Candidates are walked in the given order and compared with kept ones only.
// The candidate rows are first normalised into a contiguous buffer
// (NormalizedRows, as for MMR and DPP). For the embedding test the kept vectors'
// first P = min(d, 8) coordinates are also stored dim-major: for unit vectors
// ||x - y||^2 = 2 - 2 cos(x, y), and the distance over P coordinates is a lower
// bound of it, so a kept vector whose partial distance exceeds 2 (1 - threshold)
// (plus a margin for rounding) cannot match. Only the others, usually none,
// get the full dot product. Content hashes go to an open-addressing table.
constexpr size_t kDedupePrefix = 8;

Napi::Value Dedupe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MatrixRows m = ReadMatrixRows(info, 0);
  const size_t d = m.d;
  View<int32_t> hash = ArgArray<int32_t>(info, 3, "contentHash");
  RANK_THROW_RANGE_IF(hash.length < m.rows, env, "contentHash must have one code per embedding row");
  const double threshold = ArgNumber(info, 4, "threshold");
  const View<int32_t>& rows = m.idx;
  const size_t n = rows.length;
  auto out = Napi::Uint8Array::New(env, n);
  uint8_t* flag = out.Data();
  if (n == 0) return out;

  thread_local std::vector<float> unit, cols, part;
  thread_local std::vector<int32_t> hashOf, slots;
  thread_local std::vector<uint8_t> zeroOf, used;
  thread_local std::vector<size_t> kept;
  const float* U = NormalizedRows(m, unit, zeroOf);
  hashOf.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) __builtin_prefetch(hash.data + rows.data[i + kAhead], 0, 3);
    hashOf[i] = hash.data[rows.data[i]];
  }

  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;
  slots.resize(cap);
  used.assign(cap, 0);
  int32_t* slot0 = slots.data();
  uint8_t* used0 = used.data();
  const auto slotOf = [=](int32_t h) {
    size_t s = (uint32_t(h) * 2654435761u) & (cap - 1);
    while (used0[s] && slot0[s] != h) s = (s + 1) & (cap - 1);
    return s;
  };

  const bool useEmb = threshold <= 1.0;
  // With threshold <= 0 a kept zero vector (cosine 0) matches, which the
  // distance identity does not cover: compare with every kept vector then.
  const bool prefilter = useEmb && threshold > 0.0;
  const size_t P = std::min(d, kDedupePrefix);
  const size_t stride = (n + 15) & ~size_t(15);
  if (prefilter) {
    cols.resize(P * stride);
    part.resize(stride);
  }
  // Candidates whose partial distance is below this may match (strictly below:
  // the margin covers the rounding of unit norms and of the sums).
  const float bound = float(2.0 * (1.0 - threshold) + 1e-3);
  float* C = cols.data();
  float* part0 = part.data();
  kept.resize(n);
  size_t* K = kept.data();
  const int32_t* H = hashOf.data();
  const uint8_t* Z = zeroOf.data();
  size_t nk = 0;
  const auto matches = [&](const float* u, size_t k) { return double(simd::Dot(u, U + K[k] * d, d)) >= threshold; };
  for (size_t i = 0; i < n; ++i) {
    const size_t slot = slotOf(H[i]);
    if (used0[slot]) {
      flag[i] = 1;
      continue;
    }
    const float* u = U + i * d;
    if (useEmb && !Z[i] && nk > 0) {
      bool dup = false;
      if (prefilter) {
        simd::L2Cols(u, C, stride, P, nk, part0);
        for (size_t b = 0; b < nk && !dup; b += 64) {
          uint64_t maybe = simd::PassMask(part0 + b, std::min<size_t>(64, nk - b), bound, false);
          for (; maybe != 0 && !dup; maybe &= maybe - 1) dup = matches(u, b + size_t(__builtin_ctzll(maybe)));
        }
      } else {
        for (size_t k = 0; k < nk && !dup; ++k) dup = matches(u, k);
      }
      if (dup) {
        flag[i] = 2;
        continue;
      }
    }
    flag[i] = 0;
    used0[slot] = 1;
    slot0[slot] = H[i];
    if (prefilter)
      for (size_t j = 0; j < P; ++j) C[j * stride + nk] = u[j];
    K[nk++] = i;
  }
  return out;
}

// scoreRows(emb, dim, rows, query[dim], bias?: Float32Array[catalog rows], biasWeight?)
//   -> Float32Array[K] of <query, emb[row]> (+ biasWeight * bias[row]): the
// two-tower light score, or an exact search over a small allowed set. The
// bias term is added in double precision and rounded once, with the entries
// requested a few rows ahead (they are scattered over the catalog).
Napi::Value ScoreRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MatrixRows m = ReadMatrixRows(info, 0);
  const size_t d = m.d;
  const View<int32_t>& rows = m.idx;
  View<float> q = ArgArray<float>(info, 3, "query");
  RANK_THROW_RANGE_IF(q.length != d, env, "query length must equal dim");
  CheckFinite(env, "query", q.data, q.length);
  auto out = Napi::Float32Array::New(env, rows.length);
  float* o = out.Data();
  simd::DotGather(q.data, m.base, rows.data, rows.length, d, o);
  if (HasArg(info, 4)) {
    View<float> bias = ArgArray<float>(info, 4, "bias");
    RANK_THROW_RANGE_IF(bias.length < m.rows, env, "bias must have one value per embedding row");
    const double w = ArgNumber(info, 5, "biasWeight");
    constexpr size_t kBiasAhead = 16;
    for (size_t i = 0; i < rows.length; ++i) {
      if (i + kBiasAhead < rows.length) __builtin_prefetch(bias.data + rows.data[i + kBiasAhead], 0, 3);
      o[i] = float(double(o[i]) + w * double(bias.data[rows.data[i]]));
    }
  }
  return out;
}

}  // namespace

void InitDiversity(Napi::Env env, Napi::Object exports) {
  exports.Set("mmr", Napi::Function::New<Mmr>(env, "mmr"));
  exports.Set("dpp", Napi::Function::New<Dpp>(env, "dpp"));
  exports.Set("scoreRows", Napi::Function::New<ScoreRows>(env, "scoreRows"));
  exports.Set("dedupe", Napi::Function::New<Dedupe>(env, "dedupe"));
}

}  // namespace rank
