#include "reliability/reliability_util.h"

#include <unistd.h>

#include <cstdio>

#include "liveweight/build.h"
#include "liveweight/graph.h"

namespace lw::test {

const SmallModel& small_model() {
  static const SmallModel model = [] {
    SmallModel m;
    m.w = {0.5f, -1.f, 2.f, 0.25f, 3.f, -0.5f, 1.f, 1.5f, -2.f, 0.75f, 4.f, -3.f};
    m.b = {0.1f, -0.2f, 0.3f};
    Graph g("small");
    Tensor x = g.add_input("x", DType::kFloat32, {-1, 4});
    Tensor w = g.add_constant("W", DType::kFloat32, {4, 3}, m.w.data(), m.w.size() * sizeof(float));
    Tensor b = g.add_constant("b", DType::kFloat32, {3}, m.b.data(), m.b.size() * sizeof(float));
    Tensor mm = g.add_op("MatMul", {x, w}, {}, 1, "mm")[0];
    Tensor sum = g.add_op("Add", {mm, b}, {}, 1, "add")[0];
    Tensor y = g.add_op("Relu", {sum}, {}, 1, "relu")[0];
    g.set_outputs({y});
    if (auto plain = build_model(g); plain.is_ok()) m.plain = std::move(plain).value();
    auto conv = convert_to_weight_refreshable(g, {"W", "b"});
    if (conv.is_ok()) {
      if (auto bundle = build_bundle({conv->infer, conv->init, conv->update}); bundle.is_ok())
        m.bundle = std::move(bundle).value();
    }
    return m;
  }();
  return model;
}

std::vector<float> reference(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b) {
  size_t n = x.size() / 4;
  std::vector<float> y(n * 3);
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c < 3; ++c) {
      double acc = b[c];
      for (size_t k = 0; k < 4; ++k) acc += static_cast<double>(x[r * 4 + k]) * w[k * 3 + c];
      y[r * 3 + c] = acc > 0 ? static_cast<float>(acc) : 0.f;
    }
  }
  return y;
}

size_t resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

bool sanitizer_build() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

IoSet::~IoSet() {
  for (aclmdlDataset* d : datasets_) (void)aclmdlDestroyDataset(d);
  for (aclDataBuffer* b : buffers_) (void)aclDestroyDataBuffer(b);
}

aclmdlDataset* IoSet::dataset(const std::vector<std::pair<void*, size_t>>& slots,
                              const std::vector<std::vector<int64_t>>& dims) {
  aclmdlDataset* d = aclmdlCreateDataset();
  if (d == nullptr) return nullptr;
  datasets_.push_back(d);
  for (size_t i = 0; i < slots.size(); ++i) {
    aclDataBuffer* b = aclCreateDataBuffer(slots[i].first, slots[i].second);
    if (b == nullptr) return nullptr;
    buffers_.push_back(b);
    if (aclmdlAddDatasetBuffer(d, b) != ACL_SUCCESS) return nullptr;
    if (i < dims.size()) {
      aclTensorDesc* t = aclCreateTensorDesc(ACL_FLOAT, static_cast<int>(dims[i].size()), dims[i].data(), ACL_FORMAT_ND);
      if (t == nullptr) return nullptr;
      aclError err = aclmdlSetDatasetTensorDesc(d, t, i);
      aclDestroyTensorDesc(t);
      if (err != ACL_SUCCESS) return nullptr;
    }
  }
  return d;
}

aclError load_small_bundle(BundleIds* ids) {
  const auto& m = small_model();
  aclError err = aclmdlBundleLoadFromMem(m.bundle.data(), m.bundle.size(), &ids->bundle);
  if (err != ACL_SUCCESS) return err;
  uint32_t* out[3] = {&ids->infer, &ids->init, &ids->update};
  for (size_t i = 0; i < 3; ++i) {
    err = aclmdlBundleGetModelId(ids->bundle, i, out[i]);
    if (err != ACL_SUCCESS) return err;
  }
  return ACL_SUCCESS;
}

aclError infer(uint32_t model, const std::vector<float>& x, std::vector<float>* y) {
  IoSet io;
  std::vector<float> x_copy = x;
  y->assign(x.size() / 4 * 3, 0.f);
  size_t rows = x.size() / 4;
  aclmdlDataset* in = io.dataset({{x_copy.data(), x_copy.size() * sizeof(float)}},
                                 {{static_cast<int64_t>(rows), 4}});
  aclmdlDataset* out = io.dataset({{y->data(), y->size() * sizeof(float)}});
  if (in == nullptr || out == nullptr) return ACL_ERROR_BAD_ALLOC;
  return aclmdlExecute(model, in, out);
}

aclError update(uint32_t model, const std::vector<float>& w, const std::vector<float>& b) {
  IoSet io;
  std::vector<float> w_copy = w.empty() ? std::vector<float>(12) : w;
  std::vector<float> b_copy = b.empty() ? std::vector<float>(3) : b;
  std::vector<int64_t> w_dims = w.empty() ? std::vector<int64_t>{0} : std::vector<int64_t>{4, 3};
  std::vector<int64_t> b_dims = b.empty() ? std::vector<int64_t>{0} : std::vector<int64_t>{3};
  aclmdlDataset* in = io.dataset({{w_copy.data(), 48}, {b_copy.data(), 12}}, {w_dims, b_dims});
  aclmdlDataset* out = io.dataset({});
  if (in == nullptr || out == nullptr) return ACL_ERROR_BAD_ALLOC;
  return aclmdlExecute(model, in, out);
}

}  // namespace lw::test
