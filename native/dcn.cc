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

#include <cblas.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "common.h"
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

  // Y[B, l.out] = X[B, l.in] W^T + b.
  static void Gemm(const float* x, int ldx, const Linear& l, int batch, float* y) {
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
                  const float* items, int batch, float* y, std::vector<float>& tmp) const {
    const int du = s.userDim, di = s.inputDim - s.userDim;
    tmp.resize(size_t(segments) * l.out);
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
  void Forward(const float* users, const int32_t* offsets, int segments, const float* items,
               int batch, float* out) const {
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
          LinearOnX0(W, users, offsets, segments, items, batch, y, vecTmp);
        else
          Gemm(xc, D, W, batch, y);
      } else {
        const Linear& V = crossV[l];
        if (l == 0)
          LinearOnX0(V, users, offsets, segments, items, batch, low, vecTmp);
        else
          Gemm(xc, D, V, batch, low);
        Gemm(low, r, W, batch, y);
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
        LinearOnX0(L, users, offsets, segments, items, batch, hout, vecTmp);
      else
        Gemm(hin, hinDim, L, batch, hout);
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
    Gemm(headX, hinDim, head, batch, out);
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

// Throws a RangeError naming the first NaN or infinite value, as
// `name[i] is not finite (NaN)`. One pass without early exit first: the
// common case, all finite, then costs a few microseconds per batch.
void CheckFinite(Napi::Env env, const char* name, const float* v, size_t n) {
  bool finite = true;
  for (size_t i = 0; i < n; ++i) finite &= std::isfinite(v[i]);
  if (finite) return;
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(v[i])) continue;
    const char* what = std::isnan(v[i]) ? "NaN" : v[i] > 0 ? "Infinity" : "-Infinity";
    throw Napi::RangeError::New(env, std::string(name) + "[" + std::to_string(i) + "] is not finite (" + what + ")");
  }
}

class DcnModel : public Napi::ObjectWrap<DcnModel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DcnModel",
                       {
                           InstanceMethod<&DcnModel::Forward>("forward"),
                           InstanceMethod<&DcnModel::ForwardSegments>("forwardSegments"),
                           InstanceMethod<&DcnModel::FlopsPerBatch>("flops"),
                       });
  }

  // new DcnModel(shape, tensors: Float32Array[]) with tensors in the order:
  //   per cross layer: full W[D,D], b[D]  |  low-rank U[D,r], V[r,D], b[D]
  //   per MLP layer: W[h, in], b[h];  heads: W[H, in], b[H]
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
        for (size_t i = 0; i < want; ++i)
          RANK_THROW_RANGE_IF(!std::isfinite(a[i]), env, what + " contains NaN or Inf");
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
      for (size_t i = 0; i < want; ++i)
        RANK_THROW_RANGE_IF(!std::isfinite(a[i]), env, what + " contains NaN or Inf");
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
        for (size_t i = 0; i < size_t(D); ++i)
          RANK_THROW_RANGE_IF(!std::isfinite(a[i]), env, what + " contains NaN or Inf");
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
}

}  // namespace rank
