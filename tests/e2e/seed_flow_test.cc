// The pyACL guide's weight-update flow, end to end through the AscendCL C API, on models
// exported from PyTorch, compared with PyTorch's own outputs.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "acl/acl.h"
#include "liveweight/build.h"
#include "support/test_support.h"

namespace lw {
namespace {

using test::NpyArray;
using test::read_npy;

constexpr double kTolerance = 1e-4;

class AclEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    ASSERT_EQ(aclInit(nullptr), ACL_SUCCESS) << aclGetRecentErrMsg();
    ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS) << aclGetRecentErrMsg();
  }
  void TearDown() override {
    EXPECT_EQ(aclrtResetDevice(0), ACL_SUCCESS);
    EXPECT_EQ(aclFinalize(), ACL_SUCCESS);
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new AclEnvironment);

// Device memory holding a copy of host bytes (or zeros), freed on destruction.
struct DeviceBuffer {
  void* ptr = nullptr;
  size_t size = 0;
  explicit DeviceBuffer(size_t n, const void* src = nullptr) : size(n) {
    EXPECT_EQ(aclrtMalloc(&ptr, n, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    if (src) {
      EXPECT_EQ(aclrtMemcpy(ptr, n, src, n, ACL_MEMCPY_HOST_TO_DEVICE), ACL_SUCCESS);
    } else {
      EXPECT_EQ(aclrtMemset(ptr, n, 0, n), ACL_SUCCESS);
    }
  }
  ~DeviceBuffer() { EXPECT_EQ(aclrtFree(ptr), ACL_SUCCESS); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  std::vector<float> to_host() const {
    std::vector<float> out(size / sizeof(float));
    EXPECT_EQ(aclrtMemcpy(out.data(), size, ptr, size, ACL_MEMCPY_DEVICE_TO_HOST), ACL_SUCCESS);
    return out;
  }
};

// A dataset over buffers it does not own; destroys its data buffers and itself.
struct Dataset {
  aclmdlDataset* ds = aclmdlCreateDataset();
  std::vector<aclDataBuffer*> buffers;
  void add(void* data, size_t size) {
    aclDataBuffer* b = aclCreateDataBuffer(data, size);
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(aclmdlAddDatasetBuffer(ds, b), ACL_SUCCESS);
    buffers.push_back(b);
  }
  void set_dims(size_t index, const std::vector<int64_t>& dims) {
    aclTensorDesc* desc = aclCreateTensorDesc(ACL_FLOAT, static_cast<int>(dims.size()), dims.data(), ACL_FORMAT_ND);
    ASSERT_NE(desc, nullptr);
    ASSERT_EQ(aclmdlSetDatasetTensorDesc(ds, desc, index), ACL_SUCCESS);
    aclDestroyTensorDesc(desc);  // the dataset keeps its own copy
  }
  ~Dataset() {
    for (aclDataBuffer* b : buffers) EXPECT_EQ(aclDestroyDataBuffer(b), ACL_SUCCESS);
    EXPECT_EQ(aclmdlDestroyDataset(ds), ACL_SUCCESS);
  }
};

struct Weight {
  std::string name;
  std::vector<int64_t> dims;
  NpyArray data;
};

struct TestModel {
  std::string dir;
  NpyArray input, out_a, out_b, out_b_skip0;
  std::vector<Weight> weights_b;  // initializer order

  explicit TestModel(const std::string& name) : dir(test::test_models_dir() + "/" + name) {
    input = read_npy(dir + "/input.npy");
    out_a = read_npy(dir + "/out_a.npy");
    out_b = read_npy(dir + "/out_b.npy");
    out_b_skip0 = read_npy(dir + "/out_b_skip0.npy");
    std::ifstream f(dir + "/weights.json");
    nlohmann::json j = nlohmann::json::parse(f);
    for (const auto& w : j) {
      Weight weight{w["name"].get<std::string>(), w["shape"].get<std::vector<int64_t>>(),
                    read_npy(dir + "/" + w["file"].get<std::string>())};
      weights_b.push_back(std::move(weight));
    }
  }
};

// A loaded bundle with its model ids and the inference graph's buffers.
class BundleRun {
 public:
  BundleRun(const TestModel& m, uint32_t bundle_id, bool has_init) : m_(m) {
    size_t count = 0;
    EXPECT_EQ(aclmdlBundleGetModelNum(bundle_id, &count), ACL_SUCCESS);
    EXPECT_EQ(count, has_init ? 3u : 2u);
    EXPECT_EQ(aclmdlBundleGetModelId(bundle_id, 0, &infer_id_), ACL_SUCCESS);
    if (has_init) {
      EXPECT_EQ(aclmdlBundleGetModelId(bundle_id, 1, &init_id_), ACL_SUCCESS);
    }
    EXPECT_EQ(aclmdlBundleGetModelId(bundle_id, has_init ? 2 : 1, &update_id_), ACL_SUCCESS);
    update_desc_ = aclmdlCreateDesc();
    EXPECT_EQ(aclmdlGetDesc(update_desc_, update_id_), ACL_SUCCESS);
  }
  ~BundleRun() { aclmdlDestroyDesc(update_desc_); }

  aclError run_init() {
    Dataset in, out;
    return aclmdlExecute(init_id_, in.ds, out.ds);
  }

  // Runs inference on the test input; returns the error and fills `out`.
  aclError infer(std::vector<float>* out) {
    DeviceBuffer x(m_.input.bytes.size(), m_.input.bytes.data());
    DeviceBuffer y(m_.out_a.bytes.size());
    Dataset in, outs;
    in.add(x.ptr, x.size);
    outs.add(y.ptr, y.size);
    aclError e = aclmdlExecute(infer_id_, in.ds, outs.ds);
    *out = y.to_host();
    return e;
  }

  // Sends weights B: skipped names get dims [0]; `bad_dims` gives one input wrong dims.
  aclError update(const std::vector<std::string>& skip, const std::string& bad = "") {
    size_t n = aclmdlGetNumInputs(update_desc_);
    EXPECT_EQ(n, m_.weights_b.size());
    std::vector<std::unique_ptr<DeviceBuffer>> buffers(n);
    Dataset in, out;
    for (size_t i = 0; i < n; ++i) in.add(nullptr, 0);  // placeholders, replaced below
    for (const Weight& w : m_.weights_b) {
      size_t index = 0;
      EXPECT_EQ(aclmdlGetInputIndexByName(update_desc_, (w.name + "_var_data").c_str(), &index), ACL_SUCCESS) << w.name;
      buffers[index] = std::make_unique<DeviceBuffer>(w.data.bytes.size(), w.data.bytes.data());
      EXPECT_EQ(aclUpdateDataBuffer(in.buffers[index], buffers[index]->ptr, buffers[index]->size), ACL_SUCCESS);
      bool skipped = std::find(skip.begin(), skip.end(), w.name) != skip.end();
      std::vector<int64_t> dims = skipped ? std::vector<int64_t>{0} : w.dims;
      if (w.name == bad) dims.push_back(1);
      in.set_dims(index, dims);
    }
    return aclmdlExecute(update_id_, in.ds, out.ds);
  }

  uint32_t infer_id() const { return infer_id_; }
  uint32_t update_id() const { return update_id_; }

 private:
  const TestModel& m_;
  uint32_t infer_id_ = 0, init_id_ = 0, update_id_ = 0;
  aclmdlDesc* update_desc_ = nullptr;
};

std::string build(const std::string& name, bool init) {
  std::string out = test::temp_path(name + (init ? ".om" : "_noinit.om"));
  OnnxBuildOptions options;
  options.init = init;
  Status st = build_bundle_from_onnx(test::test_models_dir() + "/" + name + "/model.onnx", out, options);
  EXPECT_TRUE(st.is_ok()) << st.message();
  return out;
}

void expect_close(const std::vector<float>& got, const NpyArray& want, const char* what) {
  ASSERT_EQ(got.size(), want.numel()) << what;
  double err = test::max_scaled_error(got.data(), want.f32(), got.size());
  EXPECT_LT(err, kTolerance) << what;
}

class SeedFlow : public ::testing::TestWithParam<std::string> {};

TEST_P(SeedFlow, InitInferUpdateInferMatchesPyTorch) {
  TestModel m(GetParam());
  std::string path = build(GetParam(), true);
  uint32_t bundle_id = 0;
  ASSERT_EQ(aclmdlBundleLoadFromFile(path.c_str(), &bundle_id), ACL_SUCCESS) << aclGetRecentErrMsg();
  {
    BundleRun run(m, bundle_id, true);
    std::vector<float> y;

    ASSERT_EQ(run.run_init(), ACL_SUCCESS) << aclGetRecentErrMsg();
    ASSERT_EQ(run.infer(&y), ACL_SUCCESS) << aclGetRecentErrMsg();
    expect_close(y, m.out_a, "after init (weights A)");

    ASSERT_EQ(run.update({m.weights_b[0].name}), ACL_SUCCESS) << aclGetRecentErrMsg();
    ASSERT_EQ(run.infer(&y), ACL_SUCCESS) << aclGetRecentErrMsg();
    expect_close(y, m.out_b_skip0, "after an update that skips weight 0");

    ASSERT_EQ(run.update({}), ACL_SUCCESS) << aclGetRecentErrMsg();
    ASSERT_EQ(run.infer(&y), ACL_SUCCESS) << aclGetRecentErrMsg();
    expect_close(y, m.out_b, "after a full update (weights B)");

    // A rejected update changes nothing, byte for byte, and its error names the input.
    ASSERT_EQ(run.run_init(), ACL_SUCCESS);
    std::vector<float> before;
    ASSERT_EQ(run.infer(&before), ACL_SUCCESS);
    const std::string& bad = m.weights_b.back().name;
    EXPECT_NE(run.update({}, bad), ACL_SUCCESS);
    std::string text = aclGetRecentErrMsg();
    EXPECT_NE(text.find(bad + "_var_data"), std::string::npos) << text;
    std::vector<float> after;
    ASSERT_EQ(run.infer(&after), ACL_SUCCESS);
    ASSERT_EQ(before.size(), after.size());
    EXPECT_EQ(std::memcmp(before.data(), after.data(), before.size() * sizeof(float)), 0);
    expect_close(after, m.out_a, "after a rejected update (still weights A)");
  }
  // The guide's step 9 unloads with aclmdlUnload on the bundle id.
  EXPECT_EQ(aclmdlUnload(bundle_id), ACL_SUCCESS) << aclGetRecentErrMsg();
  size_t count = 0;
  EXPECT_EQ(aclmdlBundleGetModelNum(bundle_id, &count), ACL_ERROR_INVALID_BUNDLE_MODEL_ID);
}

TEST_P(SeedFlow, BundleWithoutInitNeedsAnUpdateFirst) {
  TestModel m(GetParam());
  std::string path = build(GetParam(), false);
  uint32_t bundle_id = 0;
  ASSERT_EQ(aclmdlBundleLoadFromFile(path.c_str(), &bundle_id), ACL_SUCCESS) << aclGetRecentErrMsg();
  {
    BundleRun run(m, bundle_id, false);
    std::vector<float> y;
    EXPECT_NE(run.infer(&y), ACL_SUCCESS);
    std::string text = aclGetRecentErrMsg();
    EXPECT_NE(text.find("_var"), std::string::npos) << "the error should name the weight: " << text;

    ASSERT_EQ(run.update({}), ACL_SUCCESS) << aclGetRecentErrMsg();
    ASSERT_EQ(run.infer(&y), ACL_SUCCESS) << aclGetRecentErrMsg();
    expect_close(y, m.out_b, "no-init bundle after a full update");
  }
  EXPECT_EQ(aclmdlBundleUnload(bundle_id), ACL_SUCCESS);
}

TEST_P(SeedFlow, LoadFromMemoryEqualsLoadFromFile) {
  TestModel m(GetParam());
  std::string path = build(GetParam(), true);
  std::vector<uint8_t> bytes = test::read_file_bytes(path);

  uint32_t from_file = 0, from_mem = 0;
  ASSERT_EQ(aclmdlBundleLoadFromFile(path.c_str(), &from_file), ACL_SUCCESS);
  {
    std::vector<uint8_t> copy = bytes;
    ASSERT_EQ(aclmdlBundleLoadFromMem(copy.data(), copy.size(), &from_mem), ACL_SUCCESS) << aclGetRecentErrMsg();
    std::fill(copy.begin(), copy.end(), 0xAB);  // the caller may reuse or free its buffer
  }
  std::vector<float> a, b;
  {
    BundleRun file_run(m, from_file, true), mem_run(m, from_mem, true);
    ASSERT_EQ(file_run.run_init(), ACL_SUCCESS);
    ASSERT_EQ(mem_run.run_init(), ACL_SUCCESS);
    ASSERT_EQ(file_run.infer(&a), ACL_SUCCESS);
    ASSERT_EQ(mem_run.infer(&b), ACL_SUCCESS);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
    expect_close(b, m.out_a, "loaded from memory");
  }
  EXPECT_EQ(aclmdlBundleUnload(from_file), ACL_SUCCESS);
  EXPECT_EQ(aclmdlBundleUnload(from_mem), ACL_SUCCESS);
}

TEST_P(SeedFlow, ExecuteAfterUnloadFails) {
  TestModel m(GetParam());
  std::string path = build(GetParam(), true);
  uint32_t bundle_id = 0;
  ASSERT_EQ(aclmdlBundleLoadFromFile(path.c_str(), &bundle_id), ACL_SUCCESS);
  uint32_t infer_id = 0;
  ASSERT_EQ(aclmdlBundleGetModelId(bundle_id, 0, &infer_id), ACL_SUCCESS);
  ASSERT_EQ(aclmdlBundleUnload(bundle_id), ACL_SUCCESS);
  Dataset in, out;
  EXPECT_EQ(aclmdlExecute(infer_id, in.ds, out.ds), ACL_ERROR_INVALID_MODEL_ID);
  EXPECT_STRNE(aclGetRecentErrMsg(), "");
  EXPECT_EQ(aclmdlBundleUnload(bundle_id), ACL_ERROR_INVALID_BUNDLE_MODEL_ID);
}

INSTANTIATE_TEST_SUITE_P(TorchModels, SeedFlow, ::testing::Values("mlp", "cnn_bn", "mlp_opset11"));

}  // namespace
}  // namespace lw
