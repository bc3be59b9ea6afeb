// Conv (oneDNN) and the pooling kernels against naive loops over explicit pads.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "backends/kernel_harness.h"
#include "support/blocked_layout.h"

namespace lw::test {
namespace {

// Spatial parameters as the reference sees them, padded to 3 dims with unit leading dims.
struct Geo {
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
};

Geo make_geo(const Dims& in_sp, const Dims& k, const Dims& s, const Dims& d, const Dims& pads, const Dims& out_sp) {
  Geo g{};
  size_t r = in_sp.size(), shift = 3 - r;
  for (size_t a = 0; a < 3; ++a) {
    bool real = a >= shift;
    size_t i = a - shift;
    g.in[a] = real ? in_sp[i] : 1;
    g.k[a] = real ? k[i] : 1;
    g.s[a] = real && !s.empty() ? s[i] : 1;
    g.d[a] = real && !d.empty() ? d[i] : 1;
    g.pb[a] = real && !pads.empty() ? pads[i] : 0;
    g.pe[a] = real && !pads.empty() ? pads[i + r] : 0;
    g.out[a] = real ? out_sp[i] : 1;
  }
  return g;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rel) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 1e-6;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], rel * scale) << "at " << i;
}

struct ConvCase {
  Dims x, w;
  int64_t group;
  Dims strides, dilations, pads;
  std::string auto_pad;
  bool bias;
  Dims expect_out;
};

class ConvCases : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvCases, MatchesNaiveLoop) {
  const ConvCase& c = GetParam();
  auto xv = random_floats(static_cast<size_t>(count(c.x)), 31);
  auto wv = random_floats(static_cast<size_t>(count(c.w)), 32);
  auto bv = random_floats(static_cast<size_t>(c.w[0]), 33);
  Attrs attrs = {{"group", c.group}};
  if (!c.strides.empty()) attrs["strides"] = c.strides;
  if (!c.dilations.empty()) attrs["dilations"] = c.dilations;
  if (!c.pads.empty()) attrs["pads"] = c.pads;
  if (!c.auto_pad.empty()) attrs["auto_pad"] = c.auto_pad;
  std::vector<TensorIn> ins = {f32(c.x, xv), f32(c.w, wv)};
  if (c.bias) ins.push_back(f32({c.w[0]}, bv));
  auto r = run_op("Conv", ins, attrs);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Dims& y = (*r)[0].dims;
  ASSERT_EQ(y, c.expect_out);

