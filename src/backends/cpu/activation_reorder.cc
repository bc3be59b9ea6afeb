#include "backends/cpu/activation_reorder.h"

#include <algorithm>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/transpose_8x8.h"

namespace lw::cpu {

namespace {

constexpr Layout kLayouts[] = {Layout::kPlain, Layout::kChannelsLast, Layout::kBlocked8, Layout::kBlocked16};

// The layout among kLayouts whose descriptor for `dims` is exactly `d`.
std::optional<Layout> layout_of(const dnnl::memory::desc& d, const Dims& dims) {
  for (Layout l : kLayouts) {
    const int64_t block = channel_block(l);
    if (block > 0 && dims[1] % block != 0) continue;  // would be padded
    if (activation_desc(dims, l) == d) return l;
  }
  return std::nullopt;
}

// Where element (n, c, s) lives in one layout: at channel_base(n, c) + s * s_stride.
struct Addressing {
  Layout layout;
  int64_t channels, spatial, s_stride;

  Addressing(Layout l, int64_t c, int64_t s)
      : layout(l),
        channels(c),
        spatial(s),
        s_stride(l == Layout::kPlain          ? 1
                 : l == Layout::kChannelsLast ? c
                                              : channel_block(l)) {}

  int64_t channel_base(int64_t n, int64_t c) const {
    switch (layout) {
      case Layout::kPlain:
        return (n * channels + c) * spatial;
      case Layout::kChannelsLast:
        return n * spatial * channels + c;
      case Layout::kBlocked8:
      case Layout::kBlocked16:
        break;
    }
    const int64_t block = s_stride;
    return (n * channels + c / block * block) * spatial + c % block;
  }
};

// Channels [c0, c0 + nc) of image n at positions [s0, s1), one element at a time: the edges the
// vector paths leave, and everything on a CPU without AVX2.
void copy_elements(const Addressing& in, const Addressing& out, int64_t n, int64_t c0, int64_t nc, int64_t s0,
                   int64_t s1, const float* src, float* dst) {
  for (int64_t c = c0; c < c0 + nc; ++c) {
    const float* from = src + in.channel_base(n, c);
    float* to = dst + out.channel_base(n, c);
    for (int64_t s = s0; s < s1; ++s) to[s * out.s_stride] = from[s * in.s_stride];
  }
}

// Neither side plain, into a blocked layout: at every position, runs of 8 channels are
// contiguous on both sides, so channels [c0, c0 + nc) of image n (nc <= 16) move as runs of 8,
// position by position: a position's 16 channels are one 64-byte line on either side, written
// whole (run by run over all positions wrote half lines: 1.6-7x oneDNN's time).
LW_TARGET_AVX2 void move_runs(const Addressing& in, const Addressing& out, int64_t n, int64_t c0, int64_t nc,
                              const float* src, float* dst) {
  const int64_t runs = nc / 8;
  const float* from = src + in.channel_base(n, c0);
  float* to = dst + out.channel_base(n, c0);
  const int64_t in_run = runs > 1 ? in.channel_base(n, c0 + 8) - in.channel_base(n, c0) : 0;
  const int64_t out_run = runs > 1 ? out.channel_base(n, c0 + 8) - out.channel_base(n, c0) : 0;
  for (int64_t s = 0; s < in.spatial; ++s)
    for (int64_t k = 0; k < runs; ++k)
      _mm256_storeu_ps(to + s * out.s_stride + k * out_run, _mm256_loadu_ps(from + s * in.s_stride + k * in_run));
  if (nc % 8) copy_elements(in, out, n, c0 + 8 * runs, nc % 8, 0, in.spatial, src, dst);
}

// One side plain, not into channels-last: 8 channels by 8 positions at a time through an 8 x 8
// transpose, between 8 rows of positions (plain) and 8 runs of channels (the other side), for
// channels [c0, c0 + nc) of image n.
LW_TARGET_AVX2 void move_transposed(const Addressing& in, const Addressing& out, int64_t n, int64_t c0, int64_t nc,
                                    const float* src, float* dst) {
  const int64_t spatial = in.spatial, s8 = spatial / 8 * 8, c8 = nc / 8 * 8;
  const bool from_plain = in.s_stride == 1;
  // 8 positions at a time, all the unit's channels for them: on the channel-contiguous side a
  // position's 16 channels are one line, written (or read) whole.
  for (int64_t s = 0; s < s8; s += 8)
    for (int64_t c = c0; c < c0 + c8; c += 8) {
      const float* from = src + in.channel_base(n, c);
      float* to = dst + out.channel_base(n, c);
      if (from_plain) {  // rows: the 8 channels' positions s..s+7; column k: position s + k's 8 channels
        const int64_t row = in.channel_base(n, c + 1) - in.channel_base(n, c);
        transpose_8x8(from + s, row, [&](int k) { return to + (s + k) * out.s_stride; });
      } else {  // rows: positions s..s+7 of 8 channels each; column k: channel c + k's 8 positions
        const int64_t row = out.channel_base(n, c + 1) - out.channel_base(n, c);
        transpose_8x8(from + s * in.s_stride, in.s_stride, [&](int k) { return to + k * row + s; });
      }
    }
  // GCC 12 leaves out the vzeroupper it puts at the end of the other AVX functions here; the
  // dirty upper halves then slowed the SSE code that read the output next (MobileNet-style
  // ReduceMean over a reordered 1280 x 7 x 7 output: 18 -> 73 us).
  _mm256_zeroupper();
  copy_elements(in, out, n, c0, c8, s8, spatial, src, dst);
  if (c8 < nc) copy_elements(in, out, n, c0 + c8, nc - c8, 0, spatial, src, dst);
}

// Into channels-last, positions [s0, s0 + 8) of image n with all their channels: the 8 x C
// floats written are contiguous (units of 16 channels over every position wrote 64-byte pieces
// C floats apart: with 2048 channels, 8x oneDNN's time). From plain by 8 x 8 transposes, else as
// runs of 8 channels.
LW_TARGET_AVX2 void move_to_channels_last(const Addressing& in, const Addressing& out, int64_t n, int64_t s0,
                                          const float* src, float* dst) {
  const int64_t c8 = in.channels / 8 * 8;
  for (int64_t c = 0; c < c8; c += 8) {
    const float* from = src + in.channel_base(n, c);
    float* to = dst + out.channel_base(n, c) + s0 * out.s_stride;
    if (in.s_stride == 1) {  // rows: the 8 channels' positions; column k: position s0 + k's 8 channels
      transpose_8x8(from + s0, in.spatial, [&](int k) { return to + k * out.s_stride; });
    } else {
      for (int64_t k = 0; k < 8; ++k)
        _mm256_storeu_ps(to + k * out.s_stride, _mm256_loadu_ps(from + (s0 + k) * in.s_stride));
    }
  }
  if (c8 < in.channels) copy_elements(in, out, n, c8, in.channels - c8, s0, s0 + 8, src, dst);
}

}  // namespace

std::optional<ActivationReorder> describe_activation_reorder(const dnnl::memory::desc& from,
                                                             const dnnl::memory::desc& to) {
  const dnnl_memory_desc_t& f = from.data;
  if (f.ndims < 3 || f.ndims > 5 || f.data_type != dnnl_f32 || to.data.ndims != f.ndims) return std::nullopt;
  const Dims dims(f.dims, f.dims + f.ndims);
  for (int i = 0; i < f.ndims; ++i)
    if (to.data.dims[i] != dims[static_cast<size_t>(i)] || dims[static_cast<size_t>(i)] <= 0) return std::nullopt;
  const std::optional<Layout> a = layout_of(from, dims), b = layout_of(to, dims);
  if (!a || !b || *a == *b) return std::nullopt;
  ActivationReorder r;
  r.batch = dims[0];
  r.channels = dims[1];
  r.spatial = 1;
  for (size_t i = 2; i < dims.size(); ++i) r.spatial *= dims[i];
  r.from = *a;
  r.to = *b;
  return r;
}

void run_activation_reorder(const ActivationReorder& r, const float* src, float* dst, int threads) {
  const Addressing in(r.from, r.channels, r.spatial), out(r.to, r.channels, r.spatial);
  // Units of 16 channels of one image: 64 bytes of every position on the channel-contiguous
  // sides, 16 rows of positions on a plain side.
  constexpr int64_t kChannels = 16;
  const int64_t channel_groups = (r.channels + kChannels - 1) / kChannels;
  int64_t units = r.batch * channel_groups;
  const bool vectors = avx2_fma_supported(), transposed = in.s_stride == 1 || out.s_stride == 1;
  // Channels-last is written 8 positions (with all their channels) at a time instead.
  const bool to_channels_last = r.to == Layout::kChannelsLast;
  const int64_t position_groups = (r.spatial + 7) / 8;
  if (to_channels_last) units = r.batch * position_groups;
  auto copy_units = [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      if (to_channels_last) {
        const int64_t n = u / position_groups, s0 = u % position_groups * 8;
        if (vectors && s0 + 8 <= r.spatial) {
          move_to_channels_last(in, out, n, s0, src, dst);
        } else {
          copy_elements(in, out, n, 0, r.channels, s0, std::min(r.spatial, s0 + 8), src, dst);
        }
        continue;
      }
      const int64_t n = u / channel_groups, c0 = u % channel_groups * kChannels;
      const int64_t nc = std::min(kChannels, r.channels - c0);
      if (!vectors) {
        copy_elements(in, out, n, c0, nc, 0, r.spatial, src, dst);
      } else if (transposed) {
        move_transposed(in, out, n, c0, nc, src, dst);
      } else {
        move_runs(in, out, n, c0, nc, src, dst);
      }
    }
  };
  // Small tensors (a head's output) are not worth waking the other threads for.
  constexpr int64_t kMinParallelFloats = int64_t{1} << 15;
  const int64_t floats = r.batch * r.channels * r.spatial;
  parallel_ranges(units, floats >= kMinParallelFloats ? threads : 1, copy_units);
}

}  // namespace lw::cpu
