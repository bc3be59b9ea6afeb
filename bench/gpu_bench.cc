// GPU benchmark (issue 8): a bundle on the CUDA backend through the AscendCL C API.
//
//   lw_gpu_bench BUNDLE.om [--runs N] [--tf32]
//
// BUNDLE is a bundle without init graph (lw build --no-init), static input dims. Measures, in
// one process on one GPU: inference latency (device input and output buffers, median and p90
// of N runs after warm-up); a full refresh of every weight from device memory, from pinned host
// memory and from pageable host memory; and, for the same bytes, the host-to-device copy speed
// of one pinned buffer (cudaMemcpy) and a device-to-device copy. Prints one JSON object.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "acl/acl.h"
#include "backends/cuda/device.h"
#include "backends/cuda/libraries.h"
#include "runtime/bundle.h"
#include "runtime/runtime.h"

namespace {

void die(const char* what) {
  std::fprintf(stderr, "lw_gpu_bench: %s failed: %s\n", what, aclGetRecentErrMsg());
  std::exit(1);
}
#define CHECK(call)                  \
  do {                               \
    if ((call) != ACL_SUCCESS) die(#call); \
  } while (0)

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Stats {
  double median = 0, p90 = 0, min = 0;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 9 / 10)], v.front()};
}

template <typename F>
Stats time_runs(int warmup, int runs, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    double t0 = now_ms();
    f();
    t.push_back(now_ms() - t0);
  }
  return stats(t);
}