  size_t rank = c.x.size() - 2;
  Dims pads = c.pads;
  if (!c.auto_pad.empty() && c.auto_pad != "VALID" && c.auto_pad != "NOTSET") {
    // SAME_*: total pad from the output size; the odd one goes to the end (UPPER) or begin.
    pads.assign(2 * rank, 0);
    for (size_t i = 0; i < rank; ++i) {
      int64_t s = c.strides.empty() ? 1 : c.strides[i], d = c.dilations.empty() ? 1 : c.dilations[i];
      int64_t total = std::max<int64_t>(0, (y[2 + i] - 1) * s + (c.w[2 + i] - 1) * d + 1 - c.x[2 + i]);
      int64_t small = total / 2;
      pads[i] = c.auto_pad == "SAME_UPPER" ? small : total - small;
      pads[i + rank] = total - pads[i];
    }
  }
  Geo g = make_geo(Dims(c.x.begin() + 2, c.x.end()), Dims(c.w.begin() + 2, c.w.end()), c.strides, c.dilations, pads,
                   Dims(y.begin() + 2, y.end()));
  int64_t n_batch = c.x[0], cin = c.x[1], cout = c.w[0], cin_g = cin / c.group, cout_g = cout / c.group;
  std::vector<double> want;
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t oc = 0; oc < cout; ++oc)
      for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
        for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
          for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
            double s = c.bias ? bv[static_cast<size_t>(oc)] : 0.0;
            int64_t grp = oc / cout_g;
            for (int64_t ic = 0; ic < cin_g; ++ic)
              for (int64_t k0 = 0; k0 < g.k[0]; ++k0)
                for (int64_t k1 = 0; k1 < g.k[1]; ++k1)
                  for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                    int64_t i0 = o0 * g.s[0] - g.pb[0] + k0 * g.d[0];
                    int64_t i1 = o1 * g.s[1] - g.pb[1] + k1 * g.d[1];
                    int64_t i2 = o2 * g.s[2] - g.pb[2] + k2 * g.d[2];
                    if (i0 < 0 || i0 >= g.in[0] || i1 < 0 || i1 >= g.in[1] || i2 < 0 || i2 >= g.in[2]) continue;
                    int64_t xi = (((n * cin + grp * cin_g + ic) * g.in[0] + i0) * g.in[1] + i1) * g.in[2] + i2;
                    int64_t wi = (((oc * cin_g + ic) * g.k[0] + k0) * g.k[1] + k1) * g.k[2] + k2;
                    s += static_cast<double>(xv[static_cast<size_t>(xi)]) * wv[static_cast<size_t>(wi)];
                  }
            want.push_back(s);
          }
  expect_close((*r)[0].f(), want, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConvCases,
    ::testing::Values(
        ConvCase{{1, 3, 8, 8}, {4, 3, 3, 3}, 1, {}, {}, {1, 1, 1, 1}, "", true, {1, 4, 8, 8}},
        ConvCase{{2, 3, 9, 7}, {5, 3, 3, 2}, 1, {2, 1}, {}, {1, 0, 1, 1}, "", true, {2, 5, 5, 7}},  // strides, asym
        ConvCase{{1, 2, 10, 10}, {3, 2, 3, 3}, 1, {}, {2, 2}, {2, 2, 2, 2}, "", false, {1, 3, 10, 10}},  // dilation
        ConvCase{{2, 4, 6, 6}, {6, 2, 3, 3}, 2, {1, 1}, {}, {1, 1, 1, 1}, "", true, {2, 6, 6, 6}},  // groups
        ConvCase{{1, 8, 7, 7}, {8, 1, 3, 3}, 8, {2, 2}, {}, {1, 1, 1, 1}, "", true, {1, 8, 4, 4}},  // depthwise
        ConvCase{{1, 3, 7, 9}, {2, 3, 3, 3}, 1, {2, 2}, {}, {}, "SAME_UPPER", true, {1, 2, 4, 5}},
        ConvCase{{1, 3, 7, 9}, {2, 3, 4, 4}, 1, {1, 1}, {}, {}, "SAME_LOWER", false, {1, 2, 7, 9}},
        ConvCase{{1, 3, 7, 9}, {2, 3, 3, 3}, 1, {2, 2}, {}, {}, "VALID", true, {1, 2, 3, 4}},
        ConvCase{{2, 4, 20}, {6, 4, 5}, 1, {2}, {}, {2, 1}, "", true, {2, 6, 10}},                  // 1-D
        ConvCase{{1, 2, 5, 6, 4}, {3, 2, 3, 3, 2}, 1, {}, {}, {1, 1, 0, 1, 1, 0}, "", true, {1, 3, 5, 6, 3}},  // 3-D
        ConvCase{{1, 16, 14, 14}, {32, 16, 1, 1}, 1, {}, {}, {}, "", false, {1, 32, 14, 14}}));  // pointwise

TEST(Conv, WeightsCanChangeBetweenRuns) {
  // W is a graph input: two runs with different W bytes give different results.
  auto r1 = run_op("Conv", {f32({1, 1, 2, 2}, {1, 2, 3, 4}), f32({1, 1, 1, 1}, {2})});
  auto r2 = run_op("Conv", {f32({1, 1, 2, 2}, {1, 2, 3, 4}), f32({1, 1, 1, 1}, {-1})});
  ASSERT_TRUE(r1.is_ok() && r2.is_ok());
  EXPECT_EQ((*r1)[0].f(), (std::vector<float>{2, 4, 6, 8}));
  EXPECT_EQ((*r2)[0].f(), (std::vector<float>{-1, -2, -3, -4}));
}

