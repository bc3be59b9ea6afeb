// nChw8c (channels in blocks of 8, the block innermost) and NHWC (channels-last) to and from
// plain NCHW, for tests that feed kernels such activations. nChw8c: channels a multiple of 8.
#pragma once

#include <cstdint>
#include <vector>

namespace lw::test {

// [n, c, hw] -> [n, c / 8, hw, 8]
inline std::vector<float> to_blocked(const std::vector<float>& v, int64_t n, int64_t c, int64_t hw) {
  std::vector<float> out(v.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p)
        out[static_cast<size_t>(((b * (c / 8) + ch / 8) * hw + p) * 8 + ch % 8)] =
            v[static_cast<size_t>((b * c + ch) * hw + p)];
  return out;
}

// [n, c / 8, hw, 8] -> [n, c, hw]
inline std::vector<float> from_blocked(const std::vector<float>& v, int64_t n, int64_t c, int64_t hw) {
  std::vector<float> out(v.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p)
        out[static_cast<size_t>((b * c + ch) * hw + p)] =
            v[static_cast<size_t>(((b * (c / 8) + ch / 8) * hw + p) * 8 + ch % 8)];
  return out;
}

// [n, c, hw] -> [n, hw, c]
inline std::vector<float> to_nhwc(const std::vector<float>& v, int64_t n, int64_t c, int64_t hw) {
  std::vector<float> out(v.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p)
        out[static_cast<size_t>((b * hw + p) * c + ch)] = v[static_cast<size_t>((b * c + ch) * hw + p)];
  return out;
}

// [n, hw, c] -> [n, c, hw]
inline std::vector<float> from_nhwc(const std::vector<float>& v, int64_t n, int64_t c, int64_t hw) {
  std::vector<float> out(v.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p)
        out[static_cast<size_t>((b * c + ch) * hw + p)] = v[static_cast<size_t>((b * hw + p) * c + ch)];
  return out;
}

}  // namespace lw::test
