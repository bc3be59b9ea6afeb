// Model descriptions, load / execute / unload and bundles, on small graphs built here and run by
// the CPU runtime. Expected outputs are computed with plain loops.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "acl/acl.h"
#include "api/acl_test_util.h"
#include "liveweight/build.h"
#include "liveweight/graph.h"
#include "support/test_support.h"

namespace {

const std::vector<float> kW = {0.5f, -1.f, 2.f, 3.5f, -4.f, 10.f};
const std::vector<float> kX = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
const std::string kLongName(200, 'n');

// y = x + W with x [2,3] (named with a 200-character name) and W a [2,3] constant "W".
lw::Graph add_graph() {
  lw::Graph g("add");
  lw::Tensor x = g.add_input(kLongName, lw::DType::kFloat32, {2, 3});
  lw::Tensor w = g.add_constant("W", lw::DType::kFloat32, {2, 3}, kW.data(), kW.size() * sizeof(float));
  lw::Tensor y = g.add_op("Add", {x, w}, {}, 1, "sum")[0];
  g.set_outputs({y});
  return g;
}

// y = Relu(x) with x [-1,3].
lw::Graph dynamic_graph() {
  lw::Graph g("relu");
  lw::Tensor x = g.add_input("x", lw::DType::kFloat32, {-1, 3});
  lw::Tensor y = g.add_op("Relu", {x}, {}, 1, "relu")[0];
  g.set_outputs({y});
  return g;
}

std::vector<uint8_t> must(lw::Result<std::vector<uint8_t>> r) {
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? std::move(r).value() : std::vector<uint8_t>{};
}

// Datasets over host vectors; destroys everything it made.
class Io {
 public:
  ~Io() {
    for (aclmdlDataset* d : datasets_) aclmdlDestroyDataset(d);
    for (aclDataBuffer* b : buffers_) aclDestroyDataBuffer(b);
  }
  aclmdlDataset* dataset(std::vector<std::pair<void*, size_t>> slots) {
    aclmdlDataset* d = aclmdlCreateDataset();
    datasets_.push_back(d);
    for (auto [p, n] : slots) {
      aclDataBuffer* b = aclCreateDataBuffer(p, n);
      buffers_.push_back(b);
      EXPECT_EQ(aclmdlAddDatasetBuffer(d, b), ACL_SUCCESS);
    }
    return d;
  }

 private:
  std::vector<aclmdlDataset*> datasets_;
  std::vector<aclDataBuffer*> buffers_;
};

void set_dims(aclmdlDataset* ds, size_t index, std::vector<int64_t> dims) {
  aclTensorDesc* d = aclCreateTensorDesc(ACL_FLOAT, static_cast<int>(dims.size()), dims.data(), ACL_FORMAT_ND);
  ASSERT_NE(d, nullptr);
  ASSERT_ACL_OK(aclmdlSetDatasetTensorDesc(ds, d, index));
  aclDestroyTensorDesc(d);
}

std::vector<int64_t> desc_dims(const aclTensorDesc* d) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < aclGetTensorDescNumDims(d); ++i) out.push_back(aclGetTensorDescDim(d, i));
  return out;
}

class AclModel : public ::testing::Test {
 protected:
  void SetUp() override {
    lw::test::ensure_finalized();
    ASSERT_ACL_OK(aclInit(nullptr));
    ASSERT_ACL_OK(aclrtSetDevice(0));
    add_bytes_ = must(lw::build_model(add_graph()));
    ASSERT_FALSE(add_bytes_.empty());
    ASSERT_ACL_OK(aclmdlLoadFromMem(add_bytes_.data(), add_bytes_.size(), &add_id_));
    auto dyn = must(lw::build_model(dynamic_graph()));
    ASSERT_ACL_OK(aclmdlLoadFromMem(dyn.data(), dyn.size(), &dyn_id_));
    desc_ = aclmdlCreateDesc();
    ASSERT_NE(desc_, nullptr);
    ASSERT_ACL_OK(aclmdlGetDesc(desc_, add_id_));
  }
  void TearDown() override {
    aclmdlDestroyDesc(desc_);
    lw::test::ensure_finalized();
  }
  std::vector<uint8_t> add_bytes_;
  uint32_t add_id_ = 0;
  uint32_t dyn_id_ = 0;
  aclmdlDesc* desc_ = nullptr;
};