// ---- pools ----

struct PoolCase {
  std::string op;
  Dims x, kernel, strides, dilations, pads;
  int64_t ceil_mode, count_include_pad;
  std::string auto_pad;
  Dims expect_out;
};

class PoolCases : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolCases, MatchesNaiveLoop) {
  const PoolCase& c = GetParam();
  auto xv = random_floats(static_cast<size_t>(count(c.x)), 41, -2.0f, 2.0f);
  Attrs attrs = {{"kernel_shape", c.kernel}, {"ceil_mode", c.ceil_mode}};
  if (!c.strides.empty()) attrs["strides"] = c.strides;
  if (!c.dilations.empty()) attrs["dilations"] = c.dilations;
  if (!c.pads.empty()) attrs["pads"] = c.pads;
  if (!c.auto_pad.empty()) attrs["auto_pad"] = c.auto_pad;
  bool is_max = c.op == "MaxPool";
  if (!is_max) attrs["count_include_pad"] = c.count_include_pad;
  auto r = run_op(c.op, {f32(c.x, xv)}, attrs, is_max ? 2 : 1);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Dims& y = (*r)[0].dims;
  ASSERT_EQ(y, c.expect_out);
  size_t rank = c.x.size() - 2;
  Dims pads = c.pads;
  if (c.auto_pad == "SAME_UPPER" || c.auto_pad == "SAME_LOWER") {
    pads.assign(2 * rank, 0);
    for (size_t i = 0; i < rank; ++i) {
      int64_t s = c.strides.empty() ? 1 : c.strides[i];
      int64_t total = std::max<int64_t>(0, (y[2 + i] - 1) * s + c.kernel[i] - c.x[2 + i]);
      pads[i] = c.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pads[i + rank] = total - pads[i];
    }
  }
  Geo g = make_geo(Dims(c.x.begin() + 2, c.x.end()), c.kernel, c.strides, c.dilations, pads, Dims(y.begin() + 2, y.end()));
  int64_t planes = c.x[0] * c.x[1], in_plane = g.in[0] * g.in[1] * g.in[2];
  std::vector<double> want;
  std::vector<int64_t> want_idx;
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
      for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
        for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int64_t best_i = -1, valid = 0, padded = 0;
          for (int64_t k0 = 0; k0 < g.k[0]; ++k0)
            for (int64_t k1 = 0; k1 < g.k[1]; ++k1)
              for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                int64_t i[3] = {o0 * g.s[0] - g.pb[0] + k0 * g.d[0], o1 * g.s[1] - g.pb[1] + k1 * g.d[1],
                                o2 * g.s[2] - g.pb[2] + k2 * g.d[2]};
                bool in_pad = true, in_x = true;
                for (int a = 0; a < 3; ++a) {
                  in_x = in_x && i[a] >= 0 && i[a] < g.in[a];
                  in_pad = in_pad && i[a] >= -g.pb[a] && i[a] < g.in[a] + g.pe[a];
                }
                if (in_pad) ++padded;
                if (!in_x) continue;
                ++valid;
                int64_t off = (i[0] * g.in[1] + i[1]) * g.in[2] + i[2];
                double v = xv[static_cast<size_t>(p * in_plane + off)];
                sum += v;
                if (v > best) {
                  best = v;
                  best_i = p * in_plane + off;
                }
              }
          if (is_max) {
            want.push_back(best);
            want_idx.push_back(best_i);
          } else {
            want.push_back(sum / static_cast<double>(c.count_include_pad ? padded : valid));
          }
        }
  expect_close((*r)[0].f(), want, 1e-5);
  if (is_max) {
    EXPECT_EQ((*r)[1].dtype, DType::kInt64);
    EXPECT_EQ((*r)[1].as<int64_t>(), want_idx);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PoolCases,
    ::testing::Values(
        PoolCase{"MaxPool", {2, 3, 8, 8}, {2, 2}, {2, 2}, {}, {}, 0, 0, "", {2, 3, 4, 4}},
        PoolCase{"MaxPool", {1, 2, 7, 9}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, 0, 0, "", {1, 2, 4, 5}},
        PoolCase{"MaxPool", {1, 2, 8, 8}, {3, 3}, {2, 2}, {}, {}, 1, 0, "", {1, 2, 4, 4}},         // ceil
        PoolCase{"MaxPool", {1, 1, 9, 9}, {2, 3}, {1, 2}, {2, 2}, {}, 0, 0, "", {1, 1, 7, 3}},    // dilation
        PoolCase{"MaxPool", {1, 2, 7, 5}, {3, 3}, {2, 2}, {}, {}, 0, 0, "SAME_UPPER", {1, 2, 4, 3}},
        PoolCase{"MaxPool", {2, 3, 11}, {3}, {2}, {}, {1, 0}, 1, 0, "", {2, 3, 6}},               // 1-D
        PoolCase{"AveragePool", {2, 3, 8, 8}, {2, 2}, {2, 2}, {}, {}, 0, 0, "", {2, 3, 4, 4}},
        PoolCase{"AveragePool", {1, 2, 7, 9}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, 0, 0, "", {1, 2, 4, 5}},
        PoolCase{"AveragePool", {1, 2, 7, 9}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, 0, 1, "", {1, 2, 4, 5}},
        PoolCase{"AveragePool", {1, 2, 8, 8}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, 1, 1, "", {1, 2, 5, 5}},  // ceil
        PoolCase{"AveragePool", {1, 2, 6, 6}, {3, 3}, {2, 2}, {}, {}, 1, 0, "", {1, 2, 3, 3}},
        PoolCase{"AveragePool", {1, 1, 5, 4, 6}, {2, 2, 3}, {2, 1, 3}, {}, {}, 0, 0, "", {1, 1, 2, 3, 2}}));

