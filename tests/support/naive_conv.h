// A reference 2-D convolution for tests: square NCHW input (batch 1), square kernel, stride 1,
// "same" zero padding, accumulated in double.
#pragma once

#include <cstdint>
#include <vector>

namespace lw::test {

// y[m, h, h] = b + conv(x[c, h, h], w[m, c / groups, k, k]) in `groups` groups, with pad k/2;
// `b` may be empty (no bias).
inline std::vector<float> naive_conv(const std::vector<float>& x, const std::vector<float>& w,
                                     const std::vector<float>& b, int64_t c, int64_t m, int64_t h, int64_t k,
                                     int64_t groups = 1) {
  std::vector<float> y(static_cast<size_t>(m * h * h));
  const int64_t pad = k / 2, in_per = c / groups, out_per = m / groups;
  for (int64_t o = 0; o < m; ++o)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < h; ++j) {
        double acc = b.empty() ? 0.0 : b[static_cast<size_t>(o)];
        for (int64_t cg = 0; cg < in_per; ++cg)
          for (int64_t u = 0; u < k; ++u)
            for (int64_t v = 0; v < k; ++v) {
              const int64_t ci = o / out_per * in_per + cg, ii = i + u - pad, jj = j + v - pad;
              if (ii < 0 || jj < 0 || ii >= h || jj >= h) continue;
              acc += double(x[static_cast<size_t>((ci * h + ii) * h + jj)]) *
                     w[static_cast<size_t>(((o * in_per + cg) * k + u) * k + v)];
            }
        y[static_cast<size_t>((o * h + i) * h + j)] = static_cast<float>(acc);
      }
  return y;
}

}  // namespace lw::test
