// DCN-v2 multi-task forward pass (Wang et al. 2021), batched over candidates.
//
//   cross:   x_{l+1} = x0 * (W_l x_l + b_l) + x_l      (W_l full, or U_l V_l low-rank)
//   deep:    ReLU MLP, stacked on x_L or parallel on x0 (then heads see [x_L, h])
//   heads:   H sigmoid outputs, one per objective
//
// Weights use PyTorch's nn.Linear layout (weight [out, in], row-major) and are
// copied once into the model; forward() is const and keeps its scratch in a
// thread_local buffer, so one model can serve several threads at once.
//
// User-side split: x0 = [u | item], with u (the user and context features)
// the same for every candidate. Wherever x0 enters a linear map (the first
// cross layer, the first MLP layer in the parallel form or with no cross
// layers), W x0 = (W[:, :Du] u + b) + W[:, Du:] item: the user part is one
// GEMV per request instead of a GEMM row per candidate.
//
// Two ways to multiply: the exact fp32 path (gemm.h's packed panels, or
// cblas), and oneDNN matmul primitives (dnnl_matmul.h) created once per layer
// in fp32, bf16 or int8. On the oneDNN path the user part of an x0 map stays
// fp32 (one row per request) and only the item part runs in the chosen
// precision; MLP layers fuse their ReLU. int8 needs the input ranges of every
// layer: the model runs its exact path once over a calibration sample given
// at construction and records them (Calibration below).

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common.h"
#include "dnnl_matmul.h"
#include "gemm.h"

namespace rank {
namespace {

struct Linear {
  int in = 0, out = 0;
  std::vector<float> w;  // [out, in]
  std::vector<float> b;  // [out]
  // W packed for gemm::PackedWeights (empty: cblas), and for the maps whose
  // input is x0 its user columns W[:, :Du] and item columns W[:, Du:].
  gemm::PackedWeights packed, packedUser, packedItem;
  // oneDNN path: the whole map, or for x0's maps with a user split its user
  // columns (fp32, with the bias) and item columns (accumulating).
  std::unique_ptr<dnnl_mm::Matmul> mm, mmUser, mmItem;
};

// Inputs of each linear map seen while the exact path scores a calibration
// sample, to set the int8 ranges: a column's range is kHeadroom times the
// largest |x| it had. Key: (map, 1 for the item columns of a split x0 map,
// else 0).
class Calibration {
 public:
  // Room above the sample's largest value for inputs the sample missed (the
  // sample's users are stand-ins, see src/engine/scoring/calibration.ts).
  static constexpr float kHeadroom = 1.25f;

  void Record(const void* map, int part, const float* x, size_t ldx, int rows, int cols) {
    std::vector<float>& m = max_[{map, part}];
    if (m.size() != size_t(cols)) m.assign(size_t(cols), 0.f);
    for (int r = 0; r < rows; ++r)
      for (int k = 0; k < cols; ++k) m[size_t(k)] = std::max(m[size_t(k)], std::fabs(x[size_t(r) * ldx + k]));
  }

  dnnl_mm::Int8Ranges Ranges(const void* map, int part, int cols, bool nonNegative) const {
    dnnl_mm::Int8Ranges out;
    out.nonNegative = nonNegative;
    out.range.assign(size_t(cols), 0.f);
    auto it = max_.find({map, part});
    if (it == max_.end() || it->second.size() != size_t(cols)) return out;
    for (int k = 0; k < cols; ++k) out.range[size_t(k)] = kHeadroom * it->second[size_t(k)];
    return out;
  }

 private:
  std::map<std::pair<const void*, int>, std::vector<float>> max_;
};

struct DcnShape {
  int inputDim = 0;
  int userDim = 0;
  int crossLayers = 0;
  int crossRank = 0;  // 0: full-rank W_l
  std::vector<int> mlp;
  int heads = 0;
  bool parallel = false;
};

class DcnNet {
 public:
  DcnShape s;
  std::vector<Linear> crossW;  // full: W (D->D); low-rank: U (r->D)
  std::vector<Linear> crossV;  // low-rank only: V (D->r)
  std::vector<Linear> mlp;
  Linear head;
  // Layers run through oneDNN (BuildDnnl) in this precision; else the exact path.
  bool dnnl = false;
  dnnl_mm::Precision precision = dnnl_mm::Precision::kF32;

