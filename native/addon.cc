// Entry point of the native core. Context-aware: each JS environment (main
// thread or worker) gets its own constructors through instance data.

#include <cblas.h>

#include "common.h"

namespace rank {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Concurrency comes from the worker pool and libuv threads: one BLAS thread each.
  openblas_set_num_threads(1);
  auto* data = new AddonData();
  env.SetInstanceData(data);
  InitVectorIndex(env, exports, data);
  InitDcn(env, exports, data);
  InitHap(env, exports);
  InitDiversity(env, exports);
  InitSimdInfo(env, exports);
  InitFeatures(env, exports);
  InitMemory(env, exports);
  return exports;
}

NODE_API_MODULE(ranking_native, Init)

}  // namespace rank