TEST_F(AclModel, DescribesTheModel) {
  EXPECT_EQ(aclmdlGetNumInputs(desc_), 1u);
  EXPECT_EQ(aclmdlGetNumOutputs(desc_), 1u);
  EXPECT_EQ(aclmdlGetInputSizeByIndex(desc_, 0), 24u);
  EXPECT_EQ(aclmdlGetOutputSizeByIndex(desc_, 0), 24u);
  EXPECT_EQ(aclmdlGetInputDataType(desc_, 0), ACL_FLOAT);
  EXPECT_EQ(aclmdlGetOutputDataType(desc_, 0), ACL_FLOAT);
  EXPECT_NE(aclmdlGetInputFormat(desc_, 0), ACL_FORMAT_UNDEFINED);
  EXPECT_NE(aclmdlGetOutputFormat(desc_, 0), ACL_FORMAT_UNDEFINED);
  EXPECT_EQ(std::string(aclmdlGetInputNameByIndex(desc_, 0)), kLongName);
  const char* out_name = aclmdlGetOutputNameByIndex(desc_, 0);
  ASSERT_NE(out_name, nullptr);
  size_t index = 99;
  EXPECT_ACL_OK(aclmdlGetInputIndexByName(desc_, kLongName.c_str(), &index));
  EXPECT_EQ(index, 0u);
  index = 99;
  EXPECT_ACL_OK(aclmdlGetOutputIndexByName(desc_, out_name, &index));
  EXPECT_EQ(index, 0u);

  aclmdlIODims dims;
  ASSERT_ACL_OK(aclmdlGetInputDims(desc_, 0, &dims));
  EXPECT_EQ(dims.dimCount, 2u);
  EXPECT_EQ(dims.dims[0], 2);
  EXPECT_EQ(dims.dims[1], 3);
  EXPECT_EQ(std::string(dims.name), kLongName.substr(0, ACL_MAX_TENSOR_NAME_LEN - 1));  // truncated
  ASSERT_ACL_OK(aclmdlGetOutputDims(desc_, 0, &dims));
  EXPECT_EQ(dims.dimCount, 2u);
  EXPECT_STREQ(dims.name, out_name);
  ASSERT_ACL_OK(aclmdlGetCurOutputDims(desc_, 0, &dims));  // not run yet: the static dims
  EXPECT_EQ(dims.dimCount, 2u);
  EXPECT_EQ(dims.dims[1], 3);

  // Names stay valid while the desc lives, even after it describes another model.
  const char* in_name = aclmdlGetInputNameByIndex(desc_, 0);
  ASSERT_ACL_OK(aclmdlGetDesc(desc_, dyn_id_));
  EXPECT_EQ(std::string(in_name), kLongName);
  EXPECT_STREQ(aclmdlGetInputNameByIndex(desc_, 0), "x");
  // ... and after the model is unloaded.
  ASSERT_ACL_OK(aclmdlUnload(dyn_id_));
  EXPECT_STREQ(aclmdlGetInputNameByIndex(desc_, 0), "x");
}

