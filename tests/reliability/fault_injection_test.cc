// Allocation-failure sweeps through the C API: for every k, the k-th allocation (operator new in
// this binary, lw::alloc_aligned in the library, on any thread) of a load, an init, an update,
// an inference and a stream inference of the small model fails. Each attempt must return an
// error with a text (not crash, not succeed silently), and afterwards the bundle must still
// work with the right numbers (or, for a failed load, a new load must work) and unload. Leaks
// are LeakSanitizer's job in the ASan run (scripts/sanitize.sh asan).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <map>
#include <string>

#include "acl/acl.h"
#include "core/fault_injection.h"
#include "reliability/reliability_util.h"

namespace lw::test {
namespace {

const std::vector<float> kX = {1.f, -2.f, 0.5f, 3.f, -1.f, 0.25f, 2.f, -0.5f};  // [2,4]
const std::vector<float> kW2 = {1.f, 0.f, -1.f, 2.f, 0.5f, 0.f, -0.25f, 1.f, 3.f, 0.f, -2.f, 1.f};
const std::vector<float> kB2 = {-0.5f, 0.25f, 1.f};

bool near(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::abs(a[i] - b[i]) > 1e-5f * (1.f + std::abs(b[i]))) return false;
  return true;
}

class FaultInjection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    (void)aclInit(nullptr);
    (void)aclGetRecentErrMsg();
  }
  void SetUp() override {
    ASSERT_FALSE(small_model().bundle.empty());
    ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS);
  }
  void TearDown() override {
    (void)fault::disarm_allocation_failure();
    (void)aclrtResetDevice(0);
  }

  struct Summary {
    uint64_t points = 0;                 // allocations the successful run made (= k values swept)
    std::map<aclError, uint64_t> codes;  // the codes the failed attempts returned
    uint64_t without_text = 0;           // failures whose failed allocation was the error text itself
    uint64_t absorbed = 0;               // failed allocations after which the call still succeeded
  };

  // For k = 1, 2, ...: prepare() (not armed), then op() with the k-th allocation failing, then
  // after(failed) (not armed). Stops when op() completes without reaching the k-th allocation.
  Summary sweep(const std::string& what, const std::function<void()>& prepare,
                const std::function<aclError()>& op, const std::function<void(bool failed)>& after) {
    Summary s;
    for (uint64_t k = 1; k < 200000; ++k) {
      prepare();
      if (HasFatalFailure()) return s;
      (void)aclGetRecentErrMsg();
      fault::arm_allocation_failure(k, fault::Scope::kAllThreads);
      aclError err = op();
      uint64_t counted = fault::disarm_allocation_failure();
      bool fired = fault::allocation_failure_fired();
      std::string text = aclGetRecentErrMsg();
      if (!fired) {
        EXPECT_EQ(err, ACL_SUCCESS) << what << ": the run without a failure failed: " << text;
        s.points = counted;
        after(false);
        return s;
      }
      // A failure the call absorbed (the allocation was for something it can do without, such as
      // an error-context string) is allowed when the result is right: after(false) checks it.
      if (err == ACL_SUCCESS) ++s.absorbed;
      // The one allocation that cannot be reported is the error text's own: fail() then keeps the
      // previous (here: empty) text. Counted, and it must stay rare.
      if (err != ACL_SUCCESS && text.empty()) ++s.without_text;
      if (err != ACL_SUCCESS) ++s.codes[err];
      after(err != ACL_SUCCESS);
      if (HasFatalFailure() || ::testing::Test::HasFailure()) {
        ADD_FAILURE() << what << ": stopped at allocation " << k << " (code " << err << ", text '" << text << "')";
        return s;
      }
    }
    ADD_FAILURE() << what << ": did not finish within 200000 allocations";
    return s;
  }

  static void report(const std::string& what, const Summary& s) {
    char codes[256] = "";
    size_t used = 0;
    for (auto [code, n] : s.codes) {
      if (used >= sizeof codes) break;
      int w = std::snprintf(codes + used, sizeof codes - used, " %d x%llu", code, static_cast<unsigned long long>(n));
      if (w > 0) used += static_cast<size_t>(w);
    }
    std::printf("[fault] %s: %llu allocation points swept; failed with codes:%s; absorbed (right result): %llu;"
                " failed without text: %llu\n", what.c_str(), static_cast<unsigned long long>(s.points), codes,
                static_cast<unsigned long long>(s.absorbed), static_cast<unsigned long long>(s.without_text));
    EXPECT_GT(s.points, 0u) << what;
    EXPECT_LE(s.without_text * 10, s.points) << what << ": too many failures without an error text";
  }

  // The bundle answers with `w`,`b` (checked against the reference) and unloads.
  static void expect_works_and_unload(const BundleIds& ids, const std::vector<float>& w, const std::vector<float>& b) {
    std::vector<float> y;
    ASSERT_EQ(infer(ids.infer, kX, &y), ACL_SUCCESS) << aclGetRecentErrMsg();
    EXPECT_TRUE(near(y, reference(kX, w, b)));
    ASSERT_EQ(aclmdlBundleUnload(ids.bundle), ACL_SUCCESS) << aclGetRecentErrMsg();
  }

  uint64_t published_then_failed_ = 0;

  static aclError run_empty(uint32_t model) {
    IoSet io;
    return aclmdlExecute(model, io.dataset({}), io.dataset({}));
  }
};

