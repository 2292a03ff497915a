// VectorIndex: a FAISS index behind a JS class. Every operation that can take
// more than a few microseconds (train, add, remove, search, read, write) runs
// in an AsyncWorker and settles a Promise; searches share a reader lock, so
// concurrent searches run in parallel while add/remove/train are exclusive.
//
// Ids: the caller always supplies 64-bit ids. IVF indexes store them natively;
// for indexes that do not (Flat, HNSW) this class keeps the internal->external
// map itself and translates id filters, and files are written as IDMap2 so
// that FAISS's own tools read them back with the same ids.

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/HNSW.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common.h"
#include "ivf_simd.h"

namespace rank {
namespace {

using idx_t = faiss::Index::idx_t;

struct IndexState {
  std::unique_ptr<faiss::Index> index;
  // Internal position -> external id, for indexes without native ids.
  std::vector<idx_t> labels;
  bool mapped = false;
  std::shared_mutex mu;
  // Read by the JS getters without taking `mu`, so they never wait for a
  // running train/add/remove.
  std::atomic<int64_t> ntotal{0};
  std::atomic<bool> trained{false};

  void Publish() {
    ntotal.store(index->ntotal);
    trained.store(index->is_trained);
  }

  bool NativeIds() const { return !mapped; }
};

// Maps FAISS's internal sequential ids to the caller's ids before asking the
// caller's selector.
struct TranslatedSelector : faiss::IDSelector {
  const std::vector<idx_t>& map;
  const faiss::IDSelector* inner;
  TranslatedSelector(const std::vector<idx_t>& m, const faiss::IDSelector* s)
      : map(m), inner(s) {}
  bool is_member(idx_t id) const override {
    return id >= 0 && size_t(id) < map.size() && inner->is_member(map[id]);
  }
};

// Conjunction of two selectors (FAISS 1.7.3 has no IDSelectorAnd).
struct AndSelector : faiss::IDSelector {
  const faiss::IDSelector* a;
  const faiss::IDSelector* b;
  AndSelector(const faiss::IDSelector* x, const faiss::IDSelector* y) : a(x), b(y) {}
  bool is_member(idx_t id) const override { return a->is_member(id) && b->is_member(id); }
};

std::string StripIdMap(std::string factory) {
  for (const char* p : {"IDMap2,", "IDMap,"}) {
    if (factory.rfind(p, 0) == 0) return factory.substr(std::string(p).size());
  }
  return factory;
}

bool SupportsNativeIds(const faiss::Index* index) {
  return dynamic_cast<const faiss::IndexIVF*>(index) != nullptr;
}

// Takes ownership of a freshly read index: unwraps IDMap/IDMap2 into the
// label map, and swaps in the SIMD scanner for IVFFlat.
void Adopt(IndexState& st, faiss::Index* raw) {
  std::unique_ptr<faiss::Index> owned(raw);
  if (auto* m = dynamic_cast<faiss::IndexIDMap*>(raw)) {
    if (SupportsNativeIds(m->index)) {
      throw std::runtime_error("IDMap around an IVF index is not supported; write the IVF index directly");
    }
    st.labels.assign(m->id_map.begin(), m->id_map.end());
    std::unique_ptr<faiss::Index> inner(m->index);
    m->own_fields = false;
    m->index = nullptr;
    owned = std::move(inner);
    st.mapped = true;
  } else if (!SupportsNativeIds(raw)) {
    st.labels.resize(size_t(raw->ntotal));
    for (size_t i = 0; i < st.labels.size(); ++i) st.labels[i] = idx_t(i);
    st.mapped = true;
  }
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(owned.get())) {
    if (ivf->nlist == 0) throw std::runtime_error("an IVF index needs at least one inverted list");
  }
  if (auto* pq = dynamic_cast<faiss::IndexIVFPQ*>(owned.get())) {
    // Polysemous codes are only used with a Hamming threshold set; training
    // them costs minutes on large samples. Off unless asked for.
    if (pq->polysemous_ht == 0) pq->do_polysemous_training = false;
  }
  st.index = WithSimdScanner(std::move(owned));
  st.Publish();
}

struct Filter {
  std::vector<idx_t> allow;
  bool hasAllow = false;
  std::vector<idx_t> deny;
  std::vector<uint8_t> bitmap;
  bool hasBitmap = false;
};

// Owns the selectors built for one search call.
struct SelectorChain {
  std::unique_ptr<faiss::IDSelectorBatch> allow;
  std::unique_ptr<faiss::IDSelectorBitmap> bitmap;
  std::unique_ptr<faiss::IDSelectorBatch> denyBatch;
  std::unique_ptr<faiss::IDSelectorNot> deny;
  std::unique_ptr<AndSelector> both;
  std::unique_ptr<AndSelector> all3;
  std::unique_ptr<TranslatedSelector> translated;

