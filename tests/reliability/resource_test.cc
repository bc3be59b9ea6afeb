// Resource behaviour over long runs and against hostile sizes: load/unload cycles and updates
// with resident memory flat, every kind of handle refused after release, bundles claiming
// absurd sizes refused before anything of that size is allocated, and aclrtMalloc beyond the
// machine refused with ACL_ERROR_BAD_ALLOC.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "acl/acl.h"
#include "api/acl_test_util.h"
#include "core/fault_injection.h"
#include "format/bundle_header.h"
#include "format/bundle_io.h"
#include "liveweight/build.h"
#include "liveweight/graph.h"
#include "reliability/reliability_util.h"

namespace lw::test {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

class Resources : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    (void)aclInit(nullptr);
    clear_error_text();
  }
  void SetUp() override {
    ASSERT_FALSE(small_model().bundle.empty());
    ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS);
  }
  void TearDown() override { (void)aclrtResetDevice(0); }
};

TEST_F(Resources, TenThousandLoadUnloadCyclesKeepMemoryFlat) {
  const auto& m = small_model();
  auto cycle = [&] {
    BundleIds ids;
    ASSERT_EQ(load_small_bundle(&ids), ACL_SUCCESS) << aclGetRecentErrMsg();
    ASSERT_EQ(aclmdlBundleUnload(ids.bundle), ACL_SUCCESS) << aclGetRecentErrMsg();
  };
  for (int i = 0; i < 200; ++i) ASSERT_NO_FATAL_FAILURE(cycle());  // warm the allocator's pools
  size_t before = resident_bytes();
  for (int i = 0; i < 10000; ++i) ASSERT_NO_FATAL_FAILURE(cycle());
  size_t after = resident_bytes();
  std::printf("[resource] 10000 bundle load/unload cycles (%zu-byte bundle): resident %zu -> %zu KiB\n",
              m.bundle.size(), before / 1024, after / 1024);
  if (!sanitizer_build()) {
    EXPECT_LT(after, before + 4 * kMiB) << "resident memory grew by " << (after - before) / 1024 << " KiB";
  }
  // The model still loads and computes afterwards.
  BundleIds ids;
  ASSERT_EQ(load_small_bundle(&ids), ACL_SUCCESS);
  IoSet io;
  ASSERT_EQ(aclmdlExecute(ids.init, io.dataset({}), io.dataset({})), ACL_SUCCESS) << aclGetRecentErrMsg();
  std::vector<float> x = {1, 2, 3, 4}, y;
  ASSERT_EQ(infer(ids.infer, x, &y), ACL_SUCCESS) << aclGetRecentErrMsg();
  std::vector<float> want = reference(x, m.w, m.b);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(y[i], want[i], 1e-5f);
  ASSERT_EQ(aclmdlBundleUnload(ids.bundle), ACL_SUCCESS);
}

TEST_F(Resources, HundredThousandUpdatesKeepMemoryFlat) {
  BundleIds ids;
  ASSERT_EQ(load_small_bundle(&ids), ACL_SUCCESS) << aclGetRecentErrMsg();
  std::vector<float> w(12), b(3);
  // One pair of datasets reused for every update, as a serving loop would.
  IoSet io;
  aclmdlDataset* in = io.dataset({{w.data(), 48}, {b.data(), 12}}, {{4, 3}, {3}});
  aclmdlDataset* out = io.dataset({});
  ASSERT_NE(in, nullptr);
  auto run = [&](int i) {
    for (size_t j = 0; j < 12; ++j) w[j] = static_cast<float>((i + static_cast<int>(j)) % 7) - 3.f;
    for (size_t j = 0; j < 3; ++j) b[j] = static_cast<float>(i % 5) * 0.25f;
    ASSERT_EQ(aclmdlExecute(ids.update, in, out), ACL_SUCCESS) << aclGetRecentErrMsg();
  };
  for (int i = 0; i < 1000; ++i) ASSERT_NO_FATAL_FAILURE(run(i));
  size_t before = resident_bytes();
  const int kUpdates = 100000;
  for (int i = 0; i < kUpdates; ++i) ASSERT_NO_FATAL_FAILURE(run(i));
  size_t after = resident_bytes();
  std::printf("[resource] %d updates: resident %zu -> %zu KiB\n", kUpdates, before / 1024, after / 1024);
  if (!sanitizer_build()) {
    EXPECT_LT(after, before + 4 * kMiB) << "resident memory grew by " << (after - before) / 1024 << " KiB";
  }
  // The last update is what the model computes with.
  std::vector<float> x = {0.5f, -1.f, 2.f, 1.f}, y;
  ASSERT_EQ(infer(ids.infer, x, &y), ACL_SUCCESS) << aclGetRecentErrMsg();
  std::vector<float> want = reference(x, w, b);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(y[i], want[i], 1e-5f) << i;
  ASSERT_EQ(aclmdlBundleUnload(ids.bundle), ACL_SUCCESS);
}