TEST_F(FaultInjection, BundleLoad) {
  const auto& m = small_model();
  BundleIds ids;
  Summary s = sweep(
      "bundle load", [] {},
      [&] { return aclmdlBundleLoadFromMem(m.bundle.data(), m.bundle.size(), &ids.bundle); },
      [&](bool failed) {
        if (failed) {
          // Nothing half-loaded stays behind: a fresh load works and unloads.
          BundleIds fresh;
          ASSERT_EQ(load_small_bundle(&fresh), ACL_SUCCESS) << aclGetRecentErrMsg();
          ASSERT_EQ(run_empty(fresh.init), ACL_SUCCESS) << aclGetRecentErrMsg();
          expect_works_and_unload(fresh, m.w, m.b);
        } else {
          ASSERT_EQ(aclmdlBundleUnload(ids.bundle), ACL_SUCCESS) << aclGetRecentErrMsg();
        }
      });
  report("aclmdlBundleLoadFromMem", s);
}

TEST_F(FaultInjection, PlainModelLoad) {
  const auto& m = small_model();
  uint32_t id = 0;
  Summary s = sweep(
      "plain model load", [] {}, [&] { return aclmdlLoadFromMem(m.plain.data(), m.plain.size(), &id); },
      [&](bool failed) {
        if (!failed) {
          std::vector<float> y;
          ASSERT_EQ(infer(id, kX, &y), ACL_SUCCESS) << aclGetRecentErrMsg();
          EXPECT_TRUE(near(y, reference(kX, m.w, m.b)));
          ASSERT_EQ(aclmdlUnload(id), ACL_SUCCESS);
        }
      });
  report("aclmdlLoadFromMem", s);
}

TEST_F(FaultInjection, Init) {
  const auto& m = small_model();
  BundleIds ids;
  std::unique_ptr<IoSet> io;
  aclmdlDataset *in = nullptr, *out = nullptr;
  Summary s = sweep(
      "init",
      [&] {
        ASSERT_EQ(load_small_bundle(&ids), ACL_SUCCESS) << aclGetRecentErrMsg();
        io = std::make_unique<IoSet>();
        in = io->dataset({});
        out = io->dataset({});
      },
      [&] { return aclmdlExecute(ids.init, in, out); },
      [&](bool failed) {
        io.reset();
        if (failed) {
          // Either never initialized (inference refuses: the weights were never written) or wholly
          // initialized (a failure after the weights were published, e.g. in the output-dims
          // bookkeeping); never a mix. Then the init must work when memory is back.
          std::vector<float> y;
          if (infer(ids.infer, kX, &y) == ACL_SUCCESS) {
            EXPECT_TRUE(near(y, reference(kX, m.w, m.b)));
          }
          (void)aclGetRecentErrMsg();
          ASSERT_EQ(run_empty(ids.init), ACL_SUCCESS) << aclGetRecentErrMsg();
        }
        expect_works_and_unload(ids, m.w, m.b);
      });
  report("aclmdlExecute(init)", s);
}

