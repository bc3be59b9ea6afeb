// Real models (tests/models/make_real_models.py): ResNet-18, MobileNet v2 and a 2-layer
// encoder with dynamic batch and sequence axes. Each is built into a bundle the way `lw build`
// does, run through lw::Session and compared with PyTorch (relative 1e-4 on the outputs'
// scale); then every weight is refreshed with the second weight set through the update graph
// and the outputs are compared with PyTorch's again. The encoder is also driven through the C
// API with dynamic dims: -1 input dims, size 0, tensor descs in, real output dims out.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>

#include "acl/acl.h"
#include "frontends/onnx/onnx_importer.h"
#include "liveweight/build.h"
#include "liveweight/session.h"
#include "support/test_support.h"

namespace lw::test {
namespace {

std::string real_model_dir(const std::string& name) {
  return test::binary_dir() + "/real_models/" + name;
}

DType npy_dtype(const NpyArray& a) { return a.dtype == "i8" ? DType::kInt64 : DType::kFloat32; }

ArrayView view_of(const NpyArray& a) {
  return ArrayView{a.bytes.data(), npy_dtype(a), a.shape, a.bytes.size()};
}

void expect_matches(const Array& got, const NpyArray& want, const std::string& what) {
  ASSERT_EQ(got.dims, want.shape) << what;
  ASSERT_EQ(got.bytes, want.bytes.size()) << what;
  double err = max_scaled_error(reinterpret_cast<const float*>(got.data.get()), want.f32(), want.numel());
  EXPECT_LE(err, 1e-4) << what << ": error relative to the output's scale";
  std::printf("[ error    ] %s: %.3g\n", what.c_str(), err);
}

int num_inputs(const std::string& dir) {
  int k = 0;
  while (std::ifstream(dir + "/input_" + std::to_string(k) + ".npy")) ++k;
  return k;
}

class RealModel : public ::testing::TestWithParam<std::string> {};

// Builds `bundle` from the model (dims fixed by `input_shapes` when given), checks inputs `ks`
// with weights A, refreshes every weight with set B through the update graph, checks again.
void check_model(const std::string& dir, const std::vector<int>& ks,
                 const std::map<std::string, std::vector<int64_t>>& input_shapes) {
  const std::string name = std::filesystem::path(dir).filename().string();
  const std::string bundle = temp_path("real_" + name + "_" + std::to_string(ks[0]) + ".om");
  OnnxBuildOptions options;
  options.input_shapes = input_shapes;
  Status st = build_bundle_from_onnx(dir + "/model.onnx", bundle, options);
  ASSERT_TRUE(st.is_ok()) << st.message();
  auto s = Session::open(bundle);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  Session& session = **s;
  ASSERT_TRUE(session.init().is_ok());
  if (!input_shapes.empty()) {
    ASSERT_EQ(session.inputs().size(), 1u);
    EXPECT_EQ(session.inputs()[0].dims, input_shapes.begin()->second);
  }

  auto run_and_compare = [&](const char* set) {
    for (int k : ks) {
      NpyArray x = read_npy(dir + "/input_" + std::to_string(k) + ".npy");
      NpyArray want = read_npy(dir + "/out_" + set + "_" + std::to_string(k) + ".npy");
      auto out = session.infer({view_of(x)});
      ASSERT_TRUE(out.is_ok()) << out.status().message();
      ASSERT_EQ(out->size(), 1u);
      expect_matches((*out)[0], want, name + " weights " + set + " input " + std::to_string(k));
    }
  };
  run_and_compare("a");

  // Weights B: every refreshable weight, read from model_b.onnx by initializer name.
  auto b = onnx_import::import_onnx_file(dir + "/model_b.onnx");
  ASSERT_TRUE(b.is_ok()) << b.status().message();
  std::map<std::string, ArrayView> update;
  for (const WeightInfo& w : session.weights()) {
    ir::ValueId v = b->find_value(w.source);
    ASSERT_NE(v, ir::kNoValue) << "model_b.onnx lacks " << w.source;
    const ir::TensorData* t = b->nodes[static_cast<size_t>(b->value(v).producer)].attr_tensor("value");
    ASSERT_NE(t, nullptr) << w.source;
    update[w.source] = ArrayView{t->bytes.data, t->dtype, t->dims, t->bytes.size};
  }
  ASSERT_FALSE(update.empty());
  st = session.update(update);
  ASSERT_TRUE(st.is_ok()) << st.message();
  run_and_compare("b");
}

TEST_P(RealModel, MatchesPyTorchBeforeAndAfterRefreshingEveryWeight) {
  const std::string name = GetParam();
  const int n = num_inputs(real_model_dir(name));
  ASSERT_GT(n, 0) << "no inputs under " << real_model_dir(name) << " (the real_models fixture did not run?)";
  if (name.rfind("encoder", 0) != 0 && name.rfind("bert", 0) != 0) {
    std::vector<int> all;
    for (int k = 0; k < n; ++k) all.push_back(k);
    check_model(real_model_dir(name), all, {});
    return;
  }
  // lw::Session needs static output dims: fix the encoder's dynamic axes per input shape
  // (`lw build --input-shape`); the dynamic build is tested through the C API below.
  for (int k = 0; k < n; ++k) {
    NpyArray x = read_npy(real_model_dir(name) + "/input_" + std::to_string(k) + ".npy");
    check_model(real_model_dir(name), {k}, {{"input", x.shape}});
  }
}

INSTANTIATE_TEST_SUITE_P(Models, RealModel,
                         ::testing::Values("resnet18", "resnet18_bn", "mobilenet_v2", "encoder", "encoder17", "bert"));

// A dynamic-axis encoder through the C API: dynamic dims reported as -1 with size 0, real dims
// set with a tensor desc on the input dataset, real output dims read back after execute.
void check_dynamic_through_c_api(const std::string& dir) {
  const std::string bundle = temp_path("real_capi_" + std::to_string(std::hash<std::string>()(dir)) + ".om");
  Status st = build_bundle_from_onnx(dir + "/model.onnx", bundle);
  ASSERT_TRUE(st.is_ok()) << st.message();

  // lw::Session initializes the runtime on first use; then aclInit reports a repeat.
  aclError init = aclInit(nullptr);
  ASSERT_TRUE(init == ACL_SUCCESS || init == ACL_ERROR_REPEAT_INITIALIZE) << init;
  ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS);
  uint32_t bundle_id = 0;
  ASSERT_EQ(aclmdlBundleLoadFromFile(bundle.c_str(), &bundle_id), ACL_SUCCESS) << aclGetRecentErrMsg();
  size_t num = 0;
  ASSERT_EQ(aclmdlBundleGetModelNum(bundle_id, &num), ACL_SUCCESS);
  ASSERT_EQ(num, 3u);
  uint32_t infer_id = 0, init_id = 0;
  ASSERT_EQ(aclmdlBundleGetModelId(bundle_id, 0, &infer_id), ACL_SUCCESS);
  ASSERT_EQ(aclmdlBundleGetModelId(bundle_id, 1, &init_id), ACL_SUCCESS);

