// A copy of a convolution's input padded left and right, channels-last, one input row at a time:
// the A operand of the kernels that run a kernel row as one tap over consecutive positions
// (nhwc_conv.h's padded mode, blocked_plain_conv.h). Header-only.
#pragma once

#include <cstdint>
#include <cstring>

namespace lw::cpu {

// Writes input row `row` (image row / in_h, row row % in_h) of x (NCHW when `nchw`, else
// channels-last) to dst as pad_left zero positions, its in_w positions of c channels, and
// pad_right zero positions.
inline void copy_padded_row(const float* x, bool nchw, int64_t row, int64_t c, int64_t in_h, int64_t in_w,
                            int64_t pad_left, int64_t pad_right, float* dst) {
  std::memset(dst, 0, static_cast<size_t>(pad_left * c) * sizeof(float));
  std::memset(dst + (pad_left + in_w) * c, 0, static_cast<size_t>(pad_right * c) * sizeof(float));
  float* inner = dst + pad_left * c;
  if (!nchw) {
    std::memcpy(inner, x + row * in_w * c, static_cast<size_t>(in_w * c) * sizeof(float));
    return;
  }
  const int64_t n = row / in_h, ih = row % in_h, plane = in_h * in_w;
  const float* first = x + (n * c * in_h + ih) * in_w;  // channel 0's row; channel ch's plane floats on
  if (c == 3) {  // an image: position by position, which the compiler interleaves in vectors
    const float *r = first, *g = first + plane, *b = first + 2 * plane;
    for (int64_t iw = 0; iw < in_w; ++iw) {
      inner[3 * iw] = r[iw];
      inner[3 * iw + 1] = g[iw];
      inner[3 * iw + 2] = b[iw];
    }
    return;
  }
  for (int64_t ch = 0; ch < c; ++ch) {
    const float* plane_row = first + ch * plane;
    for (int64_t iw = 0; iw < in_w; ++iw) inner[iw * c + ch] = plane_row[iw];
  }
}

}  // namespace lw::cpu