  const faiss::IDSelector* Build(const Filter& f, const IndexState& st) {
    const faiss::IDSelector* sel = nullptr;
    auto conj = [&](const faiss::IDSelector* a, const faiss::IDSelector* b,
                    std::unique_ptr<AndSelector>& slot) -> const faiss::IDSelector* {
      if (a == nullptr) return b;
      slot.reset(new AndSelector(a, b));
      return slot.get();
    };
    if (f.hasAllow) {
      allow.reset(new faiss::IDSelectorBatch(f.allow.size(), f.allow.data()));
      sel = allow.get();
    }
    if (f.hasBitmap) {
      bitmap.reset(new faiss::IDSelectorBitmap(f.bitmap.size(), f.bitmap.data()));
      sel = conj(sel, bitmap.get(), both);
    }
    if (!f.deny.empty()) {
      denyBatch.reset(new faiss::IDSelectorBatch(f.deny.size(), f.deny.data()));
      deny.reset(new faiss::IDSelectorNot(denyBatch.get()));
      sel = conj(sel, deny.get(), all3);
    }
    if (sel != nullptr && st.mapped) {
      translated.reset(new TranslatedSelector(st.labels, sel));
      sel = translated.get();
    }
    return sel;
  }
};

// Base for the index's async operations: keeps the state alive, settles a
// Promise, and turns C++ exceptions (FAISS's included) into rejections.
class IndexWorker : public Napi::AsyncWorker {
 public:
  IndexWorker(Napi::Env env, std::shared_ptr<IndexState> st)
      : Napi::AsyncWorker(env), st_(std::move(st)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      Run();
    } catch (const faiss::FaissException& e) {
      SetError(std::string("faiss: ") + e.msg);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }
  void OnOK() override { deferred_.Resolve(Result(Env())); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

  std::shared_ptr<IndexState> st_;
  Napi::Promise::Deferred deferred_;
};

// Vectors with NaN or Inf would poison an index silently: refuse them.
void CheckVectorsFinite(const float* x, size_t n, size_t d, const char* name) {
  for (size_t i = 0; i < n * d; ++i) {
    if (!std::isfinite(x[i]))
      throw std::runtime_error(std::string(name) + " row " + std::to_string(i / d) +
                               " contains NaN or Inf");
  }
}

// Keeps a large JS typed array alive while a worker reads it in place.
struct HeldArray {
  Napi::ObjectReference ref;
  const void* data = nullptr;
  size_t length = 0;
  template <typename T>
  void Hold(const Napi::CallbackInfo& info, size_t i, const char* name) {
    View<T> v = ArgArray<T>(info, i, name);
    ref = Napi::Persistent(info[i].As<Napi::Object>());
    data = v.data;
    length = v.length;
  }
};

class TrainWorker : public IndexWorker {
 public:
  TrainWorker(Napi::Env env, std::shared_ptr<IndexState> st, HeldArray&& x, size_t n, int threads)
      : IndexWorker(env, std::move(st)), x_(std::move(x)), n_(n), threads_(threads) {}
  void Run() override {
    std::unique_lock<std::shared_mutex> lock(st_->mu);
    omp_set_num_threads(threads_);
    CheckVectorsFinite(static_cast<const float*>(x_.data), n_, size_t(st_->index->d), "x");
    st_->index->train(idx_t(n_), static_cast<const float*>(x_.data));
    st_->Publish();
  }

