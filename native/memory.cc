// Memory placement for the large, randomly read arrays (the catalog's
// columns): transparent huge pages. Candidate rows are scattered over
// hundreds of MiB, and under a hypervisor every TLB miss walks two levels of
// page tables; with 2 MiB pages one entry covers 512 times as much.

#include <sys/mman.h>

#include <cstdint>

#include "common.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

namespace rank {
namespace {

// adviseHugePages(array, collapse: boolean) -> bytes: asks the kernel to back
// the 2 MiB-aligned interior of a large typed array with transparent huge
// pages (MADV_HUGEPAGE: pages touched from then on), and with collapse, to
// move what is already resident into huge pages now (MADV_COLLAPSE, Linux
// 6.1+; it copies, ~4 ms per MiB here, so not for the event loop). Returns
// the bytes advised, 0 where refused or too small (a kernel without THP, a
// non-Linux system).
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RANK_THROW_TYPE_IF(info.Length() < 1 || !info[0].IsTypedArray(), env, "array must be a typed array");
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_get_typedarray_info(env, info[0], &type, &length, &data, nullptr, nullptr);
  const size_t bytes = length * info[0].As<Napi::TypedArray>().ElementSize();
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t hi = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (hi <= lo) return Napi::Number::New(env, 0);
#ifdef MADV_HUGEPAGE
  void* p = reinterpret_cast<void*>(lo);
  if (madvise(p, hi - lo, MADV_HUGEPAGE) != 0) return Napi::Number::New(env, 0);
  if (info.Length() > 1 && info[1].ToBoolean().Value()) madvise(p, hi - lo, MADV_COLLAPSE);
  return Napi::Number::New(env, double(hi - lo));
#else
  return Napi::Number::New(env, 0);
#endif
}

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("adviseHugePages", Napi::Function::New<AdviseHugePages>(env, "adviseHugePages"));
}

}  // namespace rank