  size_t Flops(size_t batch) const {
    size_t f = 0;
    auto lin = [&](const Linear& l) { f += size_t(2) * l.in * l.out; };
    for (auto& l : crossW) lin(l);
    for (auto& l : crossV) lin(l);
    for (auto& l : mlp) lin(l);
    lin(head);
    return f * batch;
  }

  // Packs every layer, and the user and item columns of the maps whose
  // input is x0. Once, after the weights are loaded. (A layer narrower than
  // a panel, such as the heads, computes zeros in the rest of it: still
  // cheaper than a general sgemm repacking its operands.)
  void Pack() {
    if (!gemm::Available()) return;
    const int du = s.userDim, di = s.inputDim - s.userDim;
    auto pack = [&](Linear& l) {
      if (l.in == 0) return;
      l.packed.Pack(l.w.data(), l.in, l.in, l.out);
      if (l.in == s.inputDim && du > 0 && di > 0) {
        l.packedUser.Pack(l.w.data(), l.in, du, l.out);
        l.packedItem.Pack(l.w.data() + du, l.in, di, l.out);
      }
    };
    for (auto& l : crossW) pack(l);
    for (auto& l : crossV) pack(l);
    for (auto& l : mlp) pack(l);
    pack(head);
  }

  // Creates the oneDNN primitives of every layer in precision p (int8: with
  // the ranges `calib` recorded).
  void BuildDnnl(dnnl_mm::Precision p, const Calibration* calib) {
    const int du = s.userDim, di = s.inputDim - s.userDim;
    auto ranges = [&](const Linear& l, int part, int cols, bool nonNeg) {
      return calib ? calib->Ranges(&l, part, cols, nonNeg) : dnnl_mm::Int8Ranges{};
    };
    auto build = [&](Linear& l, bool onX0, bool relu, bool nonNeg, dnnl_mm::Precision p) {
      if (onX0 && du > 0 && di > 0) {
        dnnl_mm::MatmulSpec user{dnnl_mm::Precision::kF32, l.w.data(), size_t(l.in), du, l.out, l.b.data(), false, false, nullptr};
        l.mmUser = std::make_unique<dnnl_mm::Matmul>(user);
        const dnnl_mm::Int8Ranges r = ranges(l, 1, di, false);
        dnnl_mm::MatmulSpec item{p, l.w.data() + du, size_t(l.in), di, l.out, nullptr, relu, true, &r};
        l.mmItem = std::make_unique<dnnl_mm::Matmul>(item);
      } else {
        const dnnl_mm::Int8Ranges r = ranges(l, 0, l.in, nonNeg);
        dnnl_mm::MatmulSpec whole{p, l.w.data(), size_t(l.in), l.in, l.out, l.b.data(), relu, false, &r};
        l.mm = std::make_unique<dnnl_mm::Matmul>(whole);
      }
    };
    for (int l = 0; l < s.crossLayers; ++l) {
      if (s.crossRank == 0) {
        build(crossW[l], l == 0, false, false, p);
      } else {
        build(crossV[l], l == 0, false, false, p);
        build(crossW[l], false, false, false, p);
      }
    }
    const bool mlpOnX0 = s.parallel || s.crossLayers == 0;
    for (size_t j = 0; j < mlp.size(); ++j) build(mlp[j], j == 0 && mlpOnX0, true, j > 0, p);
    // The heads compute the logits, a few outputs from the widest input: in
    // fp32 they cost little and keep the reduced precision's error out of
    // the final sums. (Stacked heads read the last ReLU's output.)
    build(head, mlp.empty() && s.crossLayers == 0, false, !s.parallel && !mlp.empty(), dnnl_mm::Precision::kF32);
    precision = p;
    dnnl = true;
  }

