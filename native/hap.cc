// HAP router (heterogeneity-aware adaptive pre-ranking) and top-k.
//
// Rule: the light model scores all K candidates; the keep/drop decision is
// uncertain for the candidates nearest the top-M boundary t (midway between the
// M-th and (M+1)-th light scores). Hardness h_i = |s_i - t| - u_i, with u_i an
// optional per-candidate uncertainty on the light score's scale; the (at most
// B) smallest-h candidates go to the strong model. Merge: strong scores are
// mapped onto the light scale by matching mean and standard deviation over the
// hard set (an affine map, so the strong model's order among them is kept),
// then all K are ranked by final score and the top M kept.

#include <cmath>
#include <numeric>
#include <vector>

#include "common.h"
#include "topk.h"

namespace rank {
namespace {

void CheckFinite(Napi::Env env, const View<float>& v, const char* name) { rank::CheckFinite(env, name, v.data, v.length); }

Napi::Int32Array ToInt32(Napi::Env env, const std::vector<int32_t>& v) {
  auto a = Napi::Int32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

// topK(scores: Float32Array, k) -> Int32Array positions, best first.
Napi::Value TopK(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View<float> s = ArgArray<float>(info, 0, "scores");
  const size_t k = size_t(ArgInt(info, 1, "k", 0, int64_t(1) << 31));
  CheckFinite(env, s, "scores");
  std::vector<int32_t> out;
  TopKPositions(s.data, s.length, k, out);
  return ToInt32(env, out);
}

// hapRoute(light: Float32Array[K], keep M, budget B, uncertainty?: Float32Array[K])
//   -> Int32Array of hard positions, most uncertain first.
Napi::Value HapRoute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View<float> light = ArgArray<float>(info, 0, "light");
  const size_t K = light.length;
  const size_t M = size_t(ArgInt(info, 1, "keep", 0, int64_t(1) << 31));
  const size_t B = std::min(size_t(ArgInt(info, 2, "budget", 0, int64_t(1) << 31)), K);
  View<float> unc;
  if (HasArg(info, 3)) {
    unc = ArgArray<float>(info, 3, "uncertainty");
    RANK_THROW_RANGE_IF(unc.length != K, env, "uncertainty length must equal light length");
    CheckFinite(env, unc, "uncertainty");
  }
  CheckFinite(env, light, "light");
  std::vector<int32_t> hard;
  if (M == 0 || M >= K || B == 0) return ToInt32(env, hard);

  // Boundary between the M-th and (M+1)-th largest light scores.
  std::vector<float> sorted(light.data, light.data + K);
  std::nth_element(sorted.begin(), sorted.begin() + (M - 1), sorted.end(), std::greater<float>());
  const float mth = sorted[M - 1];
  const float next = *std::max_element(sorted.begin() + M, sorted.end());
  const float t = 0.5f * (mth + next);

  std::vector<float> h(K);
  for (size_t i = 0; i < K; ++i)
    h[i] = std::fabs(light.data[i] - t) - (unc.data ? unc.data[i] : 0.f);
  // Smallest hardness first == top-B of -h.
  for (float& x : h) x = -x;
  TopKPositions(h.data(), K, B, hard);
  return ToInt32(env, hard);
}

// hapMerge(light[K], hard: Int32Array[n], strong: Float32Array[n], keep M)
//   -> { order: Int32Array[M'] positions best first, scores: Float32Array[M'] }
Napi::Value HapMerge(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View<float> light = ArgArray<float>(info, 0, "light");
  View<int32_t> hard = ArgArray<int32_t>(info, 1, "hard");
  View<float> strong = ArgArray<float>(info, 2, "strong");
  const size_t M = size_t(ArgInt(info, 3, "keep", 0, int64_t(1) << 31));
  const size_t K = light.length;
  RANK_THROW_RANGE_IF(hard.length != strong.length, env, "strong length must equal hard length");
  CheckFinite(env, light, "light");
  CheckFinite(env, strong, "strong");
  std::vector<uint8_t> seen(K, 0);
  for (size_t i = 0; i < hard.length; ++i) {
    const int32_t p = hard.data[i];
    RANK_THROW_RANGE_IF(p < 0 || size_t(p) >= K, env,
                        "hard[" + std::to_string(i) + "] is out of range [0, " + std::to_string(K) + ")");
    RANK_THROW_RANGE_IF(seen[p], env, "hard contains position " + std::to_string(p) + " twice");
    seen[p] = 1;
  }

  std::vector<float> final_(light.data, light.data + K);
  const size_t n = hard.length;
  if (n > 0) {
    double ml = 0, ms = 0;
    for (size_t i = 0; i < n; ++i) {
      ml += light.data[hard.data[i]];
      ms += strong.data[i];
    }
    ml /= double(n);
    ms /= double(n);
    double vl = 0, vs = 0;
    for (size_t i = 0; i < n; ++i) {
      const double a = light.data[hard.data[i]] - ml, b = strong.data[i] - ms;
      vl += a * a;
      vs += b * b;
    }
    // With no spread in the strong scores there is nothing to reorder by:
    // the hard candidates keep their light scores.
    if (vs > 1e-24) {
      const double scale = std::sqrt(vl / vs);
      for (size_t i = 0; i < n; ++i)
        final_[hard.data[i]] = float(ml + (strong.data[i] - ms) * scale);
    }
  }
  std::vector<int32_t> order;
  TopKPositions(final_.data(), K, M, order);
  auto scores = Napi::Float32Array::New(env, order.size());
  for (size_t i = 0; i < order.size(); ++i) scores[i] = final_[order[i]];
  Napi::Object out = Napi::Object::New(env);
  out.Set("order", ToInt32(env, order));
  out.Set("scores", scores);
  return out;
}

}  // namespace

void InitHap(Napi::Env env, Napi::Object exports) {
  exports.Set("topK", Napi::Function::New<TopK>(env, "topK"));
  exports.Set("hapRoute", Napi::Function::New<HapRoute>(env, "hapRoute"));
  exports.Set("hapMerge", Napi::Function::New<HapMerge>(env, "hapMerge"));
}

}  // namespace rank
