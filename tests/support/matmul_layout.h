// The layout oneDNN's matmul prefers for a float32 B [k, n] against a plain A [m, k] on this
// machine (blocked on AVX-512, plain on AVX2): tests that expect a weight packed, held as given
// or taken by liveweight's own AVX2 kernels decide by it.
#pragma once

#include <cstdint>

#include "backends/cpu/dnnl_util.h"

namespace lw::test {

inline dnnl::memory::desc preferred_matmul_b(int64_t m, int64_t k, int64_t n) {
  using fmt = dnnl::memory::format_tag;
  const auto f32 = dnnl::memory::data_type::f32;
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(dnnl::memory::desc({m, k}, f32, fmt::ab),
                                                         dnnl::memory::desc({k, n}, f32, fmt::any),
                                                         dnnl::memory::desc({m, n}, f32, fmt::ab)),
                                      cpu::dnnl_cpu_engine())
      .weights_desc();
}

// Whether that layout has blocks (oneDNN then packs B for its own kernel).
inline bool matmul_prefers_blocked_b(int64_t m, int64_t k, int64_t n) {
  return preferred_matmul_b(m, k, n).data.format_desc.blocking.inner_nblks > 0;
}

}  // namespace lw::test
