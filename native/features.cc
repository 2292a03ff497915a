// The item part of the ranker's input (layout user-item-v1, see
// src/features/layout.ts), gathered from the catalog's columns:
//
//   [embedding (dim) | log price | log price | is new | popularity bias]
//
// Candidate rows are scattered over a catalog far larger than the caches, so
// the gather is bound by memory latency: the rows a few places ahead are
// requested while the current one is copied.

#include <algorithm>
#include <cmath>
#include <string>

#include "common.h"

namespace rank {
namespace {

// Rows requested ahead of the one being copied.
constexpr size_t kAhead = 8;

// gatherItemFeatures(embeddings: Float32Array[n*dim], dim, logPrice: Float32Array[n],
//                    createdAt: Float64Array[n], bias: Float32Array[n], rows: Int32Array[B],
//                    now: number, newItemMs: number, out: Float32Array[B*(dim+4)]) -> out
// is new = createdAt <= now && now - createdAt < newItemMs. Throws a
// RangeError naming the catalog row if a gathered value is NaN or infinite.
Napi::Value GatherItemFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const View<float> emb = ArgArray<float>(info, 0, "embeddings");
  const size_t dim = size_t(ArgInt(info, 1, "dim", 1, 65536));
  RANK_THROW_RANGE_IF(emb.length % dim != 0, env, "embeddings length must be a multiple of dim");
  const size_t nrows = emb.length / dim;
  const View<float> logPrice = ArgArray<float>(info, 2, "logPrice");
  const View<double> createdAt = ArgArray<double>(info, 3, "createdAt");
  const View<float> bias = ArgArray<float>(info, 4, "bias");
  RANK_THROW_RANGE_IF(logPrice.length < nrows || createdAt.length < nrows || bias.length < nrows, env,
                      "logPrice, createdAt and bias must have a value for every embedding row");
  const View<int32_t> rows = ArgArray<int32_t>(info, 5, "rows");
  const double now = ArgNumber(info, 6, "now");
  const double newItemMs = ArgNumber(info, 7, "newItemMs");
  const View<float> out = ArgArray<float>(info, 8, "out");
  const size_t w = dim + 4;
  const size_t n = rows.length;
  RANK_THROW_RANGE_IF(out.length < n * w, env,
                      "out must hold rows.length * (dim + 4) = " + std::to_string(n * w) + " values");
  for (size_t k = 0; k < n; ++k) {
    const int32_t r = rows.data[k];
    RANK_THROW_RANGE_IF(r < 0 || size_t(r) >= nrows, env,
                        "rows[" + std::to_string(k) + "] = " + std::to_string(r) + " is outside the catalog [0, " +
                            std::to_string(nrows) + ")");
  }
  const size_t rowBytes = dim * sizeof(float);
  auto request = [&](size_t k) {
    const size_t r = size_t(rows.data[k]);
    const char* p = reinterpret_cast<const char*>(emb.data + r * dim);
    for (size_t o = 0; o < rowBytes; o += 64) __builtin_prefetch(p + o, 0, 3);
    __builtin_prefetch(logPrice.data + r, 0, 3);
    __builtin_prefetch(createdAt.data + r, 0, 3);
    __builtin_prefetch(bias.data + r, 0, 3);
  };
  for (size_t k = 0; k < std::min(n, kAhead); ++k) request(k);
  for (size_t k = 0; k < n; ++k) {
    if (k + kAhead < n) request(k + kAhead);
    const size_t r = size_t(rows.data[k]);
    float* o = out.data + k * w;
    std::copy(emb.data + r * dim, emb.data + (r + 1) * dim, o);
    const float lp = logPrice.data[r];
    const double t = createdAt.data[r];
    o[dim] = lp;
    o[dim + 1] = lp;
    o[dim + 2] = t <= now && now - t < newItemMs ? 1.f : 0.f;
    o[dim + 3] = bias.data[r];
    bool finite = true;
    for (size_t j = 0; j < w; ++j) finite &= std::isfinite(o[j]);
    RANK_THROW_RANGE_IF(!finite, env, "catalog row " + std::to_string(r) + " has a feature that is not finite");
  }
  return info[8];
}

}  // namespace

void InitFeatures(Napi::Env env, Napi::Object exports) {
  exports.Set("gatherItemFeatures", Napi::Function::New<GatherItemFeatures>(env, "gatherItemFeatures"));
}

}  // namespace rank
