// Shared helpers for the native core: argument checks that throw typed JS
// errors, zero-copy typed-array views, and the per-env addon state.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace rank {

// Throws a JS TypeError (as a C++ exception, caught by node-addon-api and
// rethrown into JS) when `cond` holds.
#define RANK_THROW_TYPE_IF(cond, env, msg)                 \
  do {                                                     \
    if (cond) throw Napi::TypeError::New((env), (msg));    \
  } while (0)

#define RANK_THROW_RANGE_IF(cond, env, msg)                \
  do {                                                     \
    if (cond) throw Napi::RangeError::New((env), (msg));   \
  } while (0)

// Throws a RangeError naming the first NaN or infinite value, as
// `name[i] is not finite (NaN)`. One pass without early exit first: the
// common case, all finite, then costs a few microseconds per batch.
inline void CheckFinite(Napi::Env env, const std::string& name, const float* v, size_t n) {
  bool finite = true;
  for (size_t i = 0; i < n; ++i) finite &= std::isfinite(v[i]);
  if (finite) return;
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(v[i])) continue;
    const char* what = std::isnan(v[i]) ? "NaN" : v[i] > 0 ? "Infinity" : "-Infinity";
    throw Napi::RangeError::New(env, name + "[" + std::to_string(i) + "] is not finite (" + what + ")");
  }
}

// Per-env constructors, so the addon can be loaded by several worker threads.
struct AddonData {
  Napi::FunctionReference vectorIndex;
  Napi::FunctionReference dcnModel;
};

// A borrowed view of a typed array's memory. Valid while the JS value is alive
// (on the JS thread) or while a Napi::Reference to it is held (async work).
template <typename T>
struct View {
  T* data = nullptr;
  size_t length = 0;
};

template <typename T>
napi_typedarray_type TypedArrayTypeOf();
template <>
inline napi_typedarray_type TypedArrayTypeOf<float>() { return napi_float32_array; }
template <>
inline napi_typedarray_type TypedArrayTypeOf<int32_t>() { return napi_int32_array; }
template <>
inline napi_typedarray_type TypedArrayTypeOf<int64_t>() { return napi_bigint64_array; }
template <>
inline napi_typedarray_type TypedArrayTypeOf<uint8_t>() { return napi_uint8_array; }
template <>
inline napi_typedarray_type TypedArrayTypeOf<double>() { return napi_float64_array; }

inline const char* TypedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_int32_array: return "Int32Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_float64_array: return "Float64Array";
    default: return "typed array";
  }
}

// Reads argument `info[i]` as a typed array of T in place (no copy).
template <typename T>
View<T> ArgArray(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  const napi_typedarray_type want = TypedArrayTypeOf<T>();
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != want) {
    throw Napi::TypeError::New(
        env, std::string(name) + " must be a " + TypedArrayName(want));
  }
  // napi_get_typedarray_info gives the data pointer (offset applied) for
  // ArrayBuffer- and SharedArrayBuffer-backed arrays alike.
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_status st = napi_get_typedarray_info(env, info[i], &type, &length, &data, nullptr, nullptr);
  if (st != napi_ok) throw Napi::TypeError::New(env, std::string(name) + " cannot be read");
  View<T> v;
  v.data = static_cast<T*>(data);
  v.length = length;
  return v;
}

inline int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name,
                      int64_t lo, int64_t hi) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(env, std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < double(lo) || d > double(hi))
    throw Napi::RangeError::New(env, std::string(name) + " must be an integer in [" +
                                         std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int64_t>(d);
}

inline double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(env, std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw Napi::RangeError::New(env, std::string(name) + " must be finite");
  return d;
}

inline bool HasArg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && !info[i].IsUndefined() && !info[i].IsNull();
}

template <typename T>
Napi::TypedArrayOf<T> NewArray(Napi::Env env, size_t n) {
  return Napi::TypedArrayOf<T>::New(env, n);
}

// Module registration hooks, one per concern.
void InitVectorIndex(Napi::Env env, Napi::Object exports, AddonData* data);
void InitDcn(Napi::Env env, Napi::Object exports, AddonData* data);
void InitHap(Napi::Env env, Napi::Object exports);
void InitDiversity(Napi::Env env, Napi::Object exports);
void InitSimdInfo(Napi::Env env, Napi::Object exports);
void InitFeatures(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);

}  // namespace rank
