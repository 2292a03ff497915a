#include "dnnl_matmul.h"

#include <immintrin.h>
#include <omp.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <stdexcept>
#include <unordered_map>

namespace rank {
namespace dnnl_mm {
namespace {

using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

// How the int8 quantization error is split between activations and weights
// (SmoothQuant's alpha): column k of x is divided by t_k = a_k^alpha /
// w_k^(1 - alpha) and column k of W multiplied by it (a_k: the column's
// calibrated range, w_k: its largest weight), then x is quantized with one
// range and W per output channel. 1 would give every input column its own
// full 8-bit range and put all the spread into the weights; 0.5 balances the
// two and kept the demo ranker's top 50 closest to fp32
// (test/engine/scoring/calibration.test.ts).
constexpr float kSmoothAlpha = 0.5f;

dnnl::engine& Engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& ThreadStream() {
  thread_local std::unique_ptr<dnnl::stream> s;
  if (!s) s = std::make_unique<dnnl::stream>(Engine());
  return *s;
}

// Lowers the calling thread's OpenMP team size to 1 while oneDNN runs.
class OmpSingle {
 public:
  OmpSingle() : prev_(omp_get_max_threads()) {
    if (prev_ != 1) omp_set_num_threads(1);
  }
  ~OmpSingle() {
    if (prev_ != 1) omp_set_num_threads(prev_);
  }

 private:
  int prev_;
};

// Holds the calling thread's asynchronous signals while a primitive runs.
// oneDNN's f32 gemm kernels (jit_avx512_common_gemm_f32, jit_avx_gemm_f32;
// oneDNN issue #4845, Debian's 2.6 has it) point rsp at the start of a heap
// workspace when K > 84 and use the memory above it as their stack: a signal
// handled meanwhile (V8's SIGPROF under --cpu-prof, any signal sent to the
// process) writes its frame below rsp, over the workspace's malloc header and
// the end of the chunk before it. A held signal is delivered when the mask is
// restored. Fault signals stay open (they cannot be held). Only f32
// primitives run those kernels (bf16 and int8 have their own); the pair of
// mask changes costs ~0.5 us.
class SignalsHeld {
 public:
  explicit SignalsHeld(bool hold) : hold_(hold) {
    if (hold_) pthread_sigmask(SIG_BLOCK, &Async(), &prev_);
  }
  ~SignalsHeld() {
    if (hold_) pthread_sigmask(SIG_SETMASK, &prev_, nullptr);
  }

 private:
  static const sigset_t& Async() {
    static const sigset_t set = [] {
      sigset_t s;
      sigfillset(&s);
      for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&s, sig);
      return s;
    }();
    return set;
  }
  bool hold_;
  sigset_t prev_;
};

uint16_t ToBf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  b += 0x7fffu + ((b >> 16) & 1u);  // round to nearest even (inputs are finite)
  return uint16_t(b >> 16);
}

void RowsToBf16(const float* x, size_t ldx, int rows, int cols, uint16_t* out) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * ldx;
    uint16_t* o = out + size_t(r) * cols;
    for (int k = 0; k < cols; ++k) o[k] = ToBf16(xr[k]);
  }
}

// q[k] = saturate(round(x[k] * inv[k])) into [lo, hi] (s8: -127..127, u8: 0..255).
// (GCC 12 warns about the undefined pass-through operand inside the masked
// intrinsics' headers; the values are defined.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f,avx512bw,avx512vl"))) void QuantizeRowAvx512(const float* x, const float* inv,
                                                                           int n, void* q, bool u8) {
  const __m512 lo = _mm512_set1_ps(u8 ? 0.f : -127.f), hi = _mm512_set1_ps(u8 ? 255.f : 127.f);
  int k = 0;
  for (; k < n; k += 16) {
    const __mmask16 m = n - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - k)) - 1);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), _mm512_maskz_loadu_ps(m, inv + k));
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    const __m512i i = _mm512_cvtps_epi32(v);  // round to nearest even
    if (u8)
      _mm512_mask_cvtusepi32_storeu_epi8(static_cast<uint8_t*>(q) + k, m, i);
    else
      _mm512_mask_cvtsepi32_storeu_epi8(static_cast<int8_t*>(q) + k, m, i);
  }
}

#pragma GCC diagnostic pop

void QuantizeRowScalar(const float* x, const float* inv, int n, void* q, bool u8) {
  const float lo = u8 ? 0.f : -127.f, hi = u8 ? 255.f : 127.f;
  for (int k = 0; k < n; ++k) {
    const float v = std::min(std::max(x[k] * inv[k], lo), hi);
    const int i = int(std::nearbyint(v));
    if (u8)
      static_cast<uint8_t*>(q)[k] = uint8_t(i);
    else
      static_cast<int8_t*>(q)[k] = int8_t(i);
  }
}

bool HasAvx512() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
  }();
  return ok;
}