// MaxPool with 8-channel blocks in and out (the convolution layout on AVX2 machines; its own
// kernel there, oneDNN's elsewhere) against the plain naive max: ResNet's 3 x 3 stride-2 pool,
// a ceil_mode window past the end, uneven pads larger than the stride.
TEST(Pool, MaxPoolOnBlockedActivations) {
  struct Case {
    Dims x, kernel, strides, pads;
    int64_t ceil_mode;
    Dims y;
  };
  for (const Case& c : {Case{{2, 16, 15, 13}, {3, 3}, {2, 2}, {1, 1, 1, 1}, 0, {2, 16, 8, 7}},
                        Case{{1, 8, 7, 7}, {2, 2}, {2, 2}, {0, 0, 0, 0}, 1, {1, 8, 4, 4}},
                        Case{{1, 24, 6, 5}, {3, 3}, {1, 1}, {2, 0, 1, 2}, 0, {1, 24, 7, 5}}}) {
    const int64_t n = c.x[0], ch = c.x[1], h = c.x[2], w = c.x[3], oh = c.y[2], ow = c.y[3];
    auto xv = random_floats(static_cast<size_t>(count(c.x)), 43, -2.0f, 2.0f);
    Attrs attrs = {{"kernel_shape", c.kernel}, {"strides", c.strides}, {"pads", c.pads}, {"ceil_mode", c.ceil_mode}};
    auto prepared = prepare_fused_op("MaxPool", {f32(c.x, to_blocked(xv, n, ch, h * w))}, attrs, DType::kFloat32, c.y, 2,
                                     {cpu::Layout::kBlocked8}, cpu::Layout::kBlocked8);
    ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
    auto out = execute(*prepared, {f32(c.x, to_blocked(xv, n, ch, h * w))});
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    const auto got = from_blocked((*out)[0].f(), n, ch, oh * ow);
    std::vector<double> want;
    for (int64_t p = 0; p < n * ch; ++p)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double best = -std::numeric_limits<double>::infinity();
          for (int64_t u = 0; u < c.kernel[0]; ++u)
            for (int64_t v = 0; v < c.kernel[1]; ++v) {
              const int64_t ii = i * c.strides[0] - c.pads[0] + u, jj = j * c.strides[1] - c.pads[1] + v;
              if (ii >= 0 && ii < h && jj >= 0 && jj < w) best = std::max(best, double(xv[static_cast<size_t>((p * h + ii) * w + jj)]));
            }
          want.push_back(best);
        }
    expect_close(got, want, 1e-6);
  }
}