  // Describes how each layer multiplies, e.g. "int8 (oneDNN gemm:jit)".
  std::string Kernels() const {
    if (!dnnl) return std::string("fp32 (") + (gemm::Available() ? "packed" : "blas") + ")";
    std::string impl;
    auto add = [&](const std::unique_ptr<dnnl_mm::Matmul>& m) {
      if (!m) return;
      const std::string i = m->Impl();
      if (impl.find(i) == std::string::npos) impl += (impl.empty() ? "" : ", ") + i;
    };
    for (auto* v : {&crossW, &crossV, &mlp})
      for (auto& l : *v) add(l.mm), add(l.mmItem);
    add(head.mm);
    add(head.mmItem);
    return std::string(dnnl_mm::PrecisionName(precision)) + " (oneDNN " + impl + ")";
  }

  // Y[B, l.out] = X[B, l.in] W^T + b (and the ReLU of an MLP layer on the
  // oneDNN path).
  void Gemm(const float* x, int ldx, const Linear& l, int batch, float* y, Calibration* calib) const {
    if (calib) calib->Record(&l, 0, x, size_t(ldx), batch, l.in);
    if (l.mm) {
      l.mm->Run(x, size_t(ldx), batch, y, size_t(l.out));
      return;
    }
    for (int r = 0; r < batch; ++r) std::copy(l.b.begin(), l.b.end(), y + size_t(r) * l.out);
    if (l.in == 0) return;
    if (!l.packed.empty())
      l.packed.MultiplyAdd(x, size_t(ldx), batch, y, size_t(l.out));
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, l.out, l.in, 1.0f, x, ldx, l.w.data(), l.in,
                  1.0f, y, l.out);
  }

  // Y = x0 W^T + b for a linear map whose input is x0, using the user split:
  // per segment g, c_g = W[:, :Du] u_g + b (one small GEMM over the
  // segments), copied into its rows; then one GEMM over all rows adds
  // W[:, Du:] item.
  void LinearOnX0(const Linear& l, const float* users, const int32_t* offsets, int segments,
                  const float* items, int batch, float* y, std::vector<float>& tmp, Calibration* calib) const {
    const int du = s.userDim, di = s.inputDim - s.userDim;
    if (du == 0) {  // no user part: x0 is the item part
      Gemm(items, di, l, batch, y, calib);
      return;
    }
    if (calib) calib->Record(&l, 1, items, size_t(di), batch, di);
    tmp.resize(size_t(segments) * l.out);
    if (l.mmUser) {
      l.mmUser->Run(users, size_t(du), segments, tmp.data(), size_t(l.out));
      for (int g = 0; g < segments; ++g)
        for (int r = offsets[g]; r < offsets[g + 1]; ++r)
          std::copy(tmp.begin() + size_t(g) * l.out, tmp.begin() + size_t(g + 1) * l.out,
                    y + size_t(r) * l.out);
      l.mmItem->Run(items, size_t(di), batch, y, size_t(l.out));
      return;
    }
    for (int g = 0; g < segments; ++g) std::copy(l.b.begin(), l.b.end(), tmp.begin() + size_t(g) * l.out);
    if (du > 0 && !l.packedUser.empty())
      l.packedUser.MultiplyAdd(users, size_t(du), segments, tmp.data(), size_t(l.out));
    else if (du > 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, segments, l.out, du, 1.0f, users, du,
                  l.w.data(), l.in, 1.0f, tmp.data(), l.out);
    for (int g = 0; g < segments; ++g)
      for (int r = offsets[g]; r < offsets[g + 1]; ++r)
        std::copy(tmp.begin() + size_t(g) * l.out, tmp.begin() + size_t(g + 1) * l.out,
                  y + size_t(r) * l.out);
    if (di > 0 && !l.packedItem.empty())
      l.packedItem.MultiplyAdd(items, size_t(di), batch, y, size_t(l.out));
    else if (di > 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, l.out, di, 1.0f, items, di,
                  l.w.data() + du, l.in, 1.0f, y, l.out);
  }