  // The init graph has no inputs or outputs.
  aclmdlDataset* empty_in = aclmdlCreateDataset();
  aclmdlDataset* empty_out = aclmdlCreateDataset();
  ASSERT_EQ(aclmdlExecute(init_id, empty_in, empty_out), ACL_SUCCESS) << aclGetRecentErrMsg();

  aclmdlDesc* desc = aclmdlCreateDesc();
  ASSERT_EQ(aclmdlGetDesc(desc, infer_id), ACL_SUCCESS);
  aclmdlIODims dims;
  ASSERT_EQ(aclmdlGetInputDims(desc, 0, &dims), ACL_SUCCESS);
  ASSERT_EQ(dims.dimCount, 2u);
  EXPECT_EQ(dims.dims[0], -1);
  EXPECT_EQ(dims.dims[1], -1);
  EXPECT_EQ(aclmdlGetInputSizeByIndex(desc, 0), 0u);
  ASSERT_EQ(aclmdlGetOutputDims(desc, 0, &dims), ACL_SUCCESS);
  ASSERT_EQ(dims.dimCount, 3u);
  EXPECT_EQ(dims.dims[0], -1);
  EXPECT_EQ(dims.dims[1], -1);
  EXPECT_EQ(dims.dims[2], 32);

  // Two sequence lengths, then the first again (its prepared plan is reused).
  for (int k : {0, 1, 0}) {
    NpyArray x = read_npy(dir + "/input_" + std::to_string(k) + ".npy");
    NpyArray want = read_npy(dir + "/out_a_" + std::to_string(k) + ".npy");
    void* in_dev = nullptr;
    void* out_dev = nullptr;
    ASSERT_EQ(aclrtMalloc(&in_dev, x.bytes.size(), ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    ASSERT_EQ(aclrtMemcpy(in_dev, x.bytes.size(), x.bytes.data(), x.bytes.size(), ACL_MEMCPY_HOST_TO_DEVICE),
              ACL_SUCCESS);
    // The output buffer is sized for the largest case; the real dims come back in the desc.
    const size_t out_cap = 3 * 8 * 32 * sizeof(float);
    ASSERT_EQ(aclrtMalloc(&out_dev, out_cap, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    aclmdlDataset* in = aclmdlCreateDataset();
    aclmdlDataset* out = aclmdlCreateDataset();
    aclDataBuffer* in_buf = aclCreateDataBuffer(in_dev, x.bytes.size());
    aclDataBuffer* out_buf = aclCreateDataBuffer(out_dev, out_cap);
    ASSERT_EQ(aclmdlAddDatasetBuffer(in, in_buf), ACL_SUCCESS);
    ASSERT_EQ(aclmdlAddDatasetBuffer(out, out_buf), ACL_SUCCESS);

    // Without a desc, a dynamic input is an error naming the input.
    if (k == 1) {
      EXPECT_NE(aclmdlExecute(infer_id, in, out), ACL_SUCCESS);
      std::string msg = aclGetRecentErrMsg();
      EXPECT_NE(msg.find("input"), std::string::npos) << msg;
    }
    aclTensorDesc* td = aclCreateTensorDesc(ACL_INT64, 2, x.shape.data(), ACL_FORMAT_ND);
    ASSERT_EQ(aclmdlSetDatasetTensorDesc(in, td, 0), ACL_SUCCESS) << aclGetRecentErrMsg();
    ASSERT_EQ(aclmdlExecute(infer_id, in, out), ACL_SUCCESS) << aclGetRecentErrMsg();

    aclTensorDesc* od = aclmdlGetDatasetTensorDesc(out, 0);
    ASSERT_NE(od, nullptr) << aclGetRecentErrMsg();
    ASSERT_EQ(aclGetTensorDescNumDims(od), 3u);
    std::vector<int64_t> got_dims;
    for (size_t d = 0; d < 3; ++d) {
      int64_t v = 0;
      ASSERT_EQ(aclGetTensorDescDimV2(od, d, &v), ACL_SUCCESS);
      got_dims.push_back(v);
    }
    EXPECT_EQ(got_dims, want.shape);
    aclmdlIODims cur;
    ASSERT_EQ(aclmdlGetCurOutputDims(desc, 0, &cur), ACL_SUCCESS) << aclGetRecentErrMsg();
    ASSERT_EQ(cur.dimCount, 3u);
    EXPECT_EQ(std::vector<int64_t>(cur.dims, cur.dims + 3), want.shape);

    std::vector<float> host(want.numel());
    ASSERT_EQ(aclrtMemcpy(host.data(), host.size() * 4, out_dev, host.size() * 4, ACL_MEMCPY_DEVICE_TO_HOST),
              ACL_SUCCESS);
    EXPECT_LE(max_scaled_error(host.data(), want.f32(), want.numel()), 1e-4) << "sequence case " << k;

    aclDestroyTensorDesc(td);
    aclDestroyDataBuffer(in_buf);
    aclDestroyDataBuffer(out_buf);
    aclmdlDestroyDataset(in);
    aclmdlDestroyDataset(out);
    aclrtFree(in_dev);
    aclrtFree(out_dev);
  }
  aclmdlDestroyDesc(desc);
  aclmdlDestroyDataset(empty_in);
  aclmdlDestroyDataset(empty_out);
  EXPECT_EQ(aclmdlBundleUnload(bundle_id), ACL_SUCCESS);
  EXPECT_EQ(aclrtResetDevice(0), ACL_SUCCESS);
  if (init == ACL_SUCCESS) {
    EXPECT_EQ(aclFinalize(), ACL_SUCCESS);
  }
}

TEST(DynamicShapes, EncoderThroughTheCApi) { check_dynamic_through_c_api(real_model_dir("encoder")); }
TEST(DynamicShapes, BertLikeWithAttentionMaskThroughTheCApi) { check_dynamic_through_c_api(real_model_dir("bert")); }

// Every model make_real_models.py --all wrote into $LW_ALL_REAL_MODELS (by hand, not in CI).
TEST(AllRealModels, EveryModelUnderLwAllRealModels) {
  const char* root = std::getenv("LW_ALL_REAL_MODELS");
  if (!root) GTEST_SKIP() << "set LW_ALL_REAL_MODELS to a make_real_models.py --all folder";
  std::vector<std::filesystem::path> dirs;
  for (const auto& e : std::filesystem::directory_iterator(root))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  ASSERT_FALSE(dirs.empty());
  for (const auto& d : dirs) {
    SCOPED_TRACE(d.string());
    const std::string name = d.filename().string();
    const int n = num_inputs(d.string());
    const bool dynamic = name.rfind("bert", 0) == 0 || name.rfind("encoder", 0) == 0;
    if (!dynamic) {
      std::vector<int> all;
      for (int k = 0; k < n; ++k) all.push_back(k);
      check_model(d.string(), all, {});
      continue;
    }
    for (int k = 0; k < n; ++k) {
      NpyArray x = read_npy(d.string() + "/input_" + std::to_string(k) + ".npy");
      check_model(d.string(), {k}, {{"input", x.shape}});
    }
    check_dynamic_through_c_api(d.string());
  }
}

}  // namespace
}  // namespace lw::test