struct Dataset {
  aclmdlDataset* ds = aclmdlCreateDataset();
  std::vector<aclDataBuffer*> buffers;
  void add(void* p, size_t n) {
    aclDataBuffer* b = aclCreateDataBuffer(p, n);
    CHECK(aclmdlAddDatasetBuffer(ds, b));
    buffers.push_back(b);
  }
  ~Dataset() {
    for (auto* b : buffers) aclDestroyDataBuffer(b);
    aclmdlDestroyDataset(ds);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: lw_gpu_bench BUNDLE.om [--runs N] [--tf32]\n");
    return 2;
  }
  std::string bundle_path = argv[1];
  int runs = 50;
  bool tf32 = false;
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    if (std::string(argv[i]) == "--tf32") tf32 = true;
  }
  std::string config = "/tmp/lw_gpu_bench_config.json";
  std::ofstream(config) << R"({"liveweight": {"backend": "cuda", "allow_tf32": )" << (tf32 ? "true" : "false") << "}}";
  CHECK(aclInit(config.c_str()));
  CHECK(aclrtSetDevice(0));

  double t0 = now_ms();
  uint32_t bundle = 0;
  CHECK(aclmdlBundleLoadFromFile(bundle_path.c_str(), &bundle));
  double load_ms = now_ms() - t0;
  uint32_t infer_id = 0, update_id = 0;
  CHECK(aclmdlBundleGetModelId(bundle, 0, &infer_id));
  CHECK(aclmdlBundleGetModelId(bundle, 1, &update_id));
  aclmdlDesc* infer_desc = aclmdlCreateDesc();
  aclmdlDesc* update_desc = aclmdlCreateDesc();
  CHECK(aclmdlGetDesc(infer_desc, infer_id));
  CHECK(aclmdlGetDesc(update_desc, update_id));

  // Weights: one random buffer per update input in each kind of memory.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
  size_t n_weights = aclmdlGetNumInputs(update_desc);
  std::vector<size_t> sizes(n_weights);
  std::vector<void*> dev(n_weights), pinned(n_weights);
  std::vector<std::vector<uint8_t>> pageable(n_weights);
  size_t total = 0;
  // Update inputs have unknown rank (as in CANN), so their sizes come from the Variables they
  // feed: input "<V>_data" writes Variable "<V>".
  auto bundle_ref = lw::rt::Runtime::instance().bundle(bundle);
  if (!bundle_ref.is_ok()) die("finding the bundle");
  const auto& store = *(*bundle_ref)->store();
  for (size_t i = 0; i < n_weights; ++i) {
    std::string input = aclmdlGetInputNameByIndex(update_desc, i);
    std::string var = input.size() > 5 ? input.substr(0, input.size() - 5) : input;
    int32_t slot = store.find(var);
    if (slot < 0) die(("finding Variable " + var).c_str());
    sizes[i] = store.slots()[static_cast<size_t>(slot)].bytes;
    total += sizes[i];
    pageable[i].resize(sizes[i]);
    auto* f = reinterpret_cast<float*>(pageable[i].data());
    for (size_t k = 0; k < sizes[i] / 4; ++k) f[k] = dist(rng);
    CHECK(aclrtMalloc(&dev[i], sizes[i], ACL_MEM_MALLOC_HUGE_FIRST));
    CHECK(aclrtMemcpy(dev[i], sizes[i], pageable[i].data(), sizes[i], ACL_MEMCPY_HOST_TO_DEVICE));
    CHECK(aclrtMallocHost(&pinned[i], sizes[i]));
    std::memcpy(pinned[i], pageable[i].data(), sizes[i]);
  }
  auto refresh = [&](const std::vector<void*>& src) {
    Dataset in, out;
    for (size_t i = 0; i < n_weights; ++i) in.add(src[i], sizes[i]);
    CHECK(aclmdlExecute(update_id, in.ds, out.ds));
  };
  std::vector<void*> pageable_ptrs(n_weights);
  for (size_t i = 0; i < n_weights; ++i) pageable_ptrs[i] = pageable[i].data();

  Stats refresh_device = time_runs(3, 20, [&] { refresh(dev); });
  Stats refresh_pinned = time_runs(2, 10, [&] { refresh(pinned); });
  Stats refresh_pageable = time_runs(1, 5, [&] { refresh(pageable_ptrs); });

  // The same bytes as one copy: the link's and the memory's speed in this process.
  void* big_dev = nullptr;
  void* big_dev2 = nullptr;
  void* big_pinned = nullptr;
  CHECK(aclrtMalloc(&big_dev, total, ACL_MEM_MALLOC_HUGE_FIRST));
  CHECK(aclrtMalloc(&big_dev2, total, ACL_MEM_MALLOC_HUGE_FIRST));
  CHECK(aclrtMallocHost(&big_pinned, total));
  std::memset(big_pinned, 1, total);
  Stats h2d = time_runs(2, 10, [&] { CHECK(aclrtMemcpy(big_dev, total, big_pinned, total, ACL_MEMCPY_HOST_TO_DEVICE)); });
  Stats d2d = time_runs(3, 20, [&] { CHECK(aclrtMemcpy(big_dev2, total, big_dev, total, ACL_MEMCPY_DEVICE_TO_DEVICE)); });

  // Inference from device buffers.
  size_t in_bytes = aclmdlGetInputSizeByIndex(infer_desc, 0);
  size_t out_bytes = aclmdlGetOutputSizeByIndex(infer_desc, 0);
  void* x = nullptr;
  void* y = nullptr;
  CHECK(aclrtMalloc(&x, in_bytes, ACL_MEM_MALLOC_HUGE_FIRST));
  CHECK(aclrtMalloc(&y, out_bytes, ACL_MEM_MALLOC_HUGE_FIRST));
  {
    std::vector<float> host(in_bytes / 4);
    for (float& v : host) v = dist(rng) * 20;
    CHECK(aclrtMemcpy(x, in_bytes, host.data(), in_bytes, ACL_MEMCPY_HOST_TO_DEVICE));
  }
  Dataset in, out;
  in.add(x, in_bytes);
  out.add(y, out_bytes);
  Stats infer = time_runs(10, runs, [&] { CHECK(aclmdlExecute(infer_id, in.ds, out.ds)); });
  std::vector<float> result(out_bytes / 4);
  CHECK(aclrtMemcpy(result.data(), out_bytes, y, out_bytes, ACL_MEMCPY_DEVICE_TO_HOST));
  double checksum = 0;
  for (float v : result) checksum += v;

  auto name = lw::cuda::device_name(0);
  const lw::cuda::Libraries& libs = lw::cuda::libraries();
  std::printf("{\"cublas\": \"%s\", \"cudnn\": \"%s\"}\n",
              libs.has_cublas() ? libs.cublas_path.c_str() : libs.cublas_error.c_str(),
              libs.has_cudnn() ? libs.cudnn_path.c_str() : libs.cudnn_error.c_str());
  auto gbps = [&](double ms) { return static_cast<double>(total) / (ms * 1e-3) / 1e9; };
  std::printf(
      "{\"device\": \"%s\", \"bundle\": \"%s\", \"tf32\": %s, \"load_ms\": %.2f, \"weight_bytes\": %zu, "
      "\"weights\": %zu,\n \"infer_ms\": {\"median\": %.3f, \"p90\": %.3f, \"min\": %.3f}, \"output_checksum\": %.6g,\n"
      " \"refresh_device_ms\": %.4f, \"refresh_pinned_ms\": %.3f, \"refresh_pageable_ms\": %.3f,\n"
      " \"h2d_memcpy_ms\": %.3f, \"d2d_memcpy_ms\": %.4f,\n"
      " \"refresh_pinned_GBps\": %.2f, \"h2d_GBps\": %.2f, \"refresh_pinned_vs_h2d\": %.3f,\n"
      " \"refresh_pageable_GBps\": %.2f, \"refresh_device_GBps\": %.1f, \"d2d_GBps\": %.1f}\n",
      name.is_ok() ? name->c_str() : "?", bundle_path.c_str(), tf32 ? "true" : "false", load_ms, total, n_weights,
      infer.median, infer.p90, infer.min, checksum, refresh_device.median, refresh_pinned.median,
      refresh_pageable.median, h2d.median, d2d.median, gbps(refresh_pinned.median), gbps(h2d.median),
      h2d.median / refresh_pinned.median, gbps(refresh_pageable.median), gbps(refresh_device.median), gbps(d2d.median));

  for (size_t i = 0; i < n_weights; ++i) {
    aclrtFree(dev[i]);
    aclrtFreeHost(pinned[i]);
  }
  aclrtFree(big_dev);
  aclrtFree(big_dev2);
  aclrtFreeHost(big_pinned);
  aclrtFree(x);
  aclrtFree(y);
  aclmdlDestroyDesc(infer_desc);
  aclmdlDestroyDesc(update_desc);
  CHECK(aclmdlBundleUnload(bundle));
  CHECK(aclrtResetDevice(0));
  CHECK(aclFinalize());
  return 0;
}
