// 1 x 1 convolutions on channels-last activations through the kernel registry, which run as
// packed_gemm products (conv.cc; on AVX2 machines its 6 x 16 blocks, as the ctest
// gemm_kernels_on_avx2 runs this here too): output channel counts that pick each AVX-512
// register block (16, 24 -> 32, 48, 64 and more columns), positions around the blocks' row
// counts and more rows than columns or fewer, a batch of 2, a fused epilogue each way (bias, a
// BatchNorm with a pruned channel, a residual, Relu or Clip), one and two threads, against a
// naive loop in double. Without AVX2 the same convolutions run on oneDNN and must match just as well.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/channels_last_conv.h"
#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/cpu/naive_conv.h"
#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

struct Shape1x1 {
  int64_t batch, ic, oc, h, w;
};

TEST(Conv1x1Gemm, MatchesNaiveLoopOnChannelsLast) {
  const char* expected = cpu::packed_gemm_supported(cpu::GemmPath::kAvx512x64) ? "lw:conv1x1_packed_gemm_avx512"
                         : cpu::packed_gemm_supported(cpu::GemmPath::kAvx2)    ? "lw:conv1x1_packed_gemm_avx2"
                                                                                : nullptr;
  int checked = 0;
  for (const Shape1x1& s :
       {Shape1x1{1, 16, 16, 9, 9}, Shape1x1{1, 24, 24, 5, 7}, Shape1x1{2, 32, 48, 3, 3}, Shape1x1{1, 40, 96, 8, 8},
        Shape1x1{1, 96, 160, 7, 7}, Shape1x1{1, 70, 200, 2, 2}, Shape1x1{1, 130, 64, 1, 1}}) {
    const int64_t hw = s.h * s.w;
    auto x = random_floats(static_cast<size_t>(s.batch * s.ic * hw), 1);
    auto w = random_floats(static_cast<size_t>(s.oc * s.ic), 2, -0.3f, 0.3f);
    const std::vector<double> sums = naive_conv_sums({s.batch, s.ic, s.oc, s.h, s.w, 1, 1, 1, 0, 0, 0, 0}, x, w);
    const ConvEpilogue epilogue(s.oc, s.batch * s.oc * hw);
    const Dims out_dims = {s.batch, s.oc, s.h, s.w};
    for (const EpilogueCase& e : kEpilogueCases) {
      const std::vector<float> want = epilogue.apply_to(e, sums, hw);
      std::vector<TensorIn> in = {f32({s.batch, s.ic, s.h, s.w}, to_nhwc(x, s.batch, s.ic, hw)),
                                  f32({s.oc, s.ic, 1, 1}, w, true), f32({s.oc}, epilogue.bias)};
      std::vector<cpu::Layout> layouts = {cpu::Layout::kChannelsLast, cpu::Layout::kPlain, cpu::Layout::kPlain};
      Attrs attrs;
      epilogue.add_to(e, out_dims, in, attrs, layouts);
      checked += check_channels_last_conv(
          in, attrs, layouts, out_dims, want, expected,
          "batch " + std::to_string(s.batch) + " " + std::to_string(s.ic) + "->" + std::to_string(s.oc) + " " +
              std::to_string(s.h) + "x" + std::to_string(s.w) + " bn " + std::to_string(e.batchnorm) + " residual " +
              std::to_string(e.residual) + " clip " + std::to_string(e.clip));
    }
  }
  EXPECT_EQ(checked, 7 * 5 * 2);
}

// The path each output width takes on AVX-512 for many rows: the block that pads the fewest
// columns, the wider on a tie (the taller for up to 64 rows); up to 8 rows, 8 x 48 (a batch
// streams each panel once).
TEST(Conv1x1Gemm, PathFollowsTheWidth) {
  if (!cpu::packed_gemm_supported(cpu::GemmPath::kAvx512x64)) GTEST_SKIP() << "this CPU runs no AVX-512 code";
  using cpu::GemmPath;
  EXPECT_EQ(cpu::packed_gemm_weight_path(3136, 16), GemmPath::kAvx512x16);
  EXPECT_EQ(cpu::packed_gemm_weight_path(3136, 24), GemmPath::kAvx512x32);
  EXPECT_EQ(cpu::packed_gemm_weight_path(3136, 96), GemmPath::kAvx512x48);
  EXPECT_EQ(cpu::packed_gemm_weight_path(3136, 160), GemmPath::kAvx512x32);
  EXPECT_EQ(cpu::packed_gemm_weight_path(3136, 256), GemmPath::kAvx512x64);
  EXPECT_EQ(cpu::packed_gemm_weight_path(128, 2048), GemmPath::kAvx512x64);
  EXPECT_EQ(cpu::packed_gemm_weight_path(196, 1024), GemmPath::kAvx512x64);
  EXPECT_EQ(cpu::packed_gemm_weight_path(49, 2048), GemmPath::kAvx512x32) << "7 x 7: taller blocks read B less";
  EXPECT_EQ(cpu::packed_gemm_weight_path(49, 960), GemmPath::kAvx512x32);
  EXPECT_EQ(cpu::packed_gemm_weight_path(49, 160), GemmPath::kAvx512x32);
  EXPECT_EQ(cpu::packed_gemm_weight_path(8, 4096), GemmPath::kAvx512x48);
  EXPECT_EQ(cpu::packed_gemm_weight_path(1, 1000), GemmPath::kAvx512x48);
}

}  // namespace
}  // namespace lw::test