TEST_F(FaultInjection, Update) {
  const auto& m = small_model();
  BundleIds ids;
  std::unique_ptr<IoSet> io;
  std::vector<float> w = kW2, b = kB2;
  aclmdlDataset *in = nullptr, *out = nullptr;
  Summary s = sweep(
      "update",
      [&] {
        ASSERT_EQ(load_small_bundle(&ids), ACL_SUCCESS) << aclGetRecentErrMsg();
        ASSERT_EQ(run_empty(ids.init), ACL_SUCCESS) << aclGetRecentErrMsg();
        std::vector<float> y;
        ASSERT_EQ(infer(ids.infer, kX, &y), ACL_SUCCESS) << aclGetRecentErrMsg();
        io = std::make_unique<IoSet>();
        in = io->dataset({{w.data(), 48}, {b.data(), 12}}, {{4, 3}, {3}});
        out = io->dataset({});
      },
      [&] { return aclmdlExecute(ids.update, in, out); },
      [&](bool failed) {
        io.reset();
        // All or nothing: after a failed update the model computes with both old weights, or
        // (a failure after publishing, e.g. in the output-dims bookkeeping) both new ones.
        if (failed) {
          std::vector<float> y;
          ASSERT_EQ(infer(ids.infer, kX, &y), ACL_SUCCESS) << aclGetRecentErrMsg();
          bool old_weights = near(y, reference(kX, m.w, m.b));
          bool new_weights = near(y, reference(kX, kW2, kB2));
          EXPECT_TRUE(old_weights || new_weights) << "a failed update left a mix of old and new weights";
          if (new_weights) ++published_then_failed_;
          ASSERT_EQ(aclmdlBundleUnload(ids.bundle), ACL_SUCCESS) << aclGetRecentErrMsg();
        } else {
          expect_works_and_unload(ids, kW2, kB2);
        }
      });
  report("aclmdlExecute(update)", s);
  std::printf("[fault] update: %llu failures reported after the new weights were published\n",
              static_cast<unsigned long long>(published_then_failed_));
}

TEST_F(FaultInjection, InferenceWithANewShape) {
  const auto& m = small_model();
  BundleIds ids;
  std::unique_ptr<IoSet> io;
  std::vector<float> x = kX, y(6);
  aclmdlDataset *in = nullptr, *out = nullptr;
  Summary s = sweep(
      "inference",
      [&] {
        ASSERT_EQ(load_small_bundle(&ids), ACL_SUCCESS) << aclGetRecentErrMsg();
        ASSERT_EQ(run_empty(ids.init), ACL_SUCCESS) << aclGetRecentErrMsg();
        io = std::make_unique<IoSet>();
        in = io->dataset({{x.data(), 32}}, {{2, 4}});
        out = io->dataset({{y.data(), 24}});
      },
      [&] { return aclmdlExecute(ids.infer, in, out); },
      [&](bool failed) {
        if (!failed) {
          EXPECT_TRUE(near(y, reference(kX, m.w, m.b)));
        }
        io.reset();
        expect_works_and_unload(ids, m.w, m.b);
      });
  report("aclmdlExecute(inference, first run of a shape)", s);
}

TEST_F(FaultInjection, StreamInference) {
  const auto& m = small_model();
  BundleIds ids;
  std::unique_ptr<IoSet> io;
  std::vector<float> x = kX, y(6);
  aclmdlDataset *in = nullptr, *out = nullptr;
  aclrtStream stream = nullptr;
  Summary s = sweep(
      "stream inference",
      [&] {
        ASSERT_EQ(load_small_bundle(&ids), ACL_SUCCESS) << aclGetRecentErrMsg();
        ASSERT_EQ(run_empty(ids.init), ACL_SUCCESS) << aclGetRecentErrMsg();
        ASSERT_EQ(aclrtCreateStream(&stream), ACL_SUCCESS) << aclGetRecentErrMsg();
        io = std::make_unique<IoSet>();
        in = io->dataset({{x.data(), 32}}, {{2, 4}});
        out = io->dataset({{y.data(), 24}});
      },
      [&] {
        aclError err = aclmdlExecuteAsync(ids.infer, in, out, stream);
        aclError sync = aclrtSynchronizeStream(stream);
        return err != ACL_SUCCESS ? err : sync;
      },
      [&](bool failed) {
        if (!failed) {
          EXPECT_TRUE(near(y, reference(kX, m.w, m.b)));
        }
        // The stream still works after a failed task.
        std::fill(y.begin(), y.end(), -1.f);
        ASSERT_EQ(aclmdlExecuteAsync(ids.infer, in, out, stream), ACL_SUCCESS) << aclGetRecentErrMsg();
        ASSERT_EQ(aclrtSynchronizeStream(stream), ACL_SUCCESS) << aclGetRecentErrMsg();
        EXPECT_TRUE(near(y, reference(kX, m.w, m.b)));
        ASSERT_EQ(aclrtDestroyStream(stream), ACL_SUCCESS) << aclGetRecentErrMsg();
        io.reset();
        expect_works_and_unload(ids, m.w, m.b);
      });
  report("aclmdlExecuteAsync + aclrtSynchronizeStream", s);
}

}  // namespace
}  // namespace lw::test
