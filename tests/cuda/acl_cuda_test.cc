// The CUDA backend through the AscendCL C API: selection (and its refusal without a GPU),
// device memory, weight refresh from device, pinned and pageable memory, and inference that
// never mixes two weight versions while updates run (issue 8 / DESIGN.md section 5 on CUDA).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "acl/acl.h"
#include "backends/cuda/device.h"
#include "liveweight/build.h"
#include "liveweight/memory.h"
#include "support/test_support.h"

namespace lw {
namespace {

std::string write_config(const std::string& backend) {
  std::string path = test::temp_path("cuda_config_" + backend + ".json");
  std::ofstream(path) << R"({"liveweight": {"backend": ")" << backend << R"("}})";
  return path;
}

bool have_gpu() { return cuda::check_available().is_ok(); }

TEST(CudaSelection, RefusedWithAClearErrorWithoutAGpu) {
  if (have_gpu()) GTEST_SKIP() << "a GPU is present: the refusal cannot be observed";
  std::string config = write_config("cuda");
  EXPECT_EQ(aclInit(config.c_str()), ACL_ERROR_INVALID_DEVICE);
  std::string text = aclGetRecentErrMsg();
  EXPECT_NE(text.find("cuda"), std::string::npos) << text;
  // The environment variable selects it too, and is refused the same way.
  ASSERT_EQ(setenv("LW_BACKEND", "cuda", 1), 0);
  EXPECT_EQ(aclInit(nullptr), ACL_ERROR_INVALID_DEVICE);
  ASSERT_EQ(unsetenv("LW_BACKEND"), 0);
  // Nothing was left half-initialized: the CPU backend still comes up.
  ASSERT_EQ(aclInit(nullptr), ACL_SUCCESS) << aclGetRecentErrMsg();
  // On the CPU backend "device" memory is host memory: nothing is device memory.
  void* p = nullptr;
  ASSERT_EQ(aclrtMalloc(&p, 64, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  EXPECT_FALSE(is_device_pointer(p));
  EXPECT_FALSE(is_device_pointer(nullptr));
  EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
  EXPECT_EQ(aclFinalize(), ACL_SUCCESS);
}

// ---- with a GPU ----

struct Weight {
  std::string name;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
};

class CudaBundle : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA GPU here: " << cuda::check_available().message();
    std::string config = write_config("cuda");
    ASSERT_EQ(aclInit(config.c_str()), ACL_SUCCESS) << aclGetRecentErrMsg();
    ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS) << aclGetRecentErrMsg();
    dir_ = test::test_models_dir() + "/mlp";
    path_ = test::temp_path("cuda_mlp.om");
    OnnxBuildOptions options;
    Status st = build_bundle_from_onnx(dir_ + "/model.onnx", path_, options);
    ASSERT_TRUE(st.is_ok()) << st.message();
    input_ = test::read_npy(dir_ + "/input.npy");
    out_a_ = test::read_npy(dir_ + "/out_a.npy");
    out_b_ = test::read_npy(dir_ + "/out_b.npy");
    std::ifstream f(dir_ + "/weights.json");
    for (const auto& w : nlohmann::json::parse(f))
      weights_.push_back({w["name"].get<std::string>(), w["shape"].get<std::vector<int64_t>>(),
                          test::read_npy(dir_ + "/" + w["file"].get<std::string>()).bytes});
    ASSERT_EQ(aclmdlBundleLoadFromFile(path_.c_str(), &bundle_), ACL_SUCCESS) << aclGetRecentErrMsg();
    ASSERT_EQ(aclmdlBundleGetModelId(bundle_, 0, &infer_), ACL_SUCCESS);
    ASSERT_EQ(aclmdlBundleGetModelId(bundle_, 1, &init_), ACL_SUCCESS);
    ASSERT_EQ(aclmdlBundleGetModelId(bundle_, 2, &update_), ACL_SUCCESS);
    desc_ = aclmdlCreateDesc();
    ASSERT_EQ(aclmdlGetDesc(desc_, update_), ACL_SUCCESS);
    ASSERT_EQ(aclrtMalloc(&x_, input_.bytes.size(), ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    ASSERT_EQ(aclrtMemcpy(x_, input_.bytes.size(), input_.bytes.data(), input_.bytes.size(), ACL_MEMCPY_HOST_TO_DEVICE),
              ACL_SUCCESS);
    ASSERT_EQ(run_init(), ACL_SUCCESS) << aclGetRecentErrMsg();
  }

  aclError run_init() {
    aclmdlDataset* none_in = aclmdlCreateDataset();
    aclmdlDataset* none_out = aclmdlCreateDataset();
    aclError e = aclmdlExecute(init_, none_in, none_out);
    aclmdlDestroyDataset(none_in);
    aclmdlDestroyDataset(none_out);
    return e;
  }

  void TearDown() override {
    if (!have_gpu()) return;
    if (x_) {
      EXPECT_EQ(aclrtFree(x_), ACL_SUCCESS);
    }
    if (desc_) aclmdlDestroyDesc(desc_);
    if (bundle_) {
      EXPECT_EQ(aclmdlBundleUnload(bundle_), ACL_SUCCESS);
    }
    EXPECT_EQ(aclrtResetDevice(0), ACL_SUCCESS);
    EXPECT_EQ(aclFinalize(), ACL_SUCCESS);
  }

  // One inference from device memory; the output comes back to the host.
  std::vector<float> infer() {
    size_t n = out_a_.bytes.size();
    void* y = nullptr;
    EXPECT_EQ(aclrtMalloc(&y, n, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    aclmdlDataset* in = aclmdlCreateDataset();
    aclmdlDataset* out = aclmdlCreateDataset();
    aclDataBuffer* bx = aclCreateDataBuffer(x_, input_.bytes.size());
    aclDataBuffer* by = aclCreateDataBuffer(y, n);
    EXPECT_EQ(aclmdlAddDatasetBuffer(in, bx), ACL_SUCCESS);
    EXPECT_EQ(aclmdlAddDatasetBuffer(out, by), ACL_SUCCESS);
    EXPECT_EQ(aclmdlExecute(infer_, in, out), ACL_SUCCESS) << aclGetRecentErrMsg();
    std::vector<float> host(n / sizeof(float));
    EXPECT_EQ(aclrtMemcpy(host.data(), n, y, n, ACL_MEMCPY_DEVICE_TO_HOST), ACL_SUCCESS);
    aclDestroyDataBuffer(bx);
    aclDestroyDataBuffer(by);
    aclmdlDestroyDataset(in);
    aclmdlDestroyDataset(out);
    EXPECT_EQ(aclrtFree(y), ACL_SUCCESS);
    return host;
  }

  enum class Source { kDevice, kPinned, kPageable };

  // Sends `weights` (each scaled by `scale`) from memory of the given kind.
  aclError update(Source source, float scale = 1.f) {
    size_t n = aclmdlGetNumInputs(desc_);
    std::vector<void*> ptrs(n, nullptr);
    std::vector<std::vector<uint8_t>> pageable(n);
    aclmdlDataset* in = aclmdlCreateDataset();
    aclmdlDataset* out = aclmdlCreateDataset();
    std::vector<aclDataBuffer*> buffers(n, nullptr);
    for (size_t i = 0; i < n; ++i) {
      buffers[i] = aclCreateDataBuffer(nullptr, 0);
      EXPECT_EQ(aclmdlAddDatasetBuffer(in, buffers[i]), ACL_SUCCESS);
    }
    for (const Weight& w : weights_) {
      size_t index = 0;
      EXPECT_EQ(aclmdlGetInputIndexByName(desc_, (w.name + "_var_data").c_str(), &index), ACL_SUCCESS);
      std::vector<uint8_t> bytes = w.bytes;
      auto* f = reinterpret_cast<float*>(bytes.data());
      for (size_t k = 0; k < bytes.size() / 4; ++k) f[k] *= scale;
      switch (source) {
        case Source::kDevice:
          EXPECT_EQ(aclrtMalloc(&ptrs[index], bytes.size(), ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
          EXPECT_EQ(aclrtMemcpy(ptrs[index], bytes.size(), bytes.data(), bytes.size(), ACL_MEMCPY_HOST_TO_DEVICE),
                    ACL_SUCCESS);
          break;
        case Source::kPinned:
          EXPECT_EQ(aclrtMallocHost(&ptrs[index], bytes.size()), ACL_SUCCESS);
          std::memcpy(ptrs[index], bytes.data(), bytes.size());
          break;
        case Source::kPageable:
          pageable[index] = bytes;
          ptrs[index] = pageable[index].data();
          break;
      }
      EXPECT_EQ(aclUpdateDataBuffer(buffers[index], ptrs[index], bytes.size()), ACL_SUCCESS);
    }
    aclError e = aclmdlExecute(update_, in, out);
    for (size_t i = 0; i < n; ++i) {
      aclDestroyDataBuffer(buffers[i]);
      if (source == Source::kDevice && ptrs[i]) {
      EXPECT_EQ(aclrtFree(ptrs[i]), ACL_SUCCESS);
    }
      if (source == Source::kPinned && ptrs[i]) {
      EXPECT_EQ(aclrtFreeHost(ptrs[i]), ACL_SUCCESS);
    }
    }
    aclmdlDestroyDataset(in);
    aclmdlDestroyDataset(out);
    return e;
  }

  void expect_close(const std::vector<float>& got, const test::NpyArray& want, const char* what) {
    ASSERT_EQ(got.size(), want.numel()) << what;
    EXPECT_LT(test::max_scaled_error(got.data(), want.f32(), got.size()), 1e-4)
        << what << ": got " << got[0] << " " << got[1] << " " << got[2] << ", want " << want.f32()[0] << " "
        << want.f32()[1] << " " << want.f32()[2];
  }

  std::string dir_, path_;
  test::NpyArray input_, out_a_, out_b_;
  std::vector<Weight> weights_;
  uint32_t bundle_ = 0, infer_ = 0, init_ = 0, update_ = 0;
  aclmdlDesc* desc_ = nullptr;
  void* x_ = nullptr;
};

TEST_F(CudaBundle, DeviceNumbersAndMemory) {
  EXPECT_EQ(aclrtSetDevice(9999), ACL_ERROR_INVALID_DEVICE);
  void* p = nullptr;
  ASSERT_EQ(aclrtMalloc(&p, 1024, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  EXPECT_EQ(cuda::pointer_kind(p), cuda::PointerKind::kDevice);
  EXPECT_TRUE(is_device_pointer(p));
  EXPECT_TRUE(is_device_pointer(static_cast<uint8_t*>(p) + 100));  // inside the block too
  EXPECT_EQ(aclrtMemset(p, 1024, 0x5a, 1024), ACL_SUCCESS);
  std::vector<uint8_t> back(1024, 0);
  ASSERT_EQ(aclrtMemcpy(back.data(), 1024, p, 1024, ACL_MEMCPY_DEVICE_TO_HOST), ACL_SUCCESS);
  for (uint8_t b : back) ASSERT_EQ(b, 0x5a);
  // Kinds are still checked: a device pointer is not host memory.
  EXPECT_EQ(aclrtMemcpy(back.data(), 1024, p, 1024, ACL_MEMCPY_HOST_TO_HOST), ACL_ERROR_INVALID_PARAM);
  EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
  void* h = nullptr;
  ASSERT_EQ(aclrtMallocHost(&h, 4096), ACL_SUCCESS);
  EXPECT_EQ(cuda::pointer_kind(h), cuda::PointerKind::kPinnedHost);
  EXPECT_FALSE(is_device_pointer(h));
  EXPECT_EQ(aclrtFreeHost(h), ACL_SUCCESS);
}

TEST_F(CudaBundle, InitThenUpdateFromEveryKindOfMemory) {
  expect_close(infer(), out_a_, "after init");
  for (Source s : {Source::kDevice, Source::kPinned, Source::kPageable}) {
    SCOPED_TRACE(static_cast<int>(s));
    ASSERT_EQ(run_init(), ACL_SUCCESS);
    expect_close(infer(), out_a_, "after init again");
    ASSERT_EQ(update(s), ACL_SUCCESS) << aclGetRecentErrMsg();
    expect_close(infer(), out_b_, "after the update");
  }
}

TEST_F(CudaBundle, InferenceNeverMixesTwoVersions) {
  // References for two weight sets, computed one after the other on the same device.
  ASSERT_EQ(update(Source::kDevice, 1.f), ACL_SUCCESS) << aclGetRecentErrMsg();
  std::vector<float> ref_b = infer();
  ASSERT_EQ(update(Source::kDevice, -0.5f), ACL_SUCCESS) << aclGetRecentErrMsg();
  std::vector<float> ref_c = infer();
  ASSERT_GT(test::max_scaled_error(ref_b.data(), ref_c.data(), ref_b.size()), 0.1);

  std::atomic<bool> stop{false};
  std::atomic<int> mixed{0}, runs{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      while (!stop.load()) {
        std::vector<float> y = infer();
        bool is_b = std::memcmp(y.data(), ref_b.data(), y.size() * 4) == 0;
        bool is_c = std::memcmp(y.data(), ref_c.data(), y.size() * 4) == 0;
        if (!is_b && !is_c) mixed.fetch_add(1);
        runs.fetch_add(1);
      }
    });
  for (int u = 0; u < 40; ++u) ASSERT_EQ(update(u % 3 == 0 ? Source::kPinned : Source::kDevice, u % 2 ? 1.f : -0.5f),
                                         ACL_SUCCESS) << aclGetRecentErrMsg();
  stop.store(true);
  for (auto& t : readers) t.join();
  EXPECT_GT(runs.load(), 0);
  EXPECT_EQ(mixed.load(), 0) << "of " << runs.load() << " inferences";
}

}  // namespace
}  // namespace lw
