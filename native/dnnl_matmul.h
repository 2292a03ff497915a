// One dense layer of a ranker as a oneDNN matmul primitive, in fp32, bf16
// or int8, created once per (layer, precision) at model load.
//
//   y[r, n] = act( (accumulate ? y[r, n] : 0) + sum_k x[r, k] W[n, k] + b[n] )
//
// W is given in nn.Linear layout ([out, in] row-major, row stride ldw) and
// reordered once into the layout the primitive asks for (weights declared
// with format_tag::any). The batch dimension M is DNNL_RUNTIME_DIM_VAL, so one
// primitive serves every batch size; x and y may be strided (runtime strides).
// (oneDNN 2.6 serves a runtime M with its gemm-based implementation, weights
// kept plain; brgemm needs a fixed M. On the W2 ranker's layers over 200 rows
// a fixed-M brgemm primitive was 0-25% faster than the runtime-M one, but
// blocks of 16-64 rows through fixed-M primitives plus a runtime-M tail were
// slower than one runtime-M call: the next step would be a primitive per
// exact batch size, cached.)
//
// bf16: W is stored in bf16, x converted to bf16 per call, y stays f32.
// int8: W is quantized symmetrically per output channel (s8) and x per call
// to s8 (or u8 when the input is known to be non-negative, e.g. after a
// ReLU) with per-column scales from a calibration (see Int8Ranges and
// docs/bundle-format.md); the s32 accumulators are dequantized to f32 by the
// primitive's per-channel output scales. Bias and ReLU are applied in f32.
//
// Threads: one dnnl::engine for the process, one dnnl::stream per thread;
// Run() is const and may be called from several threads at once (each call
// wraps the buffers in its own memory objects and uses a thread_local
// scratchpad). Debian's libdnnl uses the OpenMP runtime: Run() and the
// constructor lower the calling thread's OpenMP team size to 1 while oneDNN
// runs (and restore it), so a scoring call never spawns an OpenMP team that
// competes with the worker pool, and FAISS keeps its own setting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rank {
namespace dnnl_mm {

enum class Precision { kF32, kBf16, kInt8 };

const char* PrecisionName(Precision p);

// What the CPU offers oneDNN (dnnl::get_effective_cpu_isa()).
struct CpuCaps {
  std::string isa;   // e.g. "avx512_core_bf16"
  bool vnni = false;  // int8 dot products (AVX-512 VNNI or AVX-VNNI)
  bool bf16 = false;  // native bf16 dot products (AVX-512 BF16)
  bool amx = false;   // AMX tiles (int8 and bf16)
};
const CpuCaps& Caps();

// Calibrated ranges of a layer's input columns, for int8: range[k] is the
// magnitude column k is expected to stay within (values beyond saturate).
struct Int8Ranges {
  std::vector<float> range;  // [in]
  bool nonNegative = false;  // every input is >= 0 (quantized to u8)
};

struct MatmulSpec {
  Precision precision = Precision::kF32;
  const float* w = nullptr;  // [out, in], row stride ldw
  size_t ldw = 0;
  int in = 0, out = 0;
  const float* bias = nullptr;  // [out] or null
  bool relu = false;
  bool accumulate = false;
  const Int8Ranges* ranges = nullptr;  // required for int8
};

class Matmul {
 public:
  explicit Matmul(const MatmulSpec& spec);
  ~Matmul();
  Matmul(const Matmul&) = delete;
  Matmul& operator=(const Matmul&) = delete;

  // y[r * ldy + n] for r < rows, n < out, from x[r * ldx + k], k < in.
  void Run(const float* x, size_t ldx, int rows, float* y, size_t ldy) const;

  Precision precision() const;
  // oneDNN's implementation name (e.g. "gemm:jit", "brg:avx512_core_vnni").
  std::string Impl() const;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace dnnl_mm
}  // namespace rank