CpuCaps DetectCaps() {
  CpuCaps c;
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  switch (static_cast<dnnl_cpu_isa_t>(isa)) {
    case dnnl_cpu_isa_sse41: c.isa = "sse41"; break;
    case dnnl_cpu_isa_avx: c.isa = "avx"; break;
    case dnnl_cpu_isa_avx2: c.isa = "avx2"; break;
    case dnnl_cpu_isa_avx2_vnni: c.isa = "avx2_vnni"; break;
    case dnnl_cpu_isa_avx512_mic: c.isa = "avx512_mic"; break;
    case dnnl_cpu_isa_avx512_mic_4ops: c.isa = "avx512_mic_4ops"; break;
    case dnnl_cpu_isa_avx512_core: c.isa = "avx512_core"; break;
    case dnnl_cpu_isa_avx512_core_vnni: c.isa = "avx512_core_vnni"; break;
    case dnnl_cpu_isa_avx512_core_bf16: c.isa = "avx512_core_bf16"; break;
    case dnnl_cpu_isa_avx512_core_amx: c.isa = "avx512_core_amx"; break;
    default: c.isa = "isa_0x" + [&] { char b[16]; std::snprintf(b, sizeof b, "%x", isa); return std::string(b); }();
  }
  // The ISA values are bit sets: each level holds the bits of the ones below.
  c.vnni = (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni ||
           (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
  c.bf16 = (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
  c.amx = (isa & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx;
  return c;
}

}  // namespace

const char* PrecisionName(Precision p) {
  switch (p) {
    case Precision::kF32: return "fp32";
    case Precision::kBf16: return "bf16";
    case Precision::kInt8: return "int8";
  }
  return "?";
}

const CpuCaps& Caps() {
  static const CpuCaps caps = DetectCaps();
  return caps;
}

struct Matmul::State {
  Precision precision = Precision::kF32;
  int in = 0, out = 0;
  bool relu = false, accumulate = false;
  dt srcType = dt::f32;
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  std::vector<uint8_t> weights;  // in pd.weights_desc()'s layout
  std::vector<float> bias;       // [out] or empty
  // int8: per-column multipliers taking x to its integer grid.
  std::vector<float> inv;
};

Matmul::Matmul(const MatmulSpec& spec) : st_(std::make_unique<State>()) {
  State& s = *st_;
  s.precision = spec.precision;
  s.in = spec.in;
  s.out = spec.out;
  s.relu = spec.relu;
  s.accumulate = spec.accumulate;
  if (spec.in <= 0 || spec.out <= 0) throw std::invalid_argument("matmul needs in > 0 and out > 0");
  if (spec.bias) s.bias.assign(spec.bias, spec.bias + spec.out);
  OmpSingle single;
  const dnnl::memory::dim K = spec.in, N = spec.out, M = DNNL_RUNTIME_DIM_VAL;
  const bool int8 = spec.precision == Precision::kInt8;
  dt weiType = dt::f32;
  std::vector<int8_t> qw;
  std::vector<float> outScales;
  if (spec.precision == Precision::kBf16) {
    s.srcType = weiType = dt::bf16;
  } else if (int8) {
    if (spec.ranges == nullptr || spec.ranges->range.size() != size_t(K))
      throw std::invalid_argument("int8 matmul needs a calibrated range per input column");
    const bool u8 = spec.ranges->nonNegative;
    s.srcType = u8 ? dt::u8 : dt::s8;
    weiType = dt::s8;
    const float levels = u8 ? 255.f : 127.f;
    // Smoothing factors t_k, then one range A for x / t.
    std::vector<float> t(size_t(K), 1.f);
    float A = 0.f;
    for (int k = 0; k < K; ++k) {
      float wk = 0.f;
      for (int n = 0; n < N; ++n) wk = std::max(wk, std::fabs(spec.w[size_t(n) * spec.ldw + k]));
      const float ak = spec.ranges->range[size_t(k)];
      if (ak > 0.f && wk > 0.f) t[size_t(k)] = std::pow(ak, kSmoothAlpha) / std::pow(wk, 1.f - kSmoothAlpha);
      if (ak > 0.f) A = std::max(A, ak / t[size_t(k)]);
    }
    if (!(A > 0.f)) A = 1.f;
    s.inv.resize(size_t(K));
    for (int k = 0; k < K; ++k) s.inv[size_t(k)] = levels / (A * t[size_t(k)]);
    // W * t quantized per output channel; y_n = o_n * sum_k qw[n,k] qx[k].
    qw.resize(size_t(N) * K);
    outScales.resize(size_t(N));
    for (int n = 0; n < N; ++n) {
      const float* wr = spec.w + size_t(n) * spec.ldw;
      float m = 0.f;
      for (int k = 0; k < K; ++k) m = std::max(m, std::fabs(wr[k] * t[size_t(k)]));
      const float q = m > 0.f ? 127.f / m : 0.f;
      for (int k = 0; k < K; ++k)
        qw[size_t(n) * K + k] = int8_t(std::nearbyint(std::min(std::max(wr[k] * t[size_t(k)] * q, -127.f), 127.f)));
      outScales[size_t(n)] = m * A / (127.f * levels);
    }
  }

  const dnnl::memory::desc src({M, K}, s.srcType, dims{DNNL_RUNTIME_DIM_VAL, 1});
  const dnnl::memory::desc wei({K, N}, weiType, dnnl::memory::format_tag::any);
  const dnnl::memory::desc dst({M, N}, dt::f32, dims{DNNL_RUNTIME_DIM_VAL, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops po;
  // int8 adds bias itself (before the sum) so that the order of bias and
  // output scales inside the library does not matter.
  if (s.accumulate || int8) po.append_sum(1.f);
  if (s.relu) po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  attr.set_post_ops(po);
  if (int8) attr.set_output_scales(1 << 1, outScales);
  const bool fusedBias = !int8 && !s.bias.empty();
  const dnnl::memory::desc biasMd({1, N}, dt::f32, dnnl::memory::format_tag::ab);
  dnnl::matmul::desc d = fusedBias ? dnnl::matmul::desc(src, wei, biasMd, dst) : dnnl::matmul::desc(src, wei, dst);
  s.pd = dnnl::matmul::primitive_desc(d, attr, Engine());
  s.prim = dnnl::matmul(s.pd);

  // Weights: once into the primitive's layout.
  const dnnl::memory::desc wd = s.pd.weights_desc();
  s.weights.assign(wd.get_size(), 0);
  dnnl::memory dstW(wd, Engine(), s.weights.data());
  dnnl::memory srcW;
  if (int8)
    srcW = dnnl::memory(dnnl::memory::desc({K, N}, dt::s8, dims{1, K}), Engine(), qw.data());
  else
    srcW = dnnl::memory(dnnl::memory::desc({K, N}, dt::f32, dims{1, dnnl::memory::dim(spec.ldw)}), Engine(),
                        const_cast<float*>(spec.w));
  dnnl::stream& strm = ThreadStream();
  dnnl::reorder(srcW, dstW).execute(strm, srcW, dstW);
  strm.wait();
}

Matmul::~Matmul() = default;

Precision Matmul::precision() const { return st_->precision; }

std::string Matmul::Impl() const { return st_->pd.impl_info_str(); }

void Matmul::Run(const float* x, size_t ldx, int rows, float* y, size_t ldy) const {
  const State& s = *st_;
  if (rows <= 0) return;
  const dnnl::memory::dim M = rows, K = s.in, N = s.out;
  thread_local std::vector<uint8_t> conv;
  thread_local std::vector<uint8_t> scratch;
  const void* src = x;
  dnnl::memory::dim lds = dnnl::memory::dim(ldx);
  if (s.precision == Precision::kBf16) {
    conv.resize(size_t(M) * K * 2);
    RowsToBf16(x, ldx, rows, s.in, reinterpret_cast<uint16_t*>(conv.data()));
    src = conv.data();
    lds = K;
  } else if (s.precision == Precision::kInt8) {
    conv.resize(size_t(M) * K);
    const bool u8 = s.srcType == dt::u8;
    const bool simd = HasAvx512();
    for (int r = 0; r < rows; ++r) {
      void* q = conv.data() + size_t(r) * K;
      if (simd)
        QuantizeRowAvx512(x + size_t(r) * ldx, s.inv.data(), s.in, q, u8);
      else
        QuantizeRowScalar(x + size_t(r) * ldx, s.inv.data(), s.in, q, u8);
    }
    src = conv.data();
    lds = K;
    // Bias (and the zeros of a fresh output) go in first; the primitive adds to them.
    for (int r = 0; r < rows; ++r) {
      float* yr = y + size_t(r) * ldy;
      if (!s.accumulate) {
        if (s.bias.empty())
          std::fill(yr, yr + N, 0.f);
        else
          std::copy(s.bias.begin(), s.bias.end(), yr);
      } else if (!s.bias.empty()) {
        for (int n = 0; n < N; ++n) yr[n] += s.bias[size_t(n)];
      }
    }
  }

  OmpSingle single;
  dnnl::engine& eng = Engine();
  dnnl::memory srcM(dnnl::memory::desc({M, K}, s.srcType, dims{lds, 1}), eng, const_cast<void*>(src));
  dnnl::memory weiM(s.pd.weights_desc(), eng, const_cast<uint8_t*>(s.weights.data()));
  dnnl::memory dstM(dnnl::memory::desc({M, N}, dt::f32, dims{dnnl::memory::dim(ldy), 1}), eng, y);
  std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, srcM}, {DNNL_ARG_WEIGHTS, weiM}, {DNNL_ARG_DST, dstM}};
  const dnnl::memory::desc sd = s.pd.scratchpad_desc();
  if (sd.get_size() > 0) {
    if (scratch.size() < sd.get_size()) scratch.resize(sd.get_size());
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(sd, eng, scratch.data()));
  }
  if (s.precision != Precision::kInt8 && !s.bias.empty())
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(dnnl::memory::desc({1, N}, dt::f32, dnnl::memory::format_tag::ab), eng,
                                             const_cast<float*>(s.bias.data())));
  dnnl::stream& strm = ThreadStream();
  SignalsHeld held(s.precision == Precision::kF32);
  s.prim.execute(strm, args);
  strm.wait();
}

}  // namespace dnnl_mm
}  // namespace rank
