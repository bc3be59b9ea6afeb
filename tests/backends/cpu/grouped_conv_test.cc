// Grouped convolutions whose groups map c input channels to c outputs, on channels-last
// activations through the kernel registry, which on AVX-512 machines run grouped_conv.h: groups
// of 2, 4 and 8 channels (several groups per 16-lane vector) and of 16, 32 and 48 (one group
// over one to three vectors; a pair of vectors within one group or across two), 3 x 3, 1 x 1 and
// 5 x 3 kernels, strides 1 and 2, symmetric and one-sided padding, widths around the 8-position
// blocks, a batch of 2, a fused epilogue each way (bias, a BatchNorm with a pruned channel, a
// residual, Relu, Clip or SiLU), one and two threads, against a naive loop in double. Shapes the
// kernel does not take (channels not a multiple of 16, groups of 12) run on oneDNN and must match
// just as well; so does everything on other machines. The same cases on nChw8c activations run
// blocked_grouped_conv.h (AVX2) where that is the machine's layout.
#include <gtest/gtest.h>

#include <iterator>
#include <string>
#include <vector>

#include "backends/cpu/channels_last_conv.h"
#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/blocked_grouped_conv.h"
#include "backends/cpu/kernels/grouped_conv.h"
#include "backends/cpu/naive_conv.h"
#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

struct GroupedCase {
  int64_t batch, channels, group_channels, h, w, kernel_h, kernel_w, stride, pad_begin, pad_end;
  // grouped_conv.h takes it (on a CPU that runs it); blocked_grouped_conv.h takes every case
  // but groups of 12 (groups of 24: a pair of its vectors within a group, or across two).
  bool ours;
};

const GroupedCase kCases[] = {
    {1, 32, 4, 9, 11, 3, 3, 1, 1, 1, true},  {2, 64, 8, 7, 7, 3, 3, 1, 1, 1, true},
    {1, 32, 2, 10, 13, 3, 3, 2, 1, 1, true}, {1, 48, 16, 12, 20, 3, 3, 1, 1, 1, true},
    {1, 64, 32, 6, 17, 3, 3, 2, 0, 1, true}, {1, 96, 48, 7, 8, 3, 3, 1, 1, 1, true},
    {1, 128, 4, 5, 9, 1, 1, 1, 0, 0, true},  {1, 32, 8, 8, 10, 5, 3, 1, 2, 1, true},
    {1, 40, 8, 7, 7, 3, 3, 1, 1, 1, false},  {1, 36, 12, 6, 6, 3, 3, 1, 1, 1, false},
    {1, 24, 8, 9, 14, 3, 3, 1, 1, 1, false}, {1, 48, 24, 7, 9, 3, 3, 1, 1, 1, false},
};

// Runs every case with every epilogue through the registry on activations in `layout`
// (channels-last or nChw8c), expecting `kernel` where `ours(case)`; returns the runs checked.
template <typename Ours>
int check_cases(cpu::Layout layout, const char* kernel, Ours ours) {
  int checked = 0;
  for (const GroupedCase& c : kCases) {
    if (layout == cpu::Layout::kBlocked8 && c.channels % 8 != 0) continue;  // no whole 8-channel blocks
    const int64_t groups = c.channels / c.group_channels;
    NaiveConv2d s{c.batch,  c.channels,  c.channels,  c.h,       c.w,       c.kernel_h, c.kernel_w,
                  c.stride, c.pad_begin, c.pad_begin, c.pad_end, c.pad_end, groups};
    if (c.kernel_w == 3 && c.kernel_h == 5) s.pad_left = s.pad_right = 1;
    const int64_t oh = s.out_h(), ow = s.out_w(), hw = c.h * c.w, ohw = oh * ow;
    auto x = random_floats(static_cast<size_t>(c.batch * c.channels * hw), 1);
    auto w =
        random_floats(static_cast<size_t>(c.channels * c.group_channels * c.kernel_h * c.kernel_w), 2, -0.5f, 0.5f);
    const std::vector<double> sums = naive_conv_sums(s, x, w);
    const ConvEpilogue epilogue(c.channels, c.batch * c.channels * ohw);
    const Dims out_dims = {c.batch, c.channels, oh, ow};
    const bool blocked = layout == cpu::Layout::kBlocked8;
    const char* expected = ours(c) ? kernel : nullptr;
    for (const EpilogueCase& e : kEpilogueCases) {
      const std::vector<float> want = epilogue.apply_to(e, sums, ohw);
      std::vector<TensorIn> in = {f32({c.batch, c.channels, c.h, c.w}, blocked ? to_blocked(x, c.batch, c.channels, hw)
                                                                               : to_nhwc(x, c.batch, c.channels, hw)),
                                  f32({c.channels, c.group_channels, c.kernel_h, c.kernel_w}, w, true),
                                  f32({c.channels}, epilogue.bias)};
      std::vector<cpu::Layout> layouts = {layout, cpu::Layout::kPlain, cpu::Layout::kPlain};
      Attrs attrs = {{"group", groups},
                     {"pads", std::vector<int64_t>{s.pad_top, s.pad_left, s.pad_bottom, s.pad_right}},
                     {"strides", std::vector<int64_t>{c.stride, c.stride}}};
      epilogue.add_to(e, out_dims, in, attrs, layouts, layout);
      checked += check_conv_output(in, attrs, layouts, out_dims, layout, want, expected,
                                   conv_name(s) + " bn " + std::to_string(e.batchnorm) + " residual " +
                                       std::to_string(e.residual) + " clip " + std::to_string(e.clip) + " silu " +
                                       std::to_string(e.silu));
    }
  }
  return checked;
}

// Cases x epilogues x threads, on channels-last; nChw8c leaves out the 36-channel case.
constexpr int kRuns = static_cast<int>(std::size(kCases)) * 5 * 2;

TEST(GroupedConv, MatchesNaiveLoopOnChannelsLast) {
  const bool avx512 = cpu::grouped_conv_supported();
  EXPECT_EQ(check_cases(cpu::Layout::kChannelsLast, "lw:grouped_conv_avx512",
                        [&](const GroupedCase& c) { return avx512 && c.ours; }),
            kRuns);
}

// The same on nChw8c, the layout of AVX2 machines (and of this test with oneDNN limited to
// AVX2: blocked_kernels_on_avx2), where blocked_grouped_conv.h runs them; elsewhere oneDNN.
TEST(GroupedConv, MatchesNaiveLoopOnBlocked8) {
  const bool avx2_machine =
      cpu::blocked_grouped_conv_supported() && cpu::preferred_conv_activation_layout() == cpu::Layout::kBlocked8;
  EXPECT_EQ(check_cases(cpu::Layout::kBlocked8, "lw:blocked_grouped_conv_avx2",
                        [&](const GroupedCase& c) { return avx2_machine && c.group_channels != 12; }),
            kRuns - 5 * 2);
}

}  // namespace
}  // namespace lw::test