// Element (b, ch, p) of an [n, c, hw] activation in `layout`: plain, channels-last, or blocks of
// 8 or 16 channels.
size_t layout_index(cpu::Layout layout, int64_t b, int64_t ch, int64_t p, int64_t c, int64_t hw) {
  const int64_t block = cpu::channel_block(layout);
  const int64_t at = layout == cpu::Layout::kPlain          ? (b * c + ch) * hw + p
                     : layout == cpu::Layout::kChannelsLast ? (b * hw + p) * c + ch
                                                            : ((b * (c / block) + ch / block) * hw + p) * block + ch % block;
  return static_cast<size_t>(at);
}

std::vector<float> relaid(const std::vector<float>& plain, cpu::Layout layout, int64_t n, int64_t c, int64_t hw,
                          bool to_layout) {
  std::vector<float> out(plain.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p) {
        const size_t a = static_cast<size_t>((b * c + ch) * hw + p), l = layout_index(layout, b, ch, p, c, hw);
        if (to_layout) {
          out[l] = plain[a];
        } else {
          out[a] = plain[l];
        }
      }
  return out;
}

// 2-D max and average pools over a multiple of 8 channels (on AVX2 machines GroupedPoolKernel,
// 8 channels a vector, converting a plain or 16-channel-blocked input and an output wanted in
// another layout than its own) against a naive loop in double, for every pairing of layouts a
// graph gives it: ResNet's 3 x 3 stride-2 pool with padding, SqueezeNet's and GoogLeNet's
// ceil_mode windows past the end, DenseNet's 2 x 2 average, uneven pads larger than the
// stride, and averages counting the padding (not a ceil_mode window's overhang).
TEST(Pool, PoolsOnChannelGroupsInEveryLayout) {
  using cpu::Layout;
  struct Geometry {
    Dims x, kernel, strides, pads;
    int64_t ceil_mode;
  };
  const Geometry geometries[] = {
      {{2, 16, 15, 13}, {3, 3}, {2, 2}, {1, 1, 1, 1}, 0},  // ResNet's
      {{1, 16, 13, 13}, {3, 3}, {2, 2}, {0, 0, 0, 0}, 1},  // ceil_mode: the last window overhangs by 1
      {{1, 24, 8, 8}, {2, 2}, {2, 2}, {0, 0, 0, 0}, 0},    // DenseNet's transition
      {{1, 16, 6, 5}, {3, 3}, {1, 1}, {2, 0, 1, 2}, 0},    // uneven pads
      {{1, 16, 8, 8}, {3, 3}, {2, 2}, {1, 1, 1, 1}, 1},    // pads and a ceil_mode overhang
  };
  const std::pair<Layout, Layout> layouts[] = {
      {Layout::kPlain, Layout::kPlain},          {Layout::kChannelsLast, Layout::kChannelsLast},
      {Layout::kBlocked8, Layout::kBlocked8},    {Layout::kBlocked16, Layout::kBlocked16},
      {Layout::kChannelsLast, Layout::kPlain},   {Layout::kBlocked8, Layout::kPlain},
      {Layout::kPlain, Layout::kBlocked8},       {Layout::kPlain, Layout::kChannelsLast},
  };
  int checked = 0;
  for (const Geometry& g : geometries) {
    const int64_t n = g.x[0], c = g.x[1], h = g.x[2], w = g.x[3];
    auto xv = random_floats(static_cast<size_t>(count(g.x)), 47, -2.0f, 2.0f);
    for (const auto& [in, out] : layouts) {
      if (c % 16 != 0 && (in == Layout::kBlocked16 || out == Layout::kBlocked16)) continue;
      for (const char* op : {"MaxPool", "AveragePool"})
        for (int64_t include_pad : {0, 1}) {
          const bool is_max = std::string(op) == "MaxPool";
          if (is_max && include_pad) continue;
          Attrs attrs = {{"kernel_shape", g.kernel}, {"strides", g.strides}, {"pads", g.pads}, {"ceil_mode", g.ceil_mode}};
          if (!is_max) attrs["count_include_pad"] = include_pad;
          const auto extent = [&](int a) {
            const int64_t span = g.x[2 + a] + g.pads[a] + g.pads[a + 2] - g.kernel[a];
            return (g.ceil_mode ? (span + g.strides[a] - 1) / g.strides[a] : span / g.strides[a]) + 1;
          };
          const int64_t oh = extent(0), ow = extent(1);
          const Dims y = {n, c, oh, ow};
          const std::string what = std::string(op) + " include_pad " + std::to_string(include_pad) + " of " +
                                   std::to_string(h) + "x" + std::to_string(w) + ", layouts " +
                                   std::to_string(static_cast<int>(in)) + " -> " + std::to_string(static_cast<int>(out));
          auto prepared = prepare_fused_op(op, {f32(g.x, relaid(xv, in, n, c, h * w, true))}, attrs, DType::kFloat32, y,
                                           2, {in}, out);
          ASSERT_TRUE(prepared.is_ok()) << what << ": " << prepared.status().message();
          auto result = execute(*prepared, {f32(g.x, relaid(xv, in, n, c, h * w, true))});
          ASSERT_TRUE(result.is_ok()) << what << ": " << result.status().message();
          const std::vector<float> got = relaid((*result)[0].f(), out, n, c, oh * ow, false);
          std::vector<double> want;
          for (int64_t p = 0; p < n * c; ++p)
            for (int64_t i = 0; i < oh; ++i)
              for (int64_t j = 0; j < ow; ++j) {
                double best = -std::numeric_limits<double>::infinity(), sum = 0;
                int64_t inside = 0, padded = 0;
                for (int64_t u = 0; u < g.kernel[0]; ++u)
                  for (int64_t v = 0; v < g.kernel[1]; ++v) {
                    const int64_t ii = i * g.strides[0] - g.pads[0] + u, jj = j * g.strides[1] - g.pads[1] + v;
                    if (ii >= -g.pads[0] && ii < h + g.pads[2] && jj >= -g.pads[1] && jj < w + g.pads[3]) ++padded;
                    if (ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
                    const double value = xv[static_cast<size_t>((p * h + ii) * w + jj)];
                    best = std::max(best, value);
                    sum += value;
                    ++inside;
                  }
                want.push_back(is_max ? best : sum / static_cast<double>(include_pad ? padded : inside));
              }
          SCOPED_TRACE(what);
          expect_close(got, want, 1e-5);
          ++checked;
        }
    }
  }
  EXPECT_EQ(checked, 4 * 8 * 3 + 7 * 3);  // the 24-channel geometry in no 16-channel block
}

TEST(Pool, GlobalAveragePool) {
  Dims x = {2, 3, 5, 7};
  auto xv = random_floats(static_cast<size_t>(count(x)), 51);
  auto r = run_op("GlobalAveragePool", {f32(x, xv)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ((*r)[0].dims, (Dims{2, 3, 1, 1}));
  std::vector<double> want;
  for (int64_t p = 0; p < 6; ++p) {
    double s = 0;
    for (int64_t i = 0; i < 35; ++i) s += xv[static_cast<size_t>(p * 35 + i)];
    want.push_back(s / 35);
  }
  expect_close((*r)[0].f(), want, 1e-5);
}

}  // namespace
}  // namespace lw::test
