// The fused attention kernel (kernels/attention.cc) created directly, as the attention fusion
// pass would not leave it: operands whose shapes disagree, whose perms are not permutations, or
// whose views reach outside their input are refused at creation with an error naming the node;
// a valid node runs many times alike.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/kernel_harness.h"
#include "compiler/passes/attention_fusion.h"

namespace lw::test {
namespace {

Attrs perms(std::vector<int64_t> q, std::vector<int64_t> k, std::vector<int64_t> v, std::vector<int64_t> out) {
  return {{passes::kAttrQPerm, q}, {passes::kAttrKPerm, k}, {passes::kAttrVPerm, v}, {passes::kAttrOutPerm, out},
          {passes::kAttrScale, 0.5f}};
}

Attrs with(Attrs attrs, const char* name, std::vector<int64_t> value) {
  attrs[name] = std::move(value);
  return attrs;
}

TEST(AttentionKernel, RefusesOperandsThatDisagree) {
  if (!cpu::packed_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  const std::vector<int64_t> id = {0, 1, 2};
  auto q = f32({2, 4, 8}, random_floats(64, 1)), k = f32({2, 5, 8}, random_floats(80, 2)),
       v = f32({2, 5, 3}, random_floats(30, 3)), v_bad = f32({2, 6, 3}, random_floats(36, 3));
  struct Bad {
    std::vector<TensorIn> inputs;
    Attrs attrs;
    Dims out;
    const char* says;
  };
  const std::vector<Bad> cases = {
      {{q, k, v_bad}, perms(id, id, id, id), {2, 4, 3}, "do not agree"},            // 6 values for 5 keys
      {{q, k, v}, perms(id, id, id, id), {2, 4, 4}, "do not agree"},                // output columns
      {{q, k, v}, perms(id, id, id, id), {3, 4, 3}, "batch dims"},                  // output batch
      {{q, k, v}, perms(id, {0, 1, 1}, id, id), {2, 4, 3}, "_lw_k_perm"},           // not a permutation
      {{q, k, v}, perms({0, 2, 1}, id, id, id), {2, 4, 3}, "do not agree"},         // q read as [2, 8, 4]
      {{q, k, v}, perms(id, id, {0, 2, 1}, {0, 1, 2}), {2, 4, 3}, "do not agree"},  // v read as [2, 3, 5]
      {{q, k}, perms(id, id, id, id), {2, 4, 3}, "expects inputs q, k, v"},
      // A mask that does not broadcast to the scores [2, 4, 5], and one of a higher rank.
      {{q, k, v, f32({2, 1, 4}, random_floats(8, 4))}, perms(id, id, id, id), {2, 4, 3}, "does not broadcast"},
      {{q, k, v, f32({1, 2, 4, 5}, random_floats(40, 4))}, perms(id, id, id, id), {2, 4, 3}, "exceeds the scores'"},
      // Views of q's 64 floats: one past its end, a negative offset, too few values.
      {{q, k, v}, with(perms(id, id, id, id), passes::kAttrQView, {1, 2, 4, 8, 32, 8, 1}), {2, 4, 3},
       "reaches outside"},
      {{q, k, v}, with(perms(id, id, id, id), passes::kAttrQView, {-1, 2, 4, 8, 32, 8, 1}), {2, 4, 3},
       "reaches outside"},
      {{q, k, v}, with(perms(id, id, id, id), passes::kAttrQView, {0, 2, 4, 8}), {2, 4, 3}, "not 1 + 2 x rank"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    auto prepared = prepare_fused_op(passes::kOpAttention, cases[i].inputs, cases[i].attrs, DType::kFloat32,
                                     cases[i].out, 2);
    ASSERT_FALSE(prepared.is_ok());
    EXPECT_NE(prepared.status().message().find(cases[i].says), std::string::npos) << prepared.status().message();
  }
}

// Many runs of one kernel on two threads give one result, and the scratch of one run does not
// leak into the next (the scores and panels are rewritten every time).
TEST(AttentionKernel, RepeatedRunsAgree) {
  if (!cpu::packed_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  const std::vector<int64_t> id = {0, 1, 2};
  std::vector<TensorIn> inputs = {f32({3, 20, 16}, random_floats(960, 4)), f32({3, 33, 16}, random_floats(1584, 5)),
                                  f32({3, 33, 7}, random_floats(693, 6))};
  auto prepared = prepare_fused_op(passes::kOpAttention, inputs, perms(id, id, id, id), DType::kFloat32, {3, 20, 7}, 2);
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  auto first = execute(*prepared, inputs);
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  for (int r = 0; r < 20; ++r) {
    auto again = execute(*prepared, inputs);
    ASSERT_TRUE(again.is_ok());
    ASSERT_EQ((*again)[0].f(), (*first)[0].f()) << "run " << r;
  }
}

// A one-thread kernel run from inside the caller's own OpenMP parallel region (as a server's
// worker threads might): each run keeps to its own scratch, whatever the caller's thread number.
TEST(AttentionKernel, RunsInsideTheCallersParallelRegion) {
  if (!cpu::packed_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  const std::vector<int64_t> id = {0, 1, 2};
  std::vector<TensorIn> inputs = {f32({1, 12, 8}, random_floats(96, 7)), f32({1, 40, 8}, random_floats(320, 8)),
                                  f32({1, 40, 8}, random_floats(320, 9))};
  auto prepared = prepare_fused_op(passes::kOpAttention, inputs, perms(id, id, id, id), DType::kFloat32, {1, 12, 8}, 1);
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  auto want = execute(*prepared, inputs);
  ASSERT_TRUE(want.is_ok()) << want.status().message();
  std::vector<std::vector<float>> got(4);
#pragma omp parallel for num_threads(4)
  for (int t = 0; t < 4; ++t) {
    auto out = execute(*prepared, inputs);
    if (out.is_ok()) got[static_cast<size_t>(t)] = (*out)[0].f();
  }
  for (const auto& g : got) EXPECT_EQ(g, (*want)[0].f());
}

}  // namespace
}  // namespace lw::test
