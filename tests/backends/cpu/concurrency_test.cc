// One kernel object run from several threads at once (run() is const and thread-safe):
// every thread gets the single-threaded answer for its own inputs. Eight threads: more than the
// sets of oneDNN memory objects a kernel keeps (dnnl_call.h), so some runs build their own.
#include <gtest/gtest.h>

#include <thread>

#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

void run_concurrently(const std::string& op, const std::vector<std::vector<TensorIn>>& per_thread, const Attrs& attrs) {
  auto prepared = prepare_op(op, per_thread[0], attrs);
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  std::vector<std::vector<float>> expected;
  for (const auto& ins : per_thread) {
    auto r = execute(*prepared, ins);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    expected.push_back((*r)[0].f());
  }
  std::vector<std::vector<float>> got(per_thread.size());
  std::vector<std::string> errors(per_thread.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < per_thread.size(); ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        auto r = execute(*prepared, per_thread[t]);
        if (!r.is_ok()) {
          errors[t] = r.status().message();
          return;
        }
        got[t] = (*r)[0].f();
        if (got[t] != expected[t]) return;
      }
    });
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < per_thread.size(); ++t) {
    EXPECT_EQ(errors[t], "");
    EXPECT_EQ(got[t], expected[t]) << op << " thread " << t;
  }
}

TEST(Concurrency, ConvMatMulGemmSoftmaxPool) {
  std::vector<std::vector<TensorIn>> conv, conv20, mm, gemm, sm, pool;
  for (uint32_t t = 0; t < 8; ++t) {
    conv.push_back({f32({2, 8, 12, 12}, random_floats(2 * 8 * 144, 100 + t)),
                    f32({16, 4, 3, 3}, random_floats(16 * 4 * 9, 200 + t)), f32({16}, random_floats(16, 300 + t))});
    mm.push_back({f32({3, 20, 30}, random_floats(1800, 400 + t)), f32({30, 10}, random_floats(300, 500 + t))});
    gemm.push_back({f32({20, 30}, random_floats(600, 600 + t)), f32({10, 30}, random_floats(300, 700 + t)),
                    f32({10}, random_floats(10, 800 + t))});
    sm.push_back({f32({40, 50}, random_floats(2000, 900 + t))});
    // 20 output channels: the blocked weight layout pads them (a padded oneDNN argument)
    conv20.push_back({f32({1, 8, 10, 10}, random_floats(800, 1000 + t)), f32({20, 8, 3, 3}, random_floats(1440, 1100 + t))});
    pool.push_back({f32({2, 3, 9, 9}, random_floats(486, 1200 + t))});
  }
  run_concurrently("Conv", conv, {{"group", int64_t{2}}, {"pads", Dims{1, 1, 1, 1}}});
  run_concurrently("MatMul", mm, {});
  run_concurrently("Gemm", gemm, {{"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}});
  run_concurrently("Softmax", sm, {{"axis", int64_t{0}}});
  run_concurrently("Conv", conv20, {});
  run_concurrently("MaxPool", pool, {{"kernel_shape", Dims{3, 3}}, {"strides", Dims{2, 2}}});
}

}  // namespace
}  // namespace lw::test