TEST_F(Resources, EveryHandleKindIsRefusedAfterRelease) {
  const auto& m = small_model();
  // Data buffer.
  float block[4] = {};
  aclDataBuffer* buffer = aclCreateDataBuffer(block, sizeof block);
  ASSERT_NE(buffer, nullptr);
  ASSERT_EQ(aclDestroyDataBuffer(buffer), ACL_SUCCESS);
  EXPECT_ACL_FAIL(aclDestroyDataBuffer(buffer), ACL_ERROR_INVALID_PARAM, "aclDestroyDataBuffer");
  EXPECT_ACL_FAIL(aclUpdateDataBuffer(buffer, block, 4), ACL_ERROR_INVALID_PARAM, "aclUpdateDataBuffer");
  EXPECT_EQ(aclGetDataBufferAddr(buffer), nullptr);
  EXPECT_EQ(aclGetDataBufferSizeV2(buffer), 0u);
  clear_error_text();
  // Tensor desc: destroying twice must not crash; getters give their fallbacks.
  int64_t dims[2] = {2, 2};
  aclTensorDesc* desc = aclCreateTensorDesc(ACL_FLOAT, 2, dims, ACL_FORMAT_ND);
  ASSERT_NE(desc, nullptr);
  aclDestroyTensorDesc(desc);
  aclDestroyTensorDesc(desc);
  EXPECT_TRUE(error_text_named("aclDestroyTensorDesc"));
  EXPECT_GETTER_FAIL(aclGetTensorDescType(desc), ACL_DT_UNDEFINED, "aclGetTensorDescType");
  EXPECT_EQ(aclGetTensorDescNumDims(desc), 0u);
  clear_error_text();
  // Dataset, with a destroyed buffer still listed.
  aclmdlDataset* ds = aclmdlCreateDataset();
  aclDataBuffer* listed = aclCreateDataBuffer(block, sizeof block);
  ASSERT_EQ(aclmdlAddDatasetBuffer(ds, listed), ACL_SUCCESS);
  ASSERT_EQ(aclDestroyDataBuffer(listed), ACL_SUCCESS);
  EXPECT_EQ(aclmdlGetDatasetNumBuffers(ds), 1u);
  ASSERT_EQ(aclmdlDestroyDataset(ds), ACL_SUCCESS);
  EXPECT_ACL_FAIL(aclmdlDestroyDataset(ds), ACL_ERROR_INVALID_PARAM, "aclmdlDestroyDataset");
  aclDataBuffer* other = aclCreateDataBuffer(block, sizeof block);
  EXPECT_ACL_FAIL(aclmdlAddDatasetBuffer(ds, other), ACL_ERROR_INVALID_PARAM, "aclmdlAddDatasetBuffer");
  EXPECT_EQ(aclmdlGetDatasetBuffer(ds, 0), nullptr);
  EXPECT_EQ(aclmdlGetDatasetNumBuffers(ds), 0u);
  clear_error_text();
  // Bundle, its models, a model desc filled from it, and a plain model.
  BundleIds ids;
  ASSERT_EQ(load_small_bundle(&ids), ACL_SUCCESS);
  aclmdlDesc* mdesc = aclmdlCreateDesc();
  ASSERT_EQ(aclmdlGetDesc(mdesc, ids.infer), ACL_SUCCESS);
  ASSERT_EQ(aclmdlBundleUnload(ids.bundle), ACL_SUCCESS);
  EXPECT_ACL_FAIL(aclmdlBundleUnload(ids.bundle), ACL_ERROR_INVALID_BUNDLE_MODEL_ID, "aclmdlBundleUnload");
  size_t n = 0;
  EXPECT_ACL_FAIL(aclmdlBundleGetModelNum(ids.bundle, &n), ACL_ERROR_INVALID_BUNDLE_MODEL_ID, "aclmdlBundleGetModelNum");
  IoSet io;
  std::vector<float> x(4), y(3);
  aclmdlDataset* in = io.dataset({{x.data(), 16}});
  aclmdlDataset* out = io.dataset({{y.data(), 12}});
  for (uint32_t model : {ids.infer, ids.init, ids.update}) {
    EXPECT_ACL_FAIL(aclmdlExecute(model, in, out), ACL_ERROR_INVALID_MODEL_ID, "aclmdlExecute");
    EXPECT_ACL_FAIL(aclmdlUnload(model), ACL_ERROR_INVALID_MODEL_ID, "aclmdlUnload");
    EXPECT_ACL_FAIL(aclmdlGetDesc(mdesc, model), ACL_ERROR_INVALID_MODEL_ID, "aclmdlGetDesc");
  }
  // The desc outlives its model: it is a copy.
  EXPECT_EQ(aclmdlGetNumInputs(mdesc), 1u);
  ASSERT_EQ(aclmdlDestroyDesc(mdesc), ACL_SUCCESS);
  EXPECT_ACL_FAIL(aclmdlDestroyDesc(mdesc), ACL_ERROR_INVALID_PARAM, "aclmdlDestroyDesc");
  EXPECT_EQ(aclmdlGetNumInputs(mdesc), 0u);
  clear_error_text();
  uint32_t plain = 0;
  ASSERT_EQ(aclmdlLoadFromMem(m.plain.data(), m.plain.size(), &plain), ACL_SUCCESS);
  ASSERT_EQ(aclmdlUnload(plain), ACL_SUCCESS);
  EXPECT_ACL_FAIL(aclmdlUnload(plain), ACL_ERROR_INVALID_MODEL_ID, "aclmdlUnload");
  EXPECT_ACL_FAIL(aclmdlExecute(plain, in, out), ACL_ERROR_INVALID_MODEL_ID, "aclmdlExecute");
  // Stream.
  aclrtStream stream = nullptr;
  ASSERT_EQ(aclrtCreateStream(&stream), ACL_SUCCESS);
  ASSERT_EQ(aclrtDestroyStream(stream), ACL_SUCCESS);
  EXPECT_ACL_FAIL(aclrtDestroyStream(stream), ACL_ERROR_INVALID_PARAM, "aclrtDestroyStream");
  EXPECT_ACL_FAIL(aclrtSynchronizeStream(stream), ACL_ERROR_INVALID_PARAM, "aclrtSynchronizeStream");
  // Context.
  aclrtContext ctx = nullptr;
  ASSERT_EQ(aclrtCreateContext(&ctx, 0), ACL_SUCCESS);
  ASSERT_EQ(aclrtDestroyContext(ctx), ACL_SUCCESS);
  EXPECT_ACL_FAIL(aclrtDestroyContext(ctx), ACL_ERROR_INVALID_PARAM, "aclrtDestroyContext");
  EXPECT_ACL_FAIL(aclrtSetCurrentContext(ctx), ACL_ERROR_INVALID_PARAM, "aclrtSetCurrentContext");
  ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS);  // a current context again for what follows
  (void)aclrtResetDevice(0);
  // Device and host memory.
  void* dev = nullptr;
  ASSERT_EQ(aclrtMalloc(&dev, 256, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  ASSERT_EQ(aclrtFree(dev), ACL_SUCCESS);
  EXPECT_ACL_FAIL(aclrtFree(dev), ACL_ERROR_INVALID_PARAM, "aclrtFree");
  void* host = nullptr;
  ASSERT_EQ(aclrtMallocHost(&host, 256), ACL_SUCCESS);
  ASSERT_EQ(aclrtFreeHost(host), ACL_SUCCESS);
  EXPECT_ACL_FAIL(aclrtFreeHost(host), ACL_ERROR_INVALID_PARAM, "aclrtFreeHost");
  (void)aclDestroyDataBuffer(other);
}

TEST_F(Resources, AclrtMallocBeyondTheMachineIsBadAlloc) {
  void* p = reinterpret_cast<void*>(0x1);
  for (size_t size : {size_t{1} << 50, SIZE_MAX - 4096, SIZE_MAX}) {
    EXPECT_ACL_FAIL(aclrtMalloc(&p, size, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_BAD_ALLOC, "aclrtMalloc");
    EXPECT_ACL_FAIL(aclrtMallocHost(&p, size), ACL_ERROR_BAD_ALLOC, "aclrtMallocHost");
  }
  EXPECT_EQ(p, reinterpret_cast<void*>(0x1)) << "the out pointer must stay untouched on failure";
}

// ---- bundles claiming absurd sizes ----

// Replaces every little-endian int64 `from` in bytes[begin, end) with `to`; returns the count.
size_t patch_i64(std::vector<uint8_t>& bytes, size_t begin, size_t end, int64_t from, int64_t to) {
  size_t n = 0;
  for (size_t i = begin; i + 8 <= end; ++i) {
    int64_t v;
    std::memcpy(&v, bytes.data() + i, 8);
    if (v == from) {
      std::memcpy(bytes.data() + i, &to, 8);
      ++n;
      i += 7;
    }
  }
  return n;
}

uint64_t header_u64(const std::vector<uint8_t>& bytes, size_t offset) {
  uint64_t v;
  std::memcpy(&v, bytes.data() + offset, 8);
  return v;
}

void set_header_u64(std::vector<uint8_t>& bytes, size_t offset, uint64_t v) {
  std::memcpy(bytes.data() + offset, &v, 8);
  uint32_t crc = format::header_crc(bytes.data());
  std::memcpy(bytes.data() + format::kHeaderCrcOffset, &crc, 4);
}

// A bundle whose weight W has the distinctive dims [3, 4099] and input x [-1, 3].
std::vector<uint8_t> bundle_with_marked_dims() {
  std::vector<float> w(3 * 4099, 0.5f);
  Graph g("marked");
  Tensor x = g.add_input("x", DType::kFloat32, {-1, 3});
  Tensor wt = g.add_constant("W", DType::kFloat32, {3, 4099}, w.data(), w.size() * sizeof(float));
  Tensor y = g.add_op("MatMul", {x, wt}, {}, 1, "mm")[0];
  g.set_outputs({y});
  auto conv = convert_to_weight_refreshable(g, {"W"});
  EXPECT_TRUE(conv.is_ok());
  if (!conv.is_ok()) return {};
  auto bytes = build_bundle({conv->infer, conv->update});  // no init graph: no W data to size-check
  EXPECT_TRUE(bytes.is_ok());
  return bytes.is_ok() ? std::move(bytes).value() : std::vector<uint8_t>{};
}

// Loads `bytes` with the size watch on; the load must fail with a text and nothing of more
// than `limit` bytes may have been asked for.
void expect_refused_without_big_allocation(const std::vector<uint8_t>& bytes, const char* what, size_t limit = 64 * kMiB) {
  uint32_t id = 0;
  clear_error_text();
  fault::watch_allocation_sizes(true);
  aclError err = aclmdlBundleLoadFromMem(bytes.data(), bytes.size(), &id);
  fault::watch_allocation_sizes(false);
  size_t largest = fault::largest_watched_allocation();
  std::string text = aclGetRecentErrMsg();
  EXPECT_NE(err, ACL_SUCCESS) << what;
  if (err == ACL_SUCCESS) (void)aclmdlBundleUnload(id);
  EXPECT_FALSE(text.empty()) << what;
  EXPECT_LE(largest, limit) << what << ": asked for " << largest << " bytes before refusing (" << text << ")";
  std::printf("[limits] %s: code %d, largest allocation %zu bytes: %s\n", what, err, largest, text.c_str());
}

TEST_F(Resources, BundlesClaimingAbsurdSizesAreRefusedBeforeAllocating) {
  const std::vector<uint8_t> base = bundle_with_marked_dims();
  ASSERT_FALSE(base.empty());
  {  // The unpatched bundle loads (so the refusals below are the patches' doing).
    uint32_t id = 0;
    ASSERT_EQ(aclmdlBundleLoadFromMem(base.data(), base.size(), &id), ACL_SUCCESS) << aclGetRecentErrMsg();
    ASSERT_EQ(aclmdlBundleUnload(id), ACL_SUCCESS);
  }
  const size_t program_begin = header_u64(base, format::kHeaderProgramOffset);
  const size_t program_end = program_begin + header_u64(base, format::kHeaderProgramSizeOffset);
  ASSERT_LE(program_end, base.size());

  const int64_t huge_dims[] = {int64_t{1} << 40, int64_t{1} << 62, INT64_MAX, -7};
  for (int64_t huge : huge_dims) {
    std::vector<uint8_t> b = base;
    ASSERT_GT(patch_i64(b, program_begin, program_end, 4099, huge), 0u);
    expect_refused_without_big_allocation(b, ("weight dim 4099 -> " + std::to_string(huge)).c_str());
  }
  {  // Header: program or data area past the end of the file, total size absurd.
    struct Field {
      size_t offset;
      uint64_t value;
      const char* what;
    } fields[] = {
        {format::kHeaderProgramSizeOffset, uint64_t{1} << 60, "program size 2^60"},
        {format::kHeaderProgramOffset, UINT64_MAX - 63, "program offset near 2^64"},
        {format::kHeaderDataSizeOffset, uint64_t{1} << 50, "data size 2^50"},
        {format::kHeaderDataOffset, UINT64_MAX - 63, "data offset near 2^64"},
        {format::kHeaderFileSizeOffset, uint64_t{1} << 55, "file size 2^55"},
    };
    for (const Field& f : fields) {
      std::vector<uint8_t> b = base;
      set_header_u64(b, f.offset, f.value);
      expect_refused_without_big_allocation(b, f.what, b.size() + kMiB);
    }
  }
}

}  // namespace
}  // namespace lw::test