  // users: [S, Du]; offsets: S + 1 row offsets (offsets[0] = 0, offsets[S] = B);
  // items: [B, D - Du]; out: [B, H] probabilities. Rows of segment g share user g.
  // calib: record every layer's input (the exact path only).
  void Forward(const float* users, const int32_t* offsets, int segments, const float* items,
               int batch, float* out, Calibration* calib = nullptr) const {
    const int D = s.inputDim, du = s.userDim, di = D - du;
    int maxHidden = 0;
    for (int h : s.mlp) maxHidden = std::max(maxHidden, h);
    const int r = std::max(s.crossRank, 1);
    const int headIn = head.in;
    const size_t need = size_t(batch) * (3 * D + r + 2 * maxHidden + headIn);
    thread_local std::vector<float> scratch;
    thread_local std::vector<float> vecTmp;
    if (scratch.size() < need) scratch.resize(need);
    float* x0 = scratch.data();
    float* xl = x0 + size_t(batch) * D;
    float* y = xl + size_t(batch) * D;
    float* low = y + size_t(batch) * D;
    float* h0 = low + size_t(batch) * r;
    float* h1 = h0 + size_t(batch) * maxHidden;
    float* cat = h1 + size_t(batch) * maxHidden;

    for (int g = 0; g < segments; ++g) {
      const float* user = users + size_t(g) * du;
      for (int b = offsets[g]; b < offsets[g + 1]; ++b) {
        float* row = x0 + size_t(b) * D;
        std::copy(user, user + du, row);
        std::copy(items + size_t(b) * di, items + size_t(b + 1) * di, row + du);
      }
    }

    // Cross network.
    const float* xc = x0;
    for (int l = 0; l < s.crossLayers; ++l) {
      const Linear& W = crossW[l];
      if (s.crossRank == 0) {
        if (l == 0)
          LinearOnX0(W, users, offsets, segments, items, batch, y, vecTmp, calib);
        else
          Gemm(xc, D, W, batch, y, calib);
      } else {
        const Linear& V = crossV[l];
        if (l == 0)
          LinearOnX0(V, users, offsets, segments, items, batch, low, vecTmp, calib);
        else
          Gemm(xc, D, V, batch, low, calib);
        Gemm(low, r, W, batch, y, calib);
      }
      for (size_t i = 0, n = size_t(batch) * D; i < n; ++i) xl[i] = x0[i] * y[i] + xc[i];
      xc = xl;
    }

    // Deep network.
    const float* hin = s.parallel || s.crossLayers == 0 ? x0 : xc;
    int hinDim = D;
    float* hbuf[2] = {h0, h1};
    for (size_t j = 0; j < mlp.size(); ++j) {
      const Linear& L = mlp[j];
      float* hout = hbuf[j & 1];
      if (j == 0 && hin == x0)
        LinearOnX0(L, users, offsets, segments, items, batch, hout, vecTmp, calib);
      else
        Gemm(hin, hinDim, L, batch, hout, calib);
      if (!dnnl)  // oneDNN fuses the ReLU
        for (size_t i = 0, n = size_t(batch) * L.out; i < n; ++i) hout[i] = hout[i] > 0 ? hout[i] : 0;
      hin = hout;
      hinDim = L.out;
    }

    // Heads on [x_L, h] (parallel) or on the last stage's output (stacked).
    const float* headX = hin;
    if (s.parallel && !mlp.empty()) {
      for (int b = 0; b < batch; ++b) {
        float* row = cat + size_t(b) * headIn;
        std::copy(xc + size_t(b) * D, xc + size_t(b + 1) * D, row);
        std::copy(hin + size_t(b) * hinDim, hin + size_t(b + 1) * hinDim, row + D);
      }
      headX = cat;
      hinDim = headIn;
    } else if (mlp.empty()) {
      headX = xc;
      hinDim = D;
    }
    if (s.crossLayers == 0 && mlp.empty())
      LinearOnX0(head, users, offsets, segments, items, batch, out, vecTmp, calib);
    else
      Gemm(headX, hinDim, head, batch, out, calib);
    for (size_t i = 0, n = size_t(batch) * head.out; i < n; ++i) out[i] = 1.0f / (1.0f + std::exp(-out[i]));
  }
};

int GetInt(Napi::Object o, const char* key, int lo, int hi, int dflt, bool required) {
  Napi::Env env = o.Env();
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    RANK_THROW_TYPE_IF(required, env, std::string("shape.") + key + " is required");
    return dflt;
  }
  RANK_THROW_TYPE_IF(!v.IsNumber(), env, std::string("shape.") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  RANK_THROW_RANGE_IF(!std::isfinite(d) || d != std::floor(d) || d < lo || d > hi, env,
                      std::string("shape.") + key + " must be an integer in [" + std::to_string(lo) +
                          ", " + std::to_string(hi) + "]");
  return int(d);
}

class DcnModel : public Napi::ObjectWrap<DcnModel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DcnModel",
                       {
                           InstanceMethod<&DcnModel::Forward>("forward"),
                           InstanceMethod<&DcnModel::ForwardSegments>("forwardSegments"),
                           InstanceMethod<&DcnModel::FlopsPerBatch>("flops"),
                           InstanceMethod<&DcnModel::Kernels>("kernels"),
                       });
  }

  // new DcnModel(shape, tensors: Float32Array[], options?) with tensors in the order:
  //   per cross layer: full W[D,D], b[D]  |  low-rank U[D,r], V[r,D], b[D]
  //   per MLP layer: W[h, in], b[h];  heads: W[H, in], b[H]
  // options: { precision?: 'fp32' | 'bf16' | 'int8', backend?: 'gemm' | 'onednn',
  //            calibration?: { users, offsets, items } (as forwardSegments; required for int8) }
  // fp32 runs on the exact path ('gemm') unless backend is 'onednn' or the
  // environment sets RANK_DCN_GEMM=onednn; bf16 and int8 always run on oneDNN.
  explicit DcnModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DcnModel>(info) {
    Napi::Env env = info.Env();
    RANK_THROW_TYPE_IF(info.Length() < 2 || !info[0].IsObject() || !info[1].IsArray(), env,
                       "DcnModel(shape, tensors) expects an object and an array of Float32Array");
    Napi::Object so = info[0].As<Napi::Object>();
    auto net = std::make_shared<DcnNet>();
    DcnShape& s = net->s;
    s.inputDim = GetInt(so, "inputDim", 1, 1 << 16, 0, true);
    s.userDim = GetInt(so, "userDim", 0, s.inputDim, 0, false);
    s.crossLayers = GetInt(so, "crossLayers", 0, 64, 0, true);
    s.crossRank = GetInt(so, "crossRank", 0, s.inputDim, 0, false);
    s.heads = GetInt(so, "heads", 1, 1024, 0, true);
    Napi::Value mv = so.Get("mlp");
    if (!mv.IsUndefined()) {
      RANK_THROW_TYPE_IF(!mv.IsArray(), env, "shape.mlp must be an array of layer widths");
      Napi::Array ma = mv.As<Napi::Array>();
      for (uint32_t i = 0; i < ma.Length(); ++i) {
        Napi::Value w = ma.Get(i);
        RANK_THROW_TYPE_IF(!w.IsNumber(), env, "shape.mlp entries must be numbers");
        double d = w.As<Napi::Number>().DoubleValue();
        RANK_THROW_RANGE_IF(!(d >= 1 && d <= (1 << 16)) || d != std::floor(d), env,
                            "shape.mlp entries must be integers in [1, 65536]");
        s.mlp.push_back(int(d));
      }
    }
    Napi::Value st = so.Get("structure");
    if (!st.IsUndefined()) {
      RANK_THROW_TYPE_IF(!st.IsString(), env, "shape.structure must be 'stacked' or 'parallel'");
      std::string ss = st.As<Napi::String>();
      RANK_THROW_RANGE_IF(ss != "stacked" && ss != "parallel", env,
                          "shape.structure must be 'stacked' or 'parallel'");
      s.parallel = ss == "parallel";
    }

    Napi::Array tensors = info[1].As<Napi::Array>();
    uint32_t next = 0;
    auto take = [&](Linear& l, int out, int in, const std::string& name) {
      l.in = in;
      l.out = out;
      for (int part = 0; part < 2; ++part) {
        const size_t want = part == 0 ? size_t(out) * in : size_t(out);
        const std::string what = name + (part == 0 ? ".weight" : ".bias");
        RANK_THROW_RANGE_IF(next >= tensors.Length(), env, "missing tensor " + what);
        Napi::Value v = tensors.Get(next++);
        RANK_THROW_TYPE_IF(!v.IsTypedArray() ||
                               v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array,
                           env, what + " must be a Float32Array");
        Napi::Float32Array a = v.As<Napi::Float32Array>();
        RANK_THROW_RANGE_IF(a.ElementLength() != want, env,
                            what + " has " + std::to_string(a.ElementLength()) + " values, expected " +
                                std::to_string(want));
        CheckFinite(env, what, a.Data(), want);
        (part == 0 ? l.w : l.b).assign(a.Data(), a.Data() + want);
      }
    };
    auto takeNoBias = [&](Linear& l, int out, int in, const std::string& name) {
      // Low-rank U and V have no bias of their own; the layer bias follows V.
      l.in = in;
      l.out = out;
      const std::string what = name + ".weight";
      RANK_THROW_RANGE_IF(next >= tensors.Length(), env, "missing tensor " + what);
      Napi::Value v = tensors.Get(next++);
      RANK_THROW_TYPE_IF(!v.IsTypedArray() ||
                             v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array,
                         env, what + " must be a Float32Array");
      Napi::Float32Array a = v.As<Napi::Float32Array>();
      const size_t want = size_t(out) * in;
      RANK_THROW_RANGE_IF(a.ElementLength() != want, env,
                          what + " has " + std::to_string(a.ElementLength()) + " values, expected " +
                              std::to_string(want));
      CheckFinite(env, what, a.Data(), want);
      l.w.assign(a.Data(), a.Data() + want);
      l.b.assign(size_t(out), 0.f);
    };

    const int D = s.inputDim;
    net->crossW.resize(s.crossLayers);
    if (s.crossRank > 0) net->crossV.resize(s.crossLayers);
    for (int l = 0; l < s.crossLayers; ++l) {
      const std::string name = "cross." + std::to_string(l);
      if (s.crossRank == 0) {
        take(net->crossW[l], D, D, name);
      } else {
        takeNoBias(net->crossW[l], D, s.crossRank, name + ".U");
        takeNoBias(net->crossV[l], s.crossRank, D, name + ".V");
        // Layer bias b_l[D]: kept on U's output.
        const std::string what = name + ".bias";
        RANK_THROW_RANGE_IF(next >= tensors.Length(), env, "missing tensor " + what);
        Napi::Value v = tensors.Get(next++);
        RANK_THROW_TYPE_IF(!v.IsTypedArray() ||
                               v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array,
                           env, what + " must be a Float32Array");
        Napi::Float32Array a = v.As<Napi::Float32Array>();
        RANK_THROW_RANGE_IF(a.ElementLength() != size_t(D), env, what + " must have inputDim values");
        CheckFinite(env, what, a.Data(), size_t(D));
        net->crossW[l].b.assign(a.Data(), a.Data() + D);
      }
    }
    int in = D;
    net->mlp.resize(s.mlp.size());
    for (size_t j = 0; j < s.mlp.size(); ++j) {
      take(net->mlp[j], s.mlp[j], in, "mlp." + std::to_string(j));
      in = s.mlp[j];
    }
    const int headIn = s.mlp.empty() ? D : (s.parallel ? D + s.mlp.back() : s.mlp.back());
    take(net->head, s.heads, headIn, "heads");
    RANK_THROW_RANGE_IF(next != tensors.Length(), env,
                        "got " + std::to_string(tensors.Length()) + " tensors, expected " +
                            std::to_string(next));
    net->Pack();

    dnnl_mm::Precision precision = dnnl_mm::Precision::kF32;
    const char* envGemm = std::getenv("RANK_DCN_GEMM");
    bool onednn = envGemm != nullptr && std::strcmp(envGemm, "onednn") == 0;
    Napi::Object opts;
    if (info.Length() > 2 && !info[2].IsUndefined()) {
      RANK_THROW_TYPE_IF(!info[2].IsObject(), env, "options must be an object");
      opts = info[2].As<Napi::Object>();
      Napi::Value pv = opts.Get("precision");
      if (!pv.IsUndefined()) {
        const std::string p = pv.IsString() ? pv.As<Napi::String>().Utf8Value() : "";
        RANK_THROW_RANGE_IF(p != "fp32" && p != "bf16" && p != "int8", env,
                            "options.precision must be 'fp32', 'bf16' or 'int8'");
        precision = p == "int8" ? dnnl_mm::Precision::kInt8
                    : p == "bf16" ? dnnl_mm::Precision::kBf16
                                  : dnnl_mm::Precision::kF32;
      }
      Napi::Value bv = opts.Get("backend");
      if (!bv.IsUndefined()) {
        const std::string b = bv.IsString() ? bv.As<Napi::String>().Utf8Value() : "";
        RANK_THROW_RANGE_IF(b != "gemm" && b != "onednn", env, "options.backend must be 'gemm' or 'onednn'");
        onednn = b == "onednn";
        RANK_THROW_RANGE_IF(!onednn && precision != dnnl_mm::Precision::kF32, env,
                            "options.backend 'gemm' runs fp32 only");
      }
    }
    if (precision != dnnl_mm::Precision::kF32) onednn = true;
    if (onednn) {
      std::unique_ptr<Calibration> calib;
      if (precision == dnnl_mm::Precision::kInt8) {
        Napi::Value cv = opts.IsEmpty() ? env.Undefined() : opts.Get("calibration");
        RANK_THROW_TYPE_IF(!cv.IsObject(), env,
                           "options.calibration { users, offsets, items } is required for int8");
        calib = Calibrate(env, *net, cv.As<Napi::Object>());
      }
      try {
        net->BuildDnnl(precision, calib.get());
      } catch (const std::exception& e) {
        throw Napi::Error::New(env, std::string("oneDNN could not build the model: ") + e.what());
      }
    }
    net_ = std::move(net);
  }

 private:
  // forward(user: Float32Array[Du], items: Float32Array[B*(D-Du)], out?: Float32Array[B*H])
  Napi::Value Forward(const Napi::CallbackInfo& info) { return Run(info, false); }

  // forwardSegments(users: Float32Array[S*Du], offsets: Int32Array[S+1],
  //                 items: Float32Array[B*(D-Du)], out?: Float32Array[B*H])
  // Several requests in one batch: rows offsets[g]..offsets[g+1] use users[g].
  Napi::Value ForwardSegments(const Napi::CallbackInfo& info) { return Run(info, true); }

  Napi::Value Run(const Napi::CallbackInfo& info, bool segmented) {
    Napi::Env env = info.Env();
    const DcnShape& s = net_->s;
    const size_t di = size_t(s.inputDim - s.userDim);
    RANK_THROW_RANGE_IF(di == 0, env, "inputDim - userDim must be positive to score items");
    View<float> users = ArgArray<float>(info, 0, segmented ? "users" : "user");
    const size_t itemsArg = segmented ? 2 : 1;
    View<float> items = ArgArray<float>(info, itemsArg, "items");
    RANK_THROW_RANGE_IF(items.length % di != 0, env,
                        "items length must be a multiple of inputDim - userDim (" +
                            std::to_string(di) + ")");
    const size_t batch = items.length / di;
    size_t segments = 1;
    int32_t single[2] = {0, int32_t(batch)};
    const int32_t* offsets = single;
    if (segmented) {
      View<int32_t> offs = ArgArray<int32_t>(info, 1, "offsets");
      RANK_THROW_RANGE_IF(offs.length < 1, env, "offsets must have segments + 1 entries");
      segments = offs.length - 1;
      RANK_THROW_RANGE_IF(users.length != segments * size_t(s.userDim), env,
                          "users length must equal (offsets.length - 1) * userDim");
      RANK_THROW_RANGE_IF(offs.data[0] != 0 || size_t(offs.data[segments]) != batch, env,
                          "offsets must start at 0 and end at the number of item rows");
      for (size_t g = 0; g < segments; ++g)
        RANK_THROW_RANGE_IF(offs.data[g + 1] < offs.data[g], env, "offsets must be non-decreasing");
      offsets = offs.data;
    } else {
      RANK_THROW_RANGE_IF(users.length != size_t(s.userDim), env,
                          "user length must equal shape.userDim (" + std::to_string(s.userDim) + ")");
    }
    CheckFinite(env, segmented ? "users" : "user", users.data, users.length);
    CheckFinite(env, "items", items.data, items.length);
    const size_t outArg = itemsArg + 1;
    Napi::Float32Array out;
    if (HasArg(info, outArg)) {
      View<float> o = ArgArray<float>(info, outArg, "out");
      RANK_THROW_RANGE_IF(o.length < batch * s.heads, env, "out is too small for batch * heads");
      out = info[outArg].As<Napi::Float32Array>();
    } else {
      out = Napi::Float32Array::New(env, batch * s.heads);
    }
    if (batch > 0 && segments > 0)
      net_->Forward(users.data, offsets, int(segments), items.data, int(batch), out.Data());
    return out;
  }

  // Runs the exact path over a calibration sample and records every layer's inputs.
  static std::unique_ptr<Calibration> Calibrate(Napi::Env env, const DcnNet& net, Napi::Object c) {
    const DcnShape& s = net.s;
    const size_t di = size_t(s.inputDim - s.userDim);
    RANK_THROW_RANGE_IF(di == 0, env, "inputDim - userDim must be positive to calibrate");
    auto arr = [&](const char* key, napi_typedarray_type type, const char* typeName) {
      Napi::Value v = c.Get(key);
      RANK_THROW_TYPE_IF(!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type, env,
                         std::string("options.calibration.") + key + " must be a " + typeName);
      return v.As<Napi::TypedArray>();
    };
    Napi::Float32Array users = arr("users", napi_float32_array, "Float32Array").As<Napi::Float32Array>();
    Napi::Int32Array offs = arr("offsets", napi_int32_array, "Int32Array").As<Napi::Int32Array>();
    Napi::Float32Array items = arr("items", napi_float32_array, "Float32Array").As<Napi::Float32Array>();
    RANK_THROW_RANGE_IF(offs.ElementLength() < 2, env, "options.calibration.offsets must have segments + 1 entries");
    const size_t segments = offs.ElementLength() - 1;
    RANK_THROW_RANGE_IF(items.ElementLength() == 0 || items.ElementLength() % di != 0, env,
                        "options.calibration.items must hold a positive whole number of item rows");
    const size_t batch = items.ElementLength() / di;
    RANK_THROW_RANGE_IF(users.ElementLength() != segments * size_t(s.userDim), env,
                        "options.calibration.users length must equal (offsets.length - 1) * userDim");
    RANK_THROW_RANGE_IF(offs[0] != 0 || size_t(offs[segments]) != batch, env,
                        "options.calibration.offsets must start at 0 and end at the number of item rows");
    for (size_t g = 0; g < segments; ++g)
      RANK_THROW_RANGE_IF(offs[g + 1] < offs[g], env, "options.calibration.offsets must be non-decreasing");
    CheckFinite(env, "options.calibration.users", users.Data(), users.ElementLength());
    CheckFinite(env, "options.calibration.items", items.Data(), items.ElementLength());
    auto calib = std::make_unique<Calibration>();
    std::vector<float> out(batch * size_t(s.heads));
    net.Forward(users.Data(), offs.Data(), int(segments), items.Data(), int(batch), out.data(), calib.get());
    return calib;
  }

  Napi::Value Kernels(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), net_->Kernels()); }

  Napi::Value FlopsPerBatch(const Napi::CallbackInfo& info) {
    const int64_t b = ArgInt(info, 0, "batch", 0, int64_t(1) << 31);
    return Napi::Number::New(info.Env(), double(net_->Flops(size_t(b))));
  }

  std::shared_ptr<const DcnNet> net_;
};

}  // namespace

void InitDcn(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = DcnModel::Define(env);
  data->dcnModel = Napi::Persistent(ctor);
  exports.Set("DcnModel", ctor);
  // How the layers multiply: "packed" (gemm.h) or "blas".
  exports.Set("dcnGemm", Napi::String::New(env, gemm::Available() ? "packed" : "blas"));
  // What oneDNN finds on this CPU (the engine picks the 'auto' precision from it).
  const dnnl_mm::CpuCaps& caps = dnnl_mm::Caps();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("isa", caps.isa);
  cpu.Set("vnni", caps.vnni);
  cpu.Set("bf16", caps.bf16);
  cpu.Set("amx", caps.amx);
  exports.Set("onednnCpu", cpu);
}

}  // namespace rank