 private:
  HeldArray x_;
  size_t n_;
  int threads_;
};

class AddWorker : public IndexWorker {
 public:
  AddWorker(Napi::Env env, std::shared_ptr<IndexState> st, HeldArray&& x, std::vector<idx_t>&& ids,
            int threads)
      : IndexWorker(env, std::move(st)), x_(std::move(x)), ids_(std::move(ids)), threads_(threads) {}
  void Run() override {
    std::unique_lock<std::shared_mutex> lock(st_->mu);
    omp_set_num_threads(threads_);
    faiss::Index& index = *st_->index;
    if (!index.is_trained) throw std::runtime_error("index is not trained: call train() before add()");
    const idx_t n = idx_t(ids_.size());
    const float* x = static_cast<const float*>(x_.data);
    CheckVectorsFinite(x, size_t(n), size_t(index.d), "x");
    if (st_->NativeIds()) {
      index.add_with_ids(n, x, ids_.data());
    } else {
      index.add(n, x);
      st_->labels.insert(st_->labels.end(), ids_.begin(), ids_.end());
    }
    st_->Publish();
  }

 private:
  HeldArray x_;
  std::vector<idx_t> ids_;
  int threads_;
};

class RemoveWorker : public IndexWorker {
 public:
  RemoveWorker(Napi::Env env, std::shared_ptr<IndexState> st, std::vector<idx_t>&& ids)
      : IndexWorker(env, std::move(st)), ids_(std::move(ids)) {}
  void Run() override {
    std::unique_lock<std::shared_mutex> lock(st_->mu);
    faiss::Index& index = *st_->index;
    if (ids_.empty()) return;
    if (dynamic_cast<faiss::IndexHNSW*>(&index) != nullptr)
      throw std::runtime_error("remove is not supported by HNSW indexes: rebuild, or exclude the ids with a deny filter");
    faiss::IDSelectorBatch batch(ids_.size(), ids_.data());
    if (st_->NativeIds()) {
      removed_ = index.remove_ids(batch);
      st_->Publish();
      return;
    }
    // Flat: FAISS compacts the remaining vectors in order; do the same to the labels.
    TranslatedSelector sel(st_->labels, &batch);
    removed_ = index.remove_ids(sel);
    auto& labels = st_->labels;
    labels.erase(std::remove_if(labels.begin(), labels.end(),
                                [&](idx_t id) { return batch.is_member(id); }),
                 labels.end());
    st_->Publish();
  }
  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, double(removed_)); }

 private:
  std::vector<idx_t> ids_;
  size_t removed_ = 0;
};

struct SearchArgs {
  std::vector<float> queries;
  size_t nq = 0;
  size_t k = 0;      // results per query (with `ks`, the largest: the stride of the results)
  std::vector<int> ks;  // one k per query (empty: `k` for all); a row's end past its k is -1
  int efSearch = 0;  // 0: index default
  int nprobe = 0;    // 0: index default
  std::vector<int> nprobes;  // IVF: one nprobe per query (empty: `nprobe` for all)
  double refine = 0;  // IVF SQfp16: two-pass search keeping ceil(refine * k) candidates (RefineParams); 0: one pass
  int threads = 1;
  Filter filter;
  // Post-filter of each query's k results: ids whose byte in `alive` is not 1
  // (or past its end) are dropped, and with `unique` repeated ids too (the
  // first, best, stays). The bytes are read in place, possibly on another
  // thread while JavaScript writes them: the caller keeps the buffer alive
  // (aliveRef) and checks afterwards whether it changed meanwhile.
  const uint8_t* alive = nullptr;
  size_t aliveLen = 0;
  bool unique = false;
  Napi::ObjectReference aliveRef;
};

