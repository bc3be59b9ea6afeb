// A plan for one intra-op thread runs on the calling thread alone, whatever the process's
// OpenMP default: oneDNN fixes some primitives' thread count when their descriptors are created
// (its AVX-512 brgemm convolutions), so the plan creates its kernels under its own count. Each
// test runs in a process of its own (gtest_discover_tests), where no OpenMP team has started
// before the plan's.
#include <gtest/gtest.h>
#include <omp.h>

#include <fstream>
#include <string>
#include <vector>

#include "runtime/plan.h"
#include "support/float_data.h"
#include "support/graph_builder.h"

namespace lw::rt {
namespace {

using test::add_op;
using test::random_vec;
using test::tensor;

// The process's thread count, from /proc (-1 where it cannot be read).
int process_threads() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

TEST(PlanThreads, OneThreadPlanRunsOnTheCallingThreadAlone) {
  if (omp_get_max_threads() < 2) GTEST_SKIP() << "OpenMP would use one thread anyway";
  constexpr int64_t c = 64, h = 28;
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, c, h, h}));
  auto w3 = random_vec(static_cast<size_t>(c * c * 9), 1, 0.1f), w1 = random_vec(static_cast<size_t>(c * c), 2, 0.1f);
  auto b = random_vec(c, 3, 0.1f);
  ir::ValueId y = add_op(g, "Conv", {x, g.add_const("w3", tensor(w3, {c, c, 3, 3})), g.add_const("b3", tensor(b, {c}))},
                         "c3", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  y = add_op(g, "Relu", {y}, "r");
  y = add_op(g, "Conv", {y, g.add_const("w1", tensor(w1, {c, c, 1, 1})), g.add_const("b1", tensor(b, {c}))}, "c1");
  g.outputs = {y};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  const int before = process_threads();
  if (before < 0) GTEST_SKIP() << "no /proc/self/status";
  VariableStore store({});
  auto plan = Plan::create(g, store, 1);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  auto xv = random_vec(static_cast<size_t>(c * h * h), 4);
  std::vector<float> out(static_cast<size_t>(c * h * h));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*plan)->run(*store.current(), {xv.data()}, {out.data()}, nullptr).is_ok());
  EXPECT_EQ(process_threads(), before) << "a one-thread plan started OpenMP threads";
}

}  // namespace
}  // namespace lw::rt
