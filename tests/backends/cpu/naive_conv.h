// What the tests of liveweight's convolution kernels compare against: a naive 2-D convolution in
// double, and the arithmetic of a fused epilogue for calls to a kernel itself.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/kernel_harness.h"

namespace lw::test {

// A 2-D convolution's geometry (pads top, left, bottom, right; one stride both ways).
struct NaiveConv2d {
  int64_t batch, in_channels, out_channels, h, w, kernel_h, kernel_w, stride, pad_top, pad_left, pad_bottom, pad_right;
  int64_t group = 1;
  int64_t out_h() const { return (h + pad_top + pad_bottom - kernel_h) / stride + 1; }
  int64_t out_w() const { return (w + pad_left + pad_right - kernel_w) / stride + 1; }
};

// The geometry in words, for failure messages.
inline std::string conv_name(const NaiveConv2d& s) {
  return "batch " + std::to_string(s.batch) + " " + std::to_string(s.in_channels) + "->" +
         std::to_string(s.out_channels) + " group " + std::to_string(s.group) + " " + std::to_string(s.h) + "x" +
         std::to_string(s.w) + " kernel " + std::to_string(s.kernel_h) + "x" + std::to_string(s.kernel_w) + " stride " +
         std::to_string(s.stride) + " pads " + std::to_string(s.pad_top) + "," + std::to_string(s.pad_left) + "," +
         std::to_string(s.pad_bottom) + "," + std::to_string(s.pad_right);
}

// The convolution's sums (NCHW, no bias) of x (NCHW) and w ([out, in / group, kh, kw]).
inline std::vector<double> naive_conv_sums(const NaiveConv2d& s, const std::vector<float>& x,
                                           const std::vector<float>& w) {
  const int64_t oh = s.out_h(), ow = s.out_w(), in_per = s.in_channels / s.group, out_per = s.out_channels / s.group;
  std::vector<double> sums(static_cast<size_t>(s.batch * s.out_channels * oh * ow));
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t o = 0; o < s.out_channels; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = 0;
          for (int64_t cg = 0; cg < in_per; ++cg) {
            const int64_t c = o / out_per * in_per + cg;
            for (int64_t ki = 0; ki < s.kernel_h; ++ki)
              for (int64_t kj = 0; kj < s.kernel_w; ++kj) {
                const int64_t ih = i * s.stride + ki - s.pad_top, iw = j * s.stride + kj - s.pad_left;
                if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
                acc += double(w[static_cast<size_t>(((o * in_per + cg) * s.kernel_h + ki) * s.kernel_w + kj)]) *
                       x[static_cast<size_t>(((n * s.in_channels + c) * s.h + ih) * s.w + iw)];
              }
          }
          sums[static_cast<size_t>(((n * s.out_channels + o) * oh + i) * ow + j)] = acc;
        }
  return sums;
}

// w (plain, `dims`) packed into the kernel's layout `packed` (empty when packing fails, which
// the caller checks: a kernel never gets fewer bytes than its layout holds).
inline std::vector<float> packed_weights(const std::vector<float>& w, const Dims& dims,
                                         const dnnl::memory::desc& packed) {
  auto packing = cpu::make_weight_packing(cpu::plain_desc(dims), packed);
  std::vector<float> out(packing->bytes / sizeof(float) + 1);
  if (!packing->pack(w.data(), out.data(), StoreMode::kCached).is_ok()) out.clear();
  return out;
}

// A fused epilogue for a kernel called directly: a bias, a BatchNorm's multiply and add, a
// residual (random, NCHW) and Relu.
struct KernelEpilogue {
  KernelEpilogue(int64_t channels, int64_t out_elements)
      : bias(random_floats(static_cast<size_t>(channels), 3)),
        mul(random_floats(static_cast<size_t>(channels), 4, -1.5f, 1.5f)),
        add(random_floats(static_cast<size_t>(channels), 5)),
        residual(random_floats(static_cast<size_t>(out_elements), 6, -2.0f, 2.0f)) {}

  // The kernel's operands, the residual given in the output's layout.
  cpu::GemmEpilogue operands(const float* residual_in_layout) const {
    cpu::GemmEpilogue e;
    e.bias = bias.data();
    e.mul = mul.data();
    e.add = add.data();
    e.residual = residual_in_layout;
    e.lo = 0.0f;
    return e;
  }
  // The output at NCHW element `at` of channel `ch` from the convolution's sum.
  double want(double sum, int64_t ch, size_t at) const {
    const auto c = static_cast<size_t>(ch);
    return std::max((sum + bias[c]) * mul[c] + add[c] + residual[at], 0.0);
  }

  std::vector<float> bias, mul, add, residual;
};

}  // namespace lw::test