// Applies SearchArgs' post-filter: kept results move up in order, and the end
// is filled with id -1 and the metric's "no result" distance, as FAISS does.
void PostFilter(const SearchArgs& a, bool innerProduct, std::vector<idx_t>& labels,
                std::vector<float>& dist) {
  if (a.alive == nullptr && !a.unique) return;
  const float none = innerProduct ? -std::numeric_limits<float>::max() : std::numeric_limits<float>::max();
  thread_local std::vector<idx_t> table;
  size_t cap = 16;
  while (cap < 2 * a.k) cap <<= 1;
  constexpr size_t kAhead = 16;
  for (size_t q = 0; q < a.nq; ++q) {
    idx_t* L = labels.data() + q * a.k;
    float* D = dist.data() + q * a.k;
    if (a.unique) table.assign(cap, -1);
    size_t w = 0;
    for (size_t i = 0; i < a.k; ++i) {
      const idx_t id = L[i];
      if (id < 0) break;  // FAISS puts missing results at the end
      if (a.alive != nullptr) {
        if (i + kAhead < a.k && L[i + kAhead] >= 0 && size_t(L[i + kAhead]) < a.aliveLen)
          __builtin_prefetch(a.alive + L[i + kAhead], 0, 3);
        if (size_t(id) >= a.aliveLen || __atomic_load_n(a.alive + id, __ATOMIC_RELAXED) != 1) continue;
      }
      if (a.unique) {
        size_t h = (uint64_t(id) * 0x9E3779B97F4A7C15ull) >> 40 & (cap - 1);
        while (table[h] >= 0 && table[h] != id) h = (h + 1) & (cap - 1);
        if (table[h] == id) continue;
        table[h] = id;
      }
      L[w] = id;
      D[w] = D[i];
      ++w;
    }
    for (size_t i = w; i < a.k && L[i] != -1; ++i) {
      L[i] = -1;
      D[i] = none;
    }
  }
}

// One search on the calling thread; the caller holds st.mu (shared).
void RunSearch(IndexState& st, const SearchArgs& a, std::vector<idx_t>& labels,
               std::vector<float>& dist) {
  omp_set_num_threads(a.threads);
  const faiss::Index& index = *st.index;
  labels.assign(a.nq * a.k, -1);
  dist.assign(a.nq * a.k, 0.f);
  if (a.nq == 0 || a.k == 0 || index.ntotal == 0) return;
  SelectorChain chain;
  const faiss::IDSelector* sel = chain.Build(a.filter, st);

  faiss::SearchParametersHNSW hp;
  RefineParams ip;
  faiss::SearchParameters plain;
  faiss::SearchParameters* params = &plain;
  if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(&index)) {
    hp.efSearch = a.efSearch > 0 ? a.efSearch : hnsw->hnsw.efSearch;
    // efSearch below k would silently truncate the result list.
    hp.efSearch = std::max<int>(hp.efSearch, int(a.k));
    params = &hp;
  } else if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&index)) {
    ip.nprobe = a.nprobe > 0 ? size_t(a.nprobe) : ivf->nprobe;
    ip.nprobe = std::min(ip.nprobe, ivf->nlist);
    ip.refine = a.refine;
    params = &ip;
  }
  params->sel = const_cast<faiss::IDSelector*>(sel);
  if (!a.nprobes.empty() || !a.ks.empty()) {
    // A k or a list count per query: the queries one at a time.
    const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&index);
    const int ef = hp.efSearch;
    for (size_t q = 0; q < a.nq; ++q) {
      const size_t k = a.ks.empty() ? a.k : size_t(a.ks[q]);
      if (k == 0) continue;
      if (ivf != nullptr && !a.nprobes.empty()) ip.nprobe = std::min(size_t(a.nprobes[q]), ivf->nlist);
      if (params == &hp) hp.efSearch = std::max<int>(ef, int(k));
      index.search(1, a.queries.data() + q * size_t(index.d), idx_t(k), dist.data() + q * a.k, labels.data() + q * a.k, params);
    }
  } else {
    index.search(idx_t(a.nq), a.queries.data(), idx_t(a.k), dist.data(), labels.data(), params);
  }
  if (st.mapped) {
    for (idx_t& l : labels)
      if (l >= 0) l = st.labels[size_t(l)];
  }
  PostFilter(a, index.metric_type == faiss::METRIC_INNER_PRODUCT, labels, dist);
}

Napi::Object SearchResult(Napi::Env env, const std::vector<idx_t>& labels,
                          const std::vector<float>& dist, size_t nq, size_t k) {
  Napi::Object out = Napi::Object::New(env);
  auto ids = Napi::BigInt64Array::New(env, labels.size());
  std::copy(labels.begin(), labels.end(), ids.Data());
  auto d = Napi::Float32Array::New(env, dist.size());
  std::copy(dist.begin(), dist.end(), d.Data());
  out.Set("ids", ids);
  out.Set("distances", d);
  out.Set("nq", Napi::Number::New(env, double(nq)));
  out.Set("k", Napi::Number::New(env, double(k)));
  return out;
}