TEST_F(AclModel, DescGettersRejectBadArguments) {
  aclmdlIODims dims;
  size_t index = 0;
  const char* fnames[] = {"aclmdlGetInputDims", "aclmdlGetOutputDims", "aclmdlGetCurOutputDims"};
  decltype(&aclmdlGetInputDims) dim_fns[] = {aclmdlGetInputDims, aclmdlGetOutputDims, aclmdlGetCurOutputDims};
  for (int i = 0; i < 3; ++i) {
    EXPECT_ACL_FAIL(dim_fns[i](desc_, 1, &dims), ACL_ERROR_INVALID_PARAM, fnames[i]);
    EXPECT_ACL_FAIL(dim_fns[i](desc_, 0, nullptr), ACL_ERROR_INVALID_PARAM, fnames[i]);
    EXPECT_ACL_FAIL(dim_fns[i](nullptr, 0, &dims), ACL_ERROR_INVALID_PARAM, fnames[i]);
  }
  EXPECT_GETTER_FAIL(aclmdlGetInputSizeByIndex(desc_, 1), 0u, "aclmdlGetInputSizeByIndex");
  EXPECT_GETTER_FAIL(aclmdlGetOutputSizeByIndex(desc_, 5), 0u, "aclmdlGetOutputSizeByIndex");
  EXPECT_GETTER_FAIL(aclmdlGetInputNameByIndex(desc_, 1), nullptr, "aclmdlGetInputNameByIndex");
  EXPECT_GETTER_FAIL(aclmdlGetOutputNameByIndex(desc_, 1), nullptr, "aclmdlGetOutputNameByIndex");
  EXPECT_GETTER_FAIL(aclmdlGetInputFormat(desc_, 1), ACL_FORMAT_UNDEFINED, "aclmdlGetInputFormat");
  EXPECT_GETTER_FAIL(aclmdlGetOutputFormat(desc_, 1), ACL_FORMAT_UNDEFINED, "aclmdlGetOutputFormat");
  EXPECT_GETTER_FAIL(aclmdlGetInputDataType(desc_, 1), ACL_DT_UNDEFINED, "aclmdlGetInputDataType");
  EXPECT_GETTER_FAIL(aclmdlGetOutputDataType(desc_, 1), ACL_DT_UNDEFINED, "aclmdlGetOutputDataType");
  EXPECT_ACL_FAIL(aclmdlGetInputIndexByName(desc_, nullptr, &index), ACL_ERROR_INVALID_PARAM, "aclmdlGetInputIndexByName");
  EXPECT_ACL_FAIL(aclmdlGetInputIndexByName(desc_, "nope", &index), ACL_ERROR_INVALID_PARAM, "aclmdlGetInputIndexByName");
  EXPECT_ACL_FAIL(aclmdlGetInputIndexByName(desc_, "x", nullptr), ACL_ERROR_INVALID_PARAM, "aclmdlGetInputIndexByName");
  EXPECT_ACL_FAIL(aclmdlGetOutputIndexByName(desc_, nullptr, &index), ACL_ERROR_INVALID_PARAM, "aclmdlGetOutputIndexByName");
  EXPECT_ACL_FAIL(aclmdlGetOutputIndexByName(desc_, "nope", &index), ACL_ERROR_INVALID_PARAM, "aclmdlGetOutputIndexByName");

  // NULL, unfilled and destroyed descriptions.
  aclmdlDesc* unfilled = aclmdlCreateDesc();
  aclmdlDesc* dead = aclmdlCreateDesc();
  ASSERT_ACL_OK(aclmdlDestroyDesc(dead));
  for (aclmdlDesc* bad : {static_cast<aclmdlDesc*>(nullptr), unfilled, dead}) {
    EXPECT_GETTER_FAIL(aclmdlGetNumInputs(bad), 0u, "aclmdlGetNumInputs");
    EXPECT_GETTER_FAIL(aclmdlGetNumOutputs(bad), 0u, "aclmdlGetNumOutputs");
    EXPECT_GETTER_FAIL(aclmdlGetInputSizeByIndex(bad, 0), 0u, "aclmdlGetInputSizeByIndex");
    EXPECT_GETTER_FAIL(aclmdlGetInputNameByIndex(bad, 0), nullptr, "aclmdlGetInputNameByIndex");
    EXPECT_GETTER_FAIL(aclmdlGetOutputDataType(bad, 0), ACL_DT_UNDEFINED, "aclmdlGetOutputDataType");
    EXPECT_ACL_FAIL(aclmdlGetInputDims(bad, 0, &dims), ACL_ERROR_INVALID_PARAM, "aclmdlGetInputDims");
    EXPECT_ACL_FAIL(aclmdlGetOutputIndexByName(bad, "x", &index), ACL_ERROR_INVALID_PARAM, "aclmdlGetOutputIndexByName");
  }
  EXPECT_ACL_FAIL(aclmdlGetDesc(nullptr, add_id_), ACL_ERROR_INVALID_PARAM, "aclmdlGetDesc");
  EXPECT_ACL_FAIL(aclmdlGetDesc(dead, add_id_), ACL_ERROR_INVALID_PARAM, "aclmdlGetDesc");
  EXPECT_ACL_FAIL(aclmdlGetDesc(unfilled, 999999), ACL_ERROR_INVALID_MODEL_ID, "aclmdlGetDesc");
  EXPECT_ACL_FAIL(aclmdlDestroyDesc(dead), ACL_ERROR_INVALID_PARAM, "aclmdlDestroyDesc");
  EXPECT_ACL_FAIL(aclmdlDestroyDesc(nullptr), ACL_ERROR_INVALID_PARAM, "aclmdlDestroyDesc");
  EXPECT_ACL_OK(aclmdlDestroyDesc(unfilled));
}