class SearchWorker : public IndexWorker {
 public:
  SearchWorker(Napi::Env env, std::shared_ptr<IndexState> st, SearchArgs&& a)
      : IndexWorker(env, std::move(st)), a_(std::move(a)) {}

  void Run() override {
    std::shared_lock<std::shared_mutex> lock(st_->mu);
    RunSearch(*st_, a_, labels_, dist_);
  }

  Napi::Value Result(Napi::Env env) override { return SearchResult(env, labels_, dist_, a_.nq, a_.k); }

 private:
  SearchArgs a_;
  std::vector<idx_t> labels_;
  std::vector<float> dist_;
};

class WriteWorker : public IndexWorker {
 public:
  WriteWorker(Napi::Env env, std::shared_ptr<IndexState> st, std::string path)
      : IndexWorker(env, std::move(st)), path_(std::move(path)) {}
  void Run() override {
    std::shared_lock<std::shared_mutex> lock(st_->mu);
    if (!st_->mapped) {
      faiss::write_index(st_->index.get(), path_.c_str());
      return;
    }
    // The IDMap2 constructor refuses a non-empty index: fill the fields by hand.
    faiss::Index* inner = st_->index.get();
    faiss::IndexIDMap2 wrap;
    wrap.index = inner;
    wrap.own_fields = false;
    wrap.d = inner->d;
    wrap.metric_type = inner->metric_type;
    wrap.is_trained = inner->is_trained;
    wrap.ntotal = inner->ntotal;
    wrap.id_map.assign(st_->labels.begin(), st_->labels.end());
    try {
      faiss::write_index(&wrap, path_.c_str());
    } catch (...) {
      wrap.index = nullptr;
      throw;
    }
    wrap.index = nullptr;
  }

 private:
  std::string path_;
};

class ReadWorker : public IndexWorker {
 public:
  ReadWorker(Napi::Env env, std::string path, Napi::Function ctor)
      : IndexWorker(env, std::make_shared<IndexState>()), path_(std::move(path)),
        ctor_(Napi::Persistent(ctor)) {}
  void Run() override {
    faiss::Index* raw = faiss::read_index(path_.c_str());
    Adopt(*st_, raw);
  }
  Napi::Value Result(Napi::Env env) override;

 private:
  std::string path_;
  Napi::FunctionReference ctor_;
};

class VectorIndex : public Napi::ObjectWrap<VectorIndex> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "VectorIndex",
        {
            InstanceMethod<&VectorIndex::Train>("train"),
            InstanceMethod<&VectorIndex::Add>("add"),
            InstanceMethod<&VectorIndex::Remove>("remove"),
            InstanceMethod<&VectorIndex::Search>("search"),
            InstanceMethod<&VectorIndex::SearchSync>("searchSync"),
            InstanceMethod<&VectorIndex::Write>("write"),
            InstanceAccessor<&VectorIndex::Dim>("dim"),
            InstanceAccessor<&VectorIndex::Ntotal>("ntotal"),
            InstanceAccessor<&VectorIndex::IsTrained>("isTrained"),
            InstanceAccessor<&VectorIndex::Metric>("metric"),
            InstanceAccessor<&VectorIndex::Kind>("kind"),
            StaticMethod<&VectorIndex::Read>("read"),
        });
  }

  // new VectorIndex(dim, factory, metric) or new VectorIndex(External<IndexState>)
  explicit VectorIndex(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VectorIndex>(info) {
    Napi::Env env = info.Env();
    if (info.Length() == 1 && info[0].IsExternal()) {
      st_ = *info[0].As<Napi::External<std::shared_ptr<IndexState>>>().Data();
      return;
    }
    const int64_t dim = ArgInt(info, 0, "dim", 1, 65536);
    RANK_THROW_TYPE_IF(info.Length() < 2 || !info[1].IsString(), env, "factory must be a string");
    RANK_THROW_TYPE_IF(info.Length() < 3 || !info[2].IsString(), env, "metric must be 'ip' or 'l2'");
    const std::string metric = info[2].As<Napi::String>();
    RANK_THROW_RANGE_IF(metric != "ip" && metric != "l2", env, "metric must be 'ip' or 'l2'");
    const std::string factory = StripIdMap(info[1].As<Napi::String>());
    st_ = std::make_shared<IndexState>();
    try {
      faiss::Index* raw = faiss::index_factory(
          int(dim), factory.c_str(),
          metric == "ip" ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2);
      Adopt(*st_, raw);
    } catch (const faiss::FaissException& e) {
      throw Napi::Error::New(env, "invalid index factory '" + factory + "': " + e.msg);
    }
  }

 private:
  size_t D() const { return size_t(st_->index->d); }

  static int Threads(const Napi::CallbackInfo& info, size_t i) {
    return HasArg(info, i) ? int(ArgInt(info, i, "threads", 1, 256)) : 1;
  }

  static std::vector<idx_t> CopyIds(const Napi::CallbackInfo& info, size_t i, const char* name) {
    View<int64_t> v = ArgArray<int64_t>(info, i, name);
    return std::vector<idx_t>(v.data, v.data + v.length);
  }

  // train(x: Float32Array, threads?)
  Napi::Value Train(const Napi::CallbackInfo& info) {
    HeldArray x;
    x.Hold<float>(info, 0, "x");
    RANK_THROW_RANGE_IF(x.length % D() != 0, info.Env(), "x length must be a multiple of dim");
    auto* w = new TrainWorker(info.Env(), st_, std::move(x), x.length / D(), Threads(info, 1));
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  // add(x: Float32Array, ids: BigInt64Array, threads?)
  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    HeldArray x;
    x.Hold<float>(info, 0, "x");
    std::vector<idx_t> ids = CopyIds(info, 1, "ids");
    RANK_THROW_RANGE_IF(x.length != ids.size() * D(), env, "x length must equal ids.length * dim");
    auto* w = new AddWorker(env, st_, std::move(x), std::move(ids), Threads(info, 2));
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  // remove(ids: BigInt64Array) -> Promise<number removed>
  Napi::Value Remove(const Napi::CallbackInfo& info) {
    auto* w = new RemoveWorker(info.Env(), st_, CopyIds(info, 0, "ids"));
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  // search(queries, k|Int32Array(nq), efSearch, nprobe|Int32Array(nq), allowIds|null, denyIds|null,
  //        allowBitmap|null, threads, alive|null, unique, refine|null)
  SearchArgs ParseSearch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    View<float> q = ArgArray<float>(info, 0, "queries");
    RANK_THROW_RANGE_IF(q.length % D() != 0, env, "queries length must be a multiple of dim");
    SearchArgs a;
    a.nq = q.length / D();
    a.queries.assign(q.data, q.data + q.length);
    if (HasArg(info, 1) && info[1].IsTypedArray()) {
      View<int32_t> ks = ArgArray<int32_t>(info, 1, "k");
      RANK_THROW_RANGE_IF(ks.length != a.nq, env, "k must hold one value per query");
      for (size_t i = 0; i < ks.length; ++i) {
        RANK_THROW_RANGE_IF(ks.data[i] < 0 || ks.data[i] > (1 << 20), env, "k values must be in [0, 2^20]");
        a.k = std::max(a.k, size_t(ks.data[i]));
      }
      a.ks.assign(ks.data, ks.data + ks.length);
    } else {
      a.k = size_t(ArgInt(info, 1, "k", 0, 1 << 20));
    }
    if (HasArg(info, 2)) a.efSearch = int(ArgInt(info, 2, "efSearch", 0, 1 << 20));
    if (HasArg(info, 3) && info[3].IsTypedArray()) {
      // One nprobe per query (IVF).
      View<int32_t> np = ArgArray<int32_t>(info, 3, "nprobe");
      RANK_THROW_RANGE_IF(np.length != a.nq, env, "nprobe must hold one value per query");
      for (size_t i = 0; i < np.length; ++i) RANK_THROW_RANGE_IF(np.data[i] < 1 || np.data[i] > (1 << 24), env, "nprobe values must be in [1, 2^24]");
      a.nprobes.assign(np.data, np.data + np.length);
    } else if (HasArg(info, 3)) {
      a.nprobe = int(ArgInt(info, 3, "nprobe", 0, 1 << 24));
    }
    if (HasArg(info, 4)) {
      a.filter.allow = CopyIds(info, 4, "allowIds");
      a.filter.hasAllow = true;
    }
    if (HasArg(info, 5)) a.filter.deny = CopyIds(info, 5, "denyIds");
    if (HasArg(info, 6)) {
      View<uint8_t> bm = ArgArray<uint8_t>(info, 6, "allowBitmap");
      a.filter.bitmap.assign(bm.data, bm.data + bm.length);
      a.filter.hasBitmap = true;
    }
    a.threads = Threads(info, 7);
    if (HasArg(info, 8)) {
      View<uint8_t> alive = ArgArray<uint8_t>(info, 8, "alive");
      a.alive = alive.data;
      a.aliveLen = alive.length;
      a.aliveRef = Napi::Persistent(info[8].As<Napi::Object>());
    }
    a.unique = HasArg(info, 9) && info[9].ToBoolean().Value();
    if (HasArg(info, 10)) {
      a.refine = ArgNumber(info, 10, "refine");
      RANK_THROW_RANGE_IF(a.refine != 0 && !(a.refine >= 1 && a.refine <= 64), env, "refine must be 0 or in [1, 64]");
    }
    return a;
  }

  Napi::Value Search(const Napi::CallbackInfo& info) {
    auto* w = new SearchWorker(info.Env(), st_, ParseSearch(info));
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  // searchSync(same arguments): the search on the calling thread, for small
  // scans where a thread hop costs more than the search. Returns null, doing
  // nothing, while a writer (train/add/remove) holds the index.
  Napi::Value SearchSync(const Napi::CallbackInfo& info) {
    SearchArgs a = ParseSearch(info);
    std::shared_lock<std::shared_mutex> lock(st_->mu, std::try_to_lock);
    if (!lock.owns_lock()) return info.Env().Null();
    std::vector<idx_t> labels;
    std::vector<float> dist;
    RunSearch(*st_, a, labels, dist);
    return SearchResult(info.Env(), labels, dist, a.nq, a.k);
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    RANK_THROW_TYPE_IF(info.Length() < 1 || !info[0].IsString(), info.Env(), "path must be a string");
    auto* w = new WriteWorker(info.Env(), st_, info[0].As<Napi::String>());
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  static Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RANK_THROW_TYPE_IF(info.Length() < 1 || !info[0].IsString(), env, "path must be a string");
    auto* data = env.GetInstanceData<AddonData>();
    auto* w = new ReadWorker(env, info[0].As<Napi::String>(), data->vectorIndex.Value());
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  Napi::Value Dim(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(st_->index->d));
  }
  Napi::Value Ntotal(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(st_->ntotal.load()));
  }
  Napi::Value IsTrained(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), st_->trained.load());
  }
  Napi::Value Metric(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(),
                             st_->index->metric_type == faiss::METRIC_INNER_PRODUCT ? "ip" : "l2");
  }
  Napi::Value Kind(const Napi::CallbackInfo& info) {
    const faiss::Index* i = st_->index.get();
    const char* k = dynamic_cast<const SimdIVFFlat*>(i)          ? "ivf-flat-simd"
                    : dynamic_cast<const SimdIVFSQ*>(i)         ? "ivf-sq-simd"
                    : dynamic_cast<const faiss::IndexIVF*>(i)   ? "ivf"
                    : dynamic_cast<const faiss::IndexHNSW*>(i)  ? "hnsw"
                    : dynamic_cast<const faiss::IndexFlat*>(i)  ? "flat"
                                                                : "other";
    return Napi::String::New(info.Env(), k);
  }

  std::shared_ptr<IndexState> st_;
};

Napi::Value ReadWorker::Result(Napi::Env env) {
  auto* holder = new std::shared_ptr<IndexState>(st_);
  auto ext = Napi::External<std::shared_ptr<IndexState>>::New(
      env, holder, [](Napi::Env, std::shared_ptr<IndexState>* p) { delete p; });
  return ctor_.New({ext});
}

}  // namespace

void InitVectorIndex(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = VectorIndex::Define(env);
  data->vectorIndex = Napi::Persistent(ctor);
  exports.Set("VectorIndex", ctor);
}

}  // namespace rank