TEST_F(AclModel, ExecuteComputesAndReportsOutputDims) {
  std::vector<float> x = kX, y(6, -99.f);
  Io io;
  aclmdlDataset* in = io.dataset({{x.data(), 24}});
  aclmdlDataset* out = io.dataset({{y.data(), 24}});
  ASSERT_ACL_OK(aclmdlExecute(add_id_, in, out));
  for (size_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[i], x[i] + kW[i]) << i;
  aclTensorDesc* od = aclmdlGetDatasetTensorDesc(out, 0);
  ASSERT_NE(od, nullptr);
  EXPECT_EQ(desc_dims(od), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(aclGetTensorDescType(od), ACL_FLOAT);
  EXPECT_EQ(aclGetTensorDescFormat(od), ACL_FORMAT_ND);
  // A second run updates the same description in place.
  x[0] = 100.f;
  ASSERT_ACL_OK(aclmdlExecute(add_id_, in, out));
  EXPECT_FLOAT_EQ(y[0], 100.f + kW[0]);
  EXPECT_EQ(aclmdlGetDatasetTensorDesc(out, 0), od);
  EXPECT_EQ(aclGetTensorDescNumDims(od), 2u);
}

TEST_F(AclModel, DynamicInputTakesDimsFromTheDesc) {
  aclmdlDesc* d = aclmdlCreateDesc();
  ASSERT_ACL_OK(aclmdlGetDesc(d, dyn_id_));
  lw::test::clear_error_text();
  EXPECT_EQ(aclmdlGetInputSizeByIndex(d, 0), 0u);  // dynamic: 0 without an error
  EXPECT_STREQ(aclGetRecentErrMsg(), "");
  aclmdlIODims dims;
  ASSERT_ACL_OK(aclmdlGetInputDims(d, 0, &dims));
  ASSERT_EQ(dims.dimCount, 2u);
  EXPECT_EQ(dims.dims[0], -1);
  EXPECT_EQ(dims.dims[1], 3);

  std::vector<float> x = {-1, 2, -3, 4, -5, 6, -7, 8, -9, 10, -11, 12};
  std::vector<float> y(12, -99.f);
  Io io;
  aclmdlDataset* in = io.dataset({{x.data(), x.size() * 4}});
  aclmdlDataset* out = io.dataset({{y.data(), y.size() * 4}});
  set_dims(in, 0, {4, 3});
  ASSERT_ACL_OK(aclmdlExecute(dyn_id_, in, out));
  for (size_t i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(y[i], x[i] > 0 ? x[i] : 0.f) << i;
  EXPECT_EQ(desc_dims(aclmdlGetDatasetTensorDesc(out, 0)), (std::vector<int64_t>{4, 3}));
  ASSERT_ACL_OK(aclmdlGetCurOutputDims(d, 0, &dims));
  ASSERT_EQ(dims.dimCount, 2u);
  EXPECT_EQ(dims.dims[0], 4);
  ASSERT_ACL_OK(aclmdlGetOutputDims(d, 0, &dims));
  EXPECT_EQ(dims.dims[0], -1);

  // A smaller batch through the same datasets: the output desc follows.
  set_dims(in, 0, {1, 3});
  ASSERT_ACL_OK(aclmdlExecute(dyn_id_, in, out));
  EXPECT_EQ(desc_dims(aclmdlGetDatasetTensorDesc(out, 0)), (std::vector<int64_t>{1, 3}));
  ASSERT_ACL_OK(aclmdlGetCurOutputDims(d, 0, &dims));
  EXPECT_EQ(dims.dims[0], 1);
  aclmdlDestroyDesc(d);
}

TEST_F(AclModel, ExecuteRejectsBadArguments) {
  std::vector<float> x = kX, y(6), small(5);
  Io io;
  aclmdlDataset* in = io.dataset({{x.data(), 24}});
  aclmdlDataset* out = io.dataset({{y.data(), 24}});
  aclmdlDataset* empty = io.dataset({});
  EXPECT_ACL_FAIL(aclmdlExecute(add_id_, nullptr, out), ACL_ERROR_INVALID_PARAM, "aclmdlExecute");
  EXPECT_ACL_FAIL(aclmdlExecute(add_id_, in, nullptr), ACL_ERROR_INVALID_PARAM, "aclmdlExecute");
  EXPECT_ACL_FAIL(aclmdlExecute(999999, in, out), ACL_ERROR_INVALID_MODEL_ID, "aclmdlExecute");
  EXPECT_ACL_FAIL(aclmdlExecute(add_id_, empty, out), ACL_ERROR_MODEL_INPUT_NOT_MATCH, "aclmdlExecute");
  EXPECT_ACL_FAIL(aclmdlExecute(add_id_, in, empty), ACL_ERROR_MODEL_OUTPUT_NOT_MATCH, "aclmdlExecute");
  aclmdlDataset* short_in = io.dataset({{x.data(), 20}});
  EXPECT_ACL_FAIL(aclmdlExecute(add_id_, short_in, out), ACL_ERROR_MODEL_INPUT_NOT_MATCH, "aclmdlExecute");
  aclmdlDataset* short_out = io.dataset({{small.data(), 20}});
  EXPECT_ACL_FAIL(aclmdlExecute(add_id_, in, short_out), ACL_ERROR_MODEL_OUTPUT_NOT_MATCH, "aclmdlExecute");

  // Foreign and destroyed datasets, and a buffer destroyed after it was added.
  int junk = 0;
  EXPECT_ACL_FAIL(aclmdlExecute(add_id_, reinterpret_cast<aclmdlDataset*>(&junk), out), ACL_ERROR_INVALID_PARAM,
                  "aclmdlExecute");
  aclmdlDataset* dead = aclmdlCreateDataset();
  ASSERT_ACL_OK(aclmdlDestroyDataset(dead));
  EXPECT_ACL_FAIL(aclmdlExecute(add_id_, in, dead), ACL_ERROR_INVALID_PARAM, "aclmdlExecute");
  aclmdlDataset* orphan = aclmdlCreateDataset();
  aclDataBuffer* b = aclCreateDataBuffer(x.data(), 24);
  ASSERT_ACL_OK(aclmdlAddDatasetBuffer(orphan, b));
  ASSERT_ACL_OK(aclDestroyDataBuffer(b));
  EXPECT_ACL_FAIL(aclmdlExecute(add_id_, orphan, out), ACL_ERROR_INVALID_PARAM, "aclmdlExecute");
  ASSERT_ACL_OK(aclmdlDestroyDataset(orphan));

  // After unload the id is unknown.
  ASSERT_ACL_OK(aclmdlUnload(add_id_));
  EXPECT_ACL_FAIL(aclmdlExecute(add_id_, in, out), ACL_ERROR_INVALID_MODEL_ID, "aclmdlExecute");
  EXPECT_ACL_FAIL(aclmdlUnload(add_id_), ACL_ERROR_INVALID_MODEL_ID, "aclmdlUnload");
}

TEST_F(AclModel, LoadFromFileAndLoadErrors) {
  std::string path = lw::test::temp_path("add.om");
  ASSERT_TRUE(lw::write_file(path, add_bytes_).is_ok());
  uint32_t id = 0;
  ASSERT_ACL_OK(aclmdlLoadFromFile(path.c_str(), &id));
  EXPECT_NE(id, add_id_);
  std::vector<float> x = kX, y(6);
  Io io;
  ASSERT_ACL_OK(aclmdlExecute(id, io.dataset({{x.data(), 24}}), io.dataset({{y.data(), 24}})));
  EXPECT_FLOAT_EQ(y[5], x[5] + kW[5]);
  EXPECT_ACL_OK(aclmdlUnload(id));

  EXPECT_ACL_FAIL(aclmdlLoadFromFile(nullptr, &id), ACL_ERROR_INVALID_PARAM, "aclmdlLoadFromFile");
  EXPECT_ACL_FAIL(aclmdlLoadFromFile(path.c_str(), nullptr), ACL_ERROR_INVALID_PARAM, "aclmdlLoadFromFile");
  EXPECT_ACL_FAIL(aclmdlLoadFromFile("/nonexistent/model.om", &id), ACL_ERROR_INVALID_FILE, "aclmdlLoadFromFile");
  EXPECT_ACL_FAIL(aclmdlLoadFromMem(nullptr, 10, &id), ACL_ERROR_INVALID_PARAM, "aclmdlLoadFromMem");
  EXPECT_ACL_FAIL(aclmdlLoadFromMem(add_bytes_.data(), 0, &id), ACL_ERROR_INVALID_PARAM, "aclmdlLoadFromMem");
  EXPECT_ACL_FAIL(aclmdlLoadFromMem(add_bytes_.data(), add_bytes_.size(), nullptr), ACL_ERROR_INVALID_PARAM,
                  "aclmdlLoadFromMem");
  const char junk[] = "definitely not a model file";
  EXPECT_ACL_FAIL(aclmdlLoadFromMem(junk, sizeof junk, &id), ACL_ERROR_INVALID_FILE, "aclmdlLoadFromMem");
  std::vector<uint8_t> truncated(add_bytes_.begin(), add_bytes_.begin() + add_bytes_.size() / 2);
  EXPECT_ACL_FAIL(aclmdlLoadFromMem(truncated.data(), truncated.size(), &id), ACL_ERROR_PARSE_MODEL, "aclmdlLoadFromMem");
  // A plain model is not a bundle.
  EXPECT_ACL_FAIL(aclmdlBundleLoadFromMem(add_bytes_.data(), add_bytes_.size(), &id), ACL_ERROR_INVALID_PARAM,
                  "aclmdlBundleLoadFromMem");
  EXPECT_ACL_FAIL(aclmdlBundleLoadFromFile(path.c_str(), &id), ACL_ERROR_INVALID_PARAM, "aclmdlBundleLoadFromFile");
  std::remove(path.c_str());
}

class AclBundle : public AclModel {
 protected:
  void SetUp() override {
    AclModel::SetUp();
    auto conv = lw::convert_to_weight_refreshable(add_graph(), {"W"});
    ASSERT_TRUE(conv.is_ok()) << conv.status().message();
    bundle_bytes_ = must(lw::build_bundle({conv->infer, conv->init, conv->update}));
    ASSERT_FALSE(bundle_bytes_.empty());
    ASSERT_ACL_OK(aclmdlBundleLoadFromMem(bundle_bytes_.data(), bundle_bytes_.size(), &bundle_id_));
  }
  std::vector<uint8_t> bundle_bytes_;
  uint32_t bundle_id_ = 0;
};

TEST_F(AclBundle, InitInferUpdateInfer) {
  size_t n = 0;
  ASSERT_ACL_OK(aclmdlBundleGetModelNum(bundle_id_, &n));
  ASSERT_EQ(n, 3u);
  uint32_t infer = 0, init = 0, update = 0;
  ASSERT_ACL_OK(aclmdlBundleGetModelId(bundle_id_, 0, &infer));
  ASSERT_ACL_OK(aclmdlBundleGetModelId(bundle_id_, 1, &init));
  ASSERT_ACL_OK(aclmdlBundleGetModelId(bundle_id_, 2, &update));
  EXPECT_NE(infer, init);
  EXPECT_NE(init, update);

  Io io;
  ASSERT_ACL_OK(aclmdlExecute(init, io.dataset({}), io.dataset({})));  // no inputs, no outputs
  std::vector<float> x = kX, y(6);
  aclmdlDataset* in = io.dataset({{x.data(), 24}});
  aclmdlDataset* out = io.dataset({{y.data(), 24}});
  ASSERT_ACL_OK(aclmdlExecute(infer, in, out));
  for (size_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[i], x[i] + kW[i]) << i;

  // Refresh W through the update graph, then infer again.
  aclmdlDesc* ud = aclmdlCreateDesc();
  ASSERT_ACL_OK(aclmdlGetDesc(ud, update));
  ASSERT_EQ(aclmdlGetNumInputs(ud), 1u);
  EXPECT_STREQ(aclmdlGetInputNameByIndex(ud, 0), "W_var_data");
  aclmdlDestroyDesc(ud);
  std::vector<float> w2 = {10, 20, 30, 40, 50, 60};
  aclmdlDataset* upd = io.dataset({{w2.data(), 24}});
  set_dims(upd, 0, {2, 3});
  ASSERT_ACL_OK(aclmdlExecute(update, upd, io.dataset({})));
  ASSERT_ACL_OK(aclmdlExecute(infer, in, out));
  for (size_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[i], x[i] + w2[i]) << i;

  // Dims [0] leave the weight as it is (the buffer must still be valid).
  std::vector<float> junk = {-1000, -1000, -1000, -1000, -1000, -1000};
  aclmdlDataset* skip = io.dataset({{junk.data(), 24}});
  set_dims(skip, 0, {0});
  ASSERT_ACL_OK(aclmdlExecute(update, skip, io.dataset({})));
  ASSERT_ACL_OK(aclmdlExecute(infer, in, out));
  for (size_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[i], x[i] + w2[i]) << i;

  // Wrong dims are refused and change nothing.
  aclmdlDataset* wrong = io.dataset({{junk.data(), 24}});
  set_dims(wrong, 0, {3, 2});
  aclError err = aclmdlExecute(update, wrong, io.dataset({}));
  EXPECT_NE(err, ACL_SUCCESS);
  EXPECT_TRUE(lw::test::error_text_named("aclmdlExecute"));
  ASSERT_ACL_OK(aclmdlExecute(infer, in, out));
  for (size_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[i], x[i] + w2[i]) << i;
}

TEST_F(AclBundle, BundleErrors) {
  size_t n = 0;
  uint32_t id = 0;
  EXPECT_ACL_FAIL(aclmdlBundleGetModelNum(bundle_id_, nullptr), ACL_ERROR_INVALID_PARAM, "aclmdlBundleGetModelNum");
  EXPECT_ACL_FAIL(aclmdlBundleGetModelNum(999999, &n), ACL_ERROR_INVALID_BUNDLE_MODEL_ID, "aclmdlBundleGetModelNum");
  EXPECT_ACL_FAIL(aclmdlBundleGetModelNum(add_id_, &n), ACL_ERROR_INVALID_BUNDLE_MODEL_ID, "aclmdlBundleGetModelNum");
  EXPECT_ACL_FAIL(aclmdlBundleGetModelId(bundle_id_, 0, nullptr), ACL_ERROR_INVALID_PARAM, "aclmdlBundleGetModelId");
  EXPECT_ACL_FAIL(aclmdlBundleGetModelId(bundle_id_, 3, &id), ACL_ERROR_INVALID_PARAM, "aclmdlBundleGetModelId");
  EXPECT_ACL_FAIL(aclmdlBundleGetModelId(999999, 0, &id), ACL_ERROR_INVALID_BUNDLE_MODEL_ID, "aclmdlBundleGetModelId");
  EXPECT_ACL_FAIL(aclmdlBundleLoadFromMem(nullptr, 4, &id), ACL_ERROR_INVALID_PARAM, "aclmdlBundleLoadFromMem");
  EXPECT_ACL_FAIL(aclmdlBundleLoadFromMem(bundle_bytes_.data(), 0, &id), ACL_ERROR_INVALID_PARAM, "aclmdlBundleLoadFromMem");
  EXPECT_ACL_FAIL(aclmdlBundleLoadFromMem(bundle_bytes_.data(), bundle_bytes_.size(), nullptr), ACL_ERROR_INVALID_PARAM,
                  "aclmdlBundleLoadFromMem");
  EXPECT_ACL_FAIL(aclmdlBundleLoadFromFile(nullptr, &id), ACL_ERROR_INVALID_PARAM, "aclmdlBundleLoadFromFile");
  EXPECT_ACL_FAIL(aclmdlBundleLoadFromFile("/nonexistent.om", nullptr), ACL_ERROR_INVALID_PARAM, "aclmdlBundleLoadFromFile");
  EXPECT_ACL_FAIL(aclmdlBundleLoadFromFile("/nonexistent.om", &id), ACL_ERROR_INVALID_FILE, "aclmdlBundleLoadFromFile");
  // A bundle is not a plain model.
  EXPECT_ACL_FAIL(aclmdlLoadFromMem(bundle_bytes_.data(), bundle_bytes_.size(), &id), ACL_ERROR_INVALID_PARAM,
                  "aclmdlLoadFromMem");
  // A bundle member cannot be unloaded alone; plain models are not bundles.
  uint32_t infer = 0;
  ASSERT_ACL_OK(aclmdlBundleGetModelId(bundle_id_, 0, &infer));
  EXPECT_ACL_FAIL(aclmdlUnload(infer), ACL_ERROR_INVALID_PARAM, "aclmdlUnload");
  EXPECT_ACL_FAIL(aclmdlBundleUnload(add_id_), ACL_ERROR_INVALID_BUNDLE_MODEL_ID, "aclmdlBundleUnload");
  EXPECT_ACL_FAIL(aclmdlBundleUnload(999999), ACL_ERROR_INVALID_BUNDLE_MODEL_ID, "aclmdlBundleUnload");

  ASSERT_ACL_OK(aclmdlBundleUnload(bundle_id_));
  EXPECT_ACL_FAIL(aclmdlBundleUnload(bundle_id_), ACL_ERROR_INVALID_BUNDLE_MODEL_ID, "aclmdlBundleUnload");
  EXPECT_ACL_FAIL(aclmdlBundleGetModelNum(bundle_id_, &n), ACL_ERROR_INVALID_BUNDLE_MODEL_ID, "aclmdlBundleGetModelNum");
  Io io;
  std::vector<float> x = kX, y(6);
  EXPECT_ACL_FAIL(aclmdlExecute(infer, io.dataset({{x.data(), 24}}), io.dataset({{y.data(), 24}})),
                  ACL_ERROR_INVALID_MODEL_ID, "aclmdlExecute");
}

TEST_F(AclBundle, UnloadAcceptsABundleIdAndFileLoadWorks) {
  ASSERT_ACL_OK(aclmdlUnload(bundle_id_));  // the pyACL guide's step 9
  size_t n = 0;
  EXPECT_ACL_FAIL(aclmdlBundleGetModelNum(bundle_id_, &n), ACL_ERROR_INVALID_BUNDLE_MODEL_ID, "aclmdlBundleGetModelNum");
  std::string path = lw::test::temp_path("bundle.om");
  ASSERT_TRUE(lw::write_file(path, bundle_bytes_).is_ok());
  uint32_t id = 0;
  ASSERT_ACL_OK(aclmdlBundleLoadFromFile(path.c_str(), &id));
  ASSERT_ACL_OK(aclmdlBundleGetModelNum(id, &n));
  EXPECT_EQ(n, 3u);
  EXPECT_ACL_FAIL(aclmdlLoadFromFile(path.c_str(), &id), ACL_ERROR_INVALID_PARAM, "aclmdlLoadFromFile");
  EXPECT_ACL_OK(aclmdlBundleUnload(id));
  std::remove(path.c_str());
}

}  // namespace
